"""Real OTLP receivers for tests: gRPC and HTTP/protobuf, collecting what the exporters send.

Built on ``opentelemetry-proto``'s messages and service stubs (grpcio comes with the OTLP
exporter). What arrives is kept raw (for byte-level canary searches) and decoded into plain
dicts (for whole-structure asserts).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

from ._http import QuietHandler, ServerContext, TrackingHTTPServer
from .openbao import free_port

_SIGNALS = ("traces", "metrics", "logs")


class OTLPReceiver(ServerContext):
    """Receive OTLP on gRPC (``grpc_endpoint``) and HTTP/protobuf (``http_endpoint``).

    ``stop()`` closes both listeners (a collector that is down); ``start()`` brings them back
    on the same ports.
    """

    def __init__(self) -> None:
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.grpc_endpoint = f"http://127.0.0.1:{self.grpc_port}"
        self.http_endpoint = f"http://127.0.0.1:{self.http_port}"
        self.received: list[tuple[str, str, bytes]] = []
        """(protocol, signal, raw request bytes), in arrival order."""
        self._lock = threading.Lock()
        self._grpc: Any = None
        self._http: _Server | None = None
        self._http_thread: threading.Thread | None = None

    def start(self) -> OTLPReceiver:
        """Listen on both ports."""
        self._grpc = self._grpc_server()
        self._grpc.start()
        self._http = _Server(("127.0.0.1", self.http_port), self)
        self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._http_thread.start()
        return self

    def stop(self) -> None:
        """Close both listeners and every open connection."""
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait()
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.cut_connections()
            self._http.server_close()
            self._http = None

    def record(self, protocol: str, signal: str, payload: bytes) -> None:
        """Keep one received request."""
        with self._lock:
            self.received.append((protocol, signal, payload))

    def raw(self) -> list[bytes]:
        """Return every request body received, as bytes."""
        with self._lock:
            return [payload for _, _, payload in self.received]

    def clear(self) -> None:
        """Forget everything received."""
        with self._lock:
            self.received.clear()

    def spans(self) -> list[dict[str, Any]]:
        """Return every span received, decoded."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        spans = []
        for message in self._messages("traces", ExportTraceServiceRequest):
            for resource_spans in message.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        spans.append(
                            {
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex() or None,
                                "kind": span.kind,
                                "status": {
                                    "code": span.status.code,
                                    "message": span.status.message,
                                },
                                "attributes": _attributes(span.attributes),
                                "events": [
                                    {"name": e.name, "attributes": _attributes(e.attributes)}
                                    for e in span.events
                                ],
                                "scope": scope_spans.scope.name,
                                "resource": resource,
                            }
                        )
        return spans

    def metrics(self) -> list[dict[str, Any]]:
        """Return every metric data point received: name, unit, attributes and value."""
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
        )

        points = []
        for message in self._messages("metrics", ExportMetricsServiceRequest):
            for resource_metrics in message.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        kind = metric.WhichOneof("data")
                        for point in getattr(metric, kind).data_points:
                            value = (
                                point.count
                                if kind == "histogram"
                                else point.as_double or point.as_int
                            )
                            points.append(
                                {
                                    "name": metric.name,
                                    "unit": metric.unit,
                                    "kind": kind,
                                    "attributes": _attributes(point.attributes),
                                    "value": value,
                                }
                            )
        return points

    def logs(self) -> list[dict[str, Any]]:
        """Return every log record received, decoded."""
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
        )

        records = []
        for message in self._messages("logs", ExportLogsServiceRequest):
            for resource_logs in message.resource_logs:
                for scope_logs in resource_logs.scope_logs:
                    for record in scope_logs.log_records:
                        records.append(
                            {
                                "event_name": record.event_name,
                                "body": _value(record.body),
                                "severity_text": record.severity_text,
                                "severity_number": record.severity_number,
                                "time_unix_nano": record.time_unix_nano,
                                "observed_time_unix_nano": record.observed_time_unix_nano,
                                "attributes": _attributes(record.attributes),
                                "resource": _attributes(resource_logs.resource.attributes),
                                "scope": scope_logs.scope.name,
                                "trace_id": record.trace_id.hex() or None,
                                "span_id": record.span_id.hex() or None,
                            }
                        )
        return records

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Poll ``condition`` until true or ``timeout`` seconds; return its last value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return condition()

    def _messages(self, signal: str, message_type: Any) -> list[Any]:  # noqa: ANN401
        with self._lock:
            payloads = [payload for _, kind, payload in self.received if kind == signal]
        return [message_type.FromString(payload) for payload in payloads]

    def _grpc_server(self) -> Any:  # noqa: ANN401
        import grpc
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
        from opentelemetry.proto.collector.metrics.v1 import (
            metrics_service_pb2,
            metrics_service_pb2_grpc,
        )
        from opentelemetry.proto.collector.trace.v1 import (
            trace_service_pb2,
            trace_service_pb2_grpc,
        )

        receiver = self

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401, ARG002
                receiver.record("grpc", "traces", request.SerializeToString())
                return trace_service_pb2.ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401, ARG002
                receiver.record("grpc", "metrics", request.SerializeToString())
                return metrics_service_pb2.ExportMetricsServiceResponse()

        class Logs(logs_service_pb2_grpc.LogsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:  # noqa: N802, ANN401, ARG002
                receiver.record("grpc", "logs", request.SerializeToString())
                return logs_service_pb2.ExportLogsServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(  # type: ignore[no-untyped-call]
            Traces(), server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            Metrics(), server
        )
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            Logs(), server
        )
        server.add_insecure_port(f"127.0.0.1:{self.grpc_port}")
        return server


class _Server(TrackingHTTPServer):
    def __init__(self, address: tuple[str, int], receiver: OTLPReceiver) -> None:
        self.receiver = receiver
        super().__init__(address, _Handler)


class _Handler(QuietHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server dispatches on this name
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            payload = gzip.decompress(payload)
        signal = self.path.rstrip("/").rsplit("/", 1)[-1]
        if self.path.startswith("/v1/") and signal in _SIGNALS:
            self.server.receiver.record("http", signal, payload)
            self.send_response(200)
        else:
            self.send_response(404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


def _attributes(pairs: Any) -> dict[str, Any]:  # noqa: ANN401 - repeated KeyValue
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: Any) -> Any:  # noqa: ANN401 - AnyValue
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, kind)
