"""Capture audit events and telemetry in memory, in the test's own process.

:func:`capture_audit_events` yields the list of every audit event recorded by the managers
built inside it (or passed to it), as structlog's ``capture_logs`` does for log entries;
:func:`capture_telemetry` yields in-memory span, metric and log exporters from the OTel SDK,
as a :class:`~abstractcore_secrets.telemetry._setup.Telemetry` to build managers with. No
child process, no receiver: the providers are the test's own, never the global ones.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .._manager import SecretsManager
from ..audit import AuditMiddleware, SimpleSinkProcessor
from ..audit._middleware import _ON_BUILD
from ..redaction import RedactionPolicy

if TYPE_CHECKING:
    from opentelemetry._logs import LogRecord
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ..audit import AuditEvent
    from ..telemetry._setup import Telemetry

__all__ = ["CapturedTelemetry", "MemorySink", "capture_audit_events", "capture_telemetry"]


class MemorySink:
    """An audit sink that keeps a copy of every event, in order, for assertions.

    Args:
        name: Labels the ``audit.records`` counter; default the class's ``name``.
    """

    name = "memory"
    durable = False

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            self.name = name
        self.events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: AuditEvent) -> None:
        """Keep a copy of the event, as the sinks received it (scrubbed)."""
        kept = copy.deepcopy(event)
        with self._lock:
            self.events.append(kept)

    def listening(self) -> bool:
        """Always: a capture wants every event built."""
        return True

    def flush(self, timeout: float | None = None) -> bool:  # noqa: ARG002 - nothing buffered
        """Nothing is buffered."""
        return True

    def close(self) -> None:
        """Nothing to release; the events stay readable."""


@contextmanager
def capture_audit_events(
    *targets: SecretsManager | AuditMiddleware,
) -> Iterator[list[AuditEvent]]:
    """Collect the audit events of the managers built inside the block, and of ``targets``.

    The events arrive as every sink receives them (pseudonymised, scrubbed), synchronously:
    the list is complete as soon as a resolution returns, whatever the other sinks' queues.

    Args:
        targets: Managers (or audit layers) built before the block to capture too.

    Yields:
        The list that receives the events, in order.

    Example::

        with capture_audit_events() as events:
            build_secrets_manager(settings).resolve("openai")
        assert [e["event"] for e in events] == ["secret.resolved"]
    """
    sink = MemorySink("capture")
    processor = SimpleSinkProcessor(sink)
    attached: list[AuditMiddleware] = []
    lock = threading.Lock()

    def attach(audit: AuditMiddleware) -> None:
        with lock:
            audit.add_sink_processor(processor)
            attached.append(audit)

    for target in targets:
        for audit in _audit_layers(target):
            attach(audit)
    _ON_BUILD.append(attach)
    try:
        yield sink.events
    finally:
        _ON_BUILD.remove(attach)
        with lock:
            for audit in attached:
                audit.remove_sink_processor(processor)


def _audit_layers(target: SecretsManager | AuditMiddleware) -> list[AuditMiddleware]:
    if isinstance(target, AuditMiddleware):
        return [target]
    return [layer for layer in target.middleware if isinstance(layer, AuditMiddleware)]


class CapturedTelemetry:
    """What :func:`capture_telemetry` yields: the providers and what they received.

    Attributes:
        telemetry: Hand it to ``build_secrets_manager(telemetry=...)``, or its providers to
            ``middleware_stacks()``.
        span_exporter: The in-memory span exporter (behind the redacting exporter).
        metric_reader: The in-memory metric reader.
        log_exporter: The in-memory log record exporter (behind the redacting processor).
    """

    def __init__(
        self,
        telemetry: Telemetry,
        span_exporter: InMemorySpanExporter,
        metric_reader: InMemoryMetricReader,
        log_exporter: InMemoryLogRecordExporter,
    ) -> None:
        self.telemetry = telemetry
        self.span_exporter = span_exporter
        self.metric_reader = metric_reader
        self.log_exporter = log_exporter
        self._audits: list[AuditMiddleware] = []

    def flush(self, timeout: float = 5.0) -> None:
        """Deliver the audit events queued by the managers built inside the capture."""
        for audit in list(self._audits):
            audit.flush(timeout)

    def spans(self) -> list[ReadableSpan]:
        """Return the finished spans, as exported (redacted), oldest first."""
        return list(self.span_exporter.get_finished_spans())

    def logs(self) -> list[LogRecord]:
        """Return the log records, as exported (audit events included, once delivered)."""
        self.flush()
        return [record.log_record for record in self.log_exporter.get_finished_logs()]

    def metrics(self) -> dict[str, list[Any]]:
        """Return every metric's data points by metric name (cumulative, read now)."""
        points: dict[str, list[Any]] = {}
        data = self.metric_reader.get_metrics_data()
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
        return points


@contextmanager
def capture_telemetry(
    service_name: str = "test", *, policy: RedactionPolicy | None = None
) -> Iterator[CapturedTelemetry]:
    """Record spans, metrics and log records in memory, through the redaction of export.

    The providers are new ones, not the global ones (which can be set once per process):
    managers see them when built with the yielded ``telemetry``. Spans and logs pass the
    same redaction as :func:`~abstractcore_secrets.telemetry._setup.configure_telemetry`'s
    exports, so a test reads what would leave the process.

    Args:
        service_name: The resource's ``service.name`` and the audit events'.
        policy: The redaction policy; default a fresh one (the manager teaches it values).

    Yields:
        The providers and what they received; they are shut down at the block's end.
    """
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ..telemetry._setup import RedactingLogProcessor, RedactingSpanExporter, Telemetry

    policy = policy or RedactionPolicy()
    resource = Resource.create({"service.name": service_name})
    span_exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(RedactingSpanExporter(span_exporter, policy))
    )
    metric_reader = InMemoryMetricReader()
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[metric_reader], shutdown_on_exit=False
    )
    log_exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    logger_provider.add_log_record_processor(RedactingLogProcessor(policy))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    telemetry = Telemetry(
        policy,
        service_name,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
    )
    captured = CapturedTelemetry(telemetry, span_exporter, metric_reader, log_exporter)
    track = captured._audits.append
    _ON_BUILD.append(track)
    try:
        yield captured
    finally:
        _ON_BUILD.remove(track)
        captured.flush()
        for provider in (tracer_provider, meter_provider, logger_provider):
            provider.shutdown()
