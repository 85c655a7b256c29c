"""An application that leaks keys into its own telemetry, bypassing the library's scrubbing.

It sets up the OpenTelemetry SDK itself (no ``configure_telemetry``, so none of our
exporter wrappers) and sends, to ``OTEL_EXPORTER_OTLP_ENDPOINT`` over OTLP/gRPC, the
leaked keys given as a JSON list in ``APP_LEAKS``: in span attributes (one the collector
allows, one it does not), in a log record's body and attributes (dressed as an audit event,
so that it reaches the audit archive too), and in metric attributes. The collector must
take every one of them out.
"""

from __future__ import annotations

import json
import os

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def main() -> None:
    """Send every leak once on each signal, then flush."""
    leaks: list[str] = json.loads(os.environ["APP_LEAKS"])
    endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    resource = Resource.create({"service.name": "misbehaving-app"})

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True))
    )
    tracer = tracer_provider.get_tracer("abstractcore_secrets")

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True))
    )
    logger = logger_provider.get_logger("abstractcore_secrets")

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    counter = meter_provider.get_meter("abstractcore_secrets").create_counter(
        "abstractcore.secrets.audit.records"
    )

    for leak in leaks:
        with tracer.start_as_current_span(
            "secrets.resolve",
            attributes={"secrets.locator": f"vault:{leak}", "app.note": leak},
        ) as span:
            span.add_event("exception", {"exception.message": f"failed with {leak}"})
            logger.emit(
                event_name="secret.resolved",
                body=f"resolved with {leak}",
                attributes={"error.message": f"key {leak}", "app.debug": leak},
            )
        counter.add(1, {"sink": leak, "app.label": leak})

    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True)
    data = reader.get_metrics_data()
    assert data is not None
    exporter.export(data)
    exporter.shutdown()
    tracer_provider.shutdown()
    logger_provider.shutdown()
    meter_provider.shutdown()


if __name__ == "__main__":
    main()
