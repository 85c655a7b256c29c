"""OpenTelemetry SDK and OTLP export setup: the one module that imports the SDK.

``configure_telemetry()`` honours the standard variables: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` (and the per-signal ones),
``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc`` or ``http/protobuf``), ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_EXPORTER_OTLP_TIMEOUT``, ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` /
``OTEL_LOGS_EXPORTER`` (``otlp``, ``console`` or ``none``), ``OTEL_METRIC_EXPORT_INTERVAL`` and
the batch processors' ``OTEL_BSP_*`` / ``OTEL_BLRP_*``. Exports run in background threads
with bounded queues: a collector that is down or slow never blocks a resolution; what does
not fit is dropped. Everything is flushed at exit.

Audit records skip the SDK's log queue: the logger provider set up here offers
:meth:`DirectExportLoggerProvider.direct_export`, through which the audit's batching sink
processor exports them from its own bounded, counted queue (docs/telemetry.md, "Audit
back-pressure").

Where the application already set a global SDK provider, it is used as it is and nothing
is replaced.
"""

from __future__ import annotations

import atexit
import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import _logs, context, metrics, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk._logs import (
    Logger,
    LoggerProvider,
    LogRecordLimits,
    LogRecordProcessor,
    ReadableLogRecord,
    ReadWriteLogRecord,
)
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Status

from .. import envvars
from .. import semconv as names
from .._otel import meter
from ..errors import ConfigurationError
from ..redaction import RedactionPolicy, default_policy
from ..redaction._processors import install_logging_redaction

if TYPE_CHECKING:
    from ..middleware import AttemptMiddleware, Middleware
    from ..resilience import Resilience

_PROTOCOLS = ("grpc", "http/protobuf")
EXIT_TIMEOUT = envvars.TELEMETRY_EXIT_TIMEOUT
_CREDENTIAL_VARIABLES = (
    "VAULT_TOKEN",
    "VAULT_SECRET_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_SECRET",
)


@dataclass
class Telemetry:
    """The SDK providers :func:`configure_telemetry` set up, with the policy they redact by.

    Hand it to :func:`~abstractcore_secrets.assembly.build_secrets_manager` (``telemetry=``),
    which builds the layers that feed these providers.
    """

    policy: RedactionPolicy
    service_name: str | None = None
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    owned: list[Any] = field(default_factory=list)

    def middleware(
        self,
        *,
        resilience: Resilience | None = None,
        audit: Middleware | None = None,
        pseudonymize: bool = False,
    ) -> tuple[list[Middleware], list[AttemptMiddleware]]:
        """Return the observability layers feeding these providers, outermost first.

        Deprecated: use :func:`~abstractcore_secrets.assembly.build_secrets_manager` with
        ``telemetry=``, or :func:`~abstractcore_secrets.assembly.middleware_stacks`. As before,
        ``resilience`` is only measured (its circuit breakers), not placed in the stacks.
        """
        # The one import of the assembly from below it: this shim delegates to it.
        from ..assembly import middleware_stacks

        return middleware_stacks(
            self.policy,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            audit=audit,
            service_name=self.service_name,
            pseudonymize=pseudonymize,
            circuits=resilience,
        )

    def force_flush(self, timeout_millis: int = 5000) -> None:
        """Export everything queued now, the providers together, within ``timeout_millis``."""
        _in_parallel(
            [functools.partial(p.force_flush, timeout_millis) for p in self.owned],
            timeout_millis / 1000,
        )

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush and stop the providers this call created, all at once, within ``timeout``.

        The SDK would shut them down one after another, each waiting up to the exporter
        timeout for a collector that is down; here they wait together, and the exit is
        bounded by ``timeout`` (default ``$ABSTRACTCORE_SECRETS_TELEMETRY_EXIT_TIMEOUT``,
        else 5 s). What could not be exported by then is dropped.
        """
        if timeout is None:
            timeout = float(os.environ.get(EXIT_TIMEOUT, "5"))
        owned, self.owned = self.owned, []
        _in_parallel([provider.shutdown for provider in owned], timeout)


def _in_parallel(calls: Sequence[Callable[[], object]], timeout: float) -> None:
    """Run ``calls`` in daemon threads; return when all are done or ``timeout`` has passed."""
    threads = [threading.Thread(target=call, daemon=True) for call in calls]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def configure_telemetry(
    service_name: str | None = None,
    *,
    protocol: str | None = None,
    endpoint: str | None = None,
    policy: RedactionPolicy | None = None,
    metric_interval_millis: int | None = None,
) -> Telemetry:
    """Set up traces, metrics and logs export over OTLP, with redaction before export.

    Args:
        service_name: ``service.name``; default ``$OTEL_SERVICE_NAME``.
        protocol: ``grpc`` or ``http/protobuf``; default ``$OTEL_EXPORTER_OTLP_PROTOCOL``,
            else ``http/protobuf``.
        endpoint: Collector base URL; default the exporters' own (from ``OTEL_*``).
        policy: The redaction policy; default the process-wide one, which also learns the
            credentials found in the environment.
        metric_interval_millis: Metric export interval; default
            ``$OTEL_METRIC_EXPORT_INTERVAL``, else 60 s.

    Raises:
        ConfigurationError: An unknown protocol or exporter name.
    """
    policy = policy or default_policy()
    policy.add(*(os.environ.get(name) for name in _CREDENTIAL_VARIABLES))
    protocol = protocol or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    if protocol not in _PROTOCOLS:
        raise ConfigurationError(f"OTLP protocol {protocol!r} is not one of {_PROTOCOLS}")
    attributes = {"service.name": service_name} if service_name else {}
    resource = Resource.create(attributes)
    telemetry = Telemetry(policy, str(resource.attributes.get("service.name", "unknown")))
    telemetry.tracer_provider = _tracer_provider(telemetry, resource, protocol, endpoint)
    telemetry.meter_provider = _meter_provider(
        telemetry, resource, protocol, endpoint, metric_interval_millis
    )
    telemetry.logger_provider = _logger_provider(telemetry, resource, protocol, endpoint)
    redactions = meter(telemetry.meter_provider).create_counter(
        names.REDACTIONS, unit="{redaction}", description="Redactions by rule."
    )
    policy.on_redact = lambda rule: redactions.add(1, {names.RULE: rule})
    install_logging_redaction(policy)
    atexit.register(telemetry.shutdown)
    return telemetry


def _exporter_choices(signal: str) -> list[str]:
    """Return the exporters ``OTEL_<SIGNAL>_EXPORTER`` names (a comma-separated list)."""
    variable = f"OTEL_{signal.upper()}_EXPORTER"
    choices = [c.strip() for c in os.environ.get(variable, "otlp").split(",") if c.strip()]
    unknown = [c for c in choices if c not in ("otlp", "console", "none")]
    if unknown:
        raise ConfigurationError(
            f"{variable} names {unknown}: configure_telemetry() supports otlp, console and "
            "none; for others (prometheus, ...) set up the SDK yourself, and pass its "
            "providers to abstractcore_secrets.assembly.middleware_stacks()"
        )
    return [c for c in choices if c != "none"]


def _exporters(signal: str, protocol: str, endpoint: str | None, console: Any) -> list[Any]:  # noqa: ANN401
    return [
        console() if choice == "console" else _otlp_exporter(signal, protocol, endpoint)
        for choice in _exporter_choices(signal)
    ]


def _otlp_exporter(signal: str, protocol: str, endpoint: str | None) -> Any:  # noqa: ANN401
    kind = {"traces": "trace_exporter", "metrics": "metric_exporter", "logs": "_log_exporter"}
    cls = {
        "traces": "OTLPSpanExporter",
        "metrics": "OTLPMetricExporter",
        "logs": "OTLPLogExporter",
    }[signal]
    package = "grpc" if protocol == "grpc" else "http"
    module = __import__(
        f"opentelemetry.exporter.otlp.proto.{package}.{kind[signal]}", fromlist=[cls]
    )
    if endpoint is None:
        return getattr(module, cls)()
    url = endpoint if package == "grpc" else f"{endpoint.rstrip('/')}/v1/{signal}"
    return getattr(module, cls)(endpoint=url)


def _tracer_provider(
    telemetry: Telemetry, resource: Resource, protocol: str, endpoint: str | None
) -> Any:  # noqa: ANN401
    existing = trace.get_tracer_provider()
    if isinstance(existing, TracerProvider):
        return existing  # the application's own: used as it is
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for exporter in _exporters("traces", protocol, endpoint, ConsoleSpanExporter):
        provider.add_span_processor(
            BatchSpanProcessor(RedactingSpanExporter(exporter, telemetry.policy))
        )
    trace.set_tracer_provider(provider)
    telemetry.owned.append(provider)
    return provider


def _meter_provider(
    telemetry: Telemetry,
    resource: Resource,
    protocol: str,
    endpoint: str | None,
    interval: int | None,
) -> Any:  # noqa: ANN401
    existing = metrics.get_meter_provider()
    if isinstance(existing, MeterProvider):
        return existing
    readers = []
    interval = interval or int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "60000"))
    for exporter in _exporters("metrics", protocol, endpoint, ConsoleMetricExporter):
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=interval))
    provider = MeterProvider(resource=resource, metric_readers=readers, shutdown_on_exit=False)
    metrics.set_meter_provider(provider)
    telemetry.owned.append(provider)
    return provider


def _logger_provider(
    telemetry: Telemetry, resource: Resource, protocol: str, endpoint: str | None
) -> Any:  # noqa: ANN401
    existing = _logs.get_logger_provider()
    if isinstance(existing, LoggerProvider):
        return existing
    exporters = _exporters("logs", protocol, endpoint, ConsoleLogRecordExporter)
    # The audit's own: its export never waits behind (or shares a connection with) the SDK's.
    provider = DirectExportLoggerProvider(
        resource, _exporters("logs", protocol, endpoint, ConsoleLogRecordExporter)
    )
    if exporters:
        provider.add_log_record_processor(RedactingLogProcessor(telemetry.policy))
    for exporter in exporters:
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    _logs.set_logger_provider(provider)
    telemetry.owned.append(provider)
    return provider


class DirectExportLoggerProvider(LoggerProvider):
    """The SDK's logger provider, with a way out for records a caller queues itself.

    Records emitted through the logs API take the SDK's way: the provider's processors
    (redaction, then a ``BatchLogRecordProcessor`` whose queue drops its oldest records
    when full, uncounted). :meth:`direct_export` gives a caller that has its own bounded,
    counted queue and thread (the audit's ``BatchingSinkProcessor``) a function that
    exports a batch now, through exporters of its own: the records are made as the SDK's
    logger makes them (resource, scope, attribute limits), then skip the processors.

    Args:
        resource: The resource of every record.
        exporters: Where :meth:`direct_export` sends batches; shut down with the provider.
        log_record_limits: Attribute limits; default the SDK's (``OTEL_*_LIMIT``).
    """

    def __init__(
        self,
        resource: Resource,
        exporters: Sequence[LogRecordExporter],
        *,
        log_record_limits: LogRecordLimits | None = None,
    ) -> None:
        self._limits = log_record_limits or LogRecordLimits()
        super().__init__(resource=resource, shutdown_on_exit=False, log_record_limits=self._limits)
        self._direct_exporters = list(exporters)
        self._direct_lock = threading.Lock()

    def direct_export(
        self, name: str, version: str | None = None
    ) -> Callable[[Sequence[_logs.LogRecord]], bool] | None:
        """Return a function exporting log records of the scope ``name`` now, in its caller's
        thread, and telling whether every exporter took them (after the exporters' own
        retries); ``None`` when there is nowhere to export (``OTEL_LOGS_EXPORTER=none``,
        ``OTEL_SDK_DISABLED``).
        """
        logger = self.get_logger(name, version)
        if not isinstance(logger, Logger) or not self._direct_exporters:
            return None
        return functools.partial(self._export, logger)

    def _export(self, logger: Logger, records: Sequence[_logs.LogRecord]) -> bool:
        resource, scope = logger.resource, logger.instrumentation_scope
        batch = []
        for record in records:
            # As Logger.emit, then BatchLogRecordProcessor.on_emit, shape the record.
            writable = ReadWriteLogRecord(record, resource, scope, self._limits)
            writable.log_record.context = context.Context()  # not exported; not kept either
            batch.append(ReadableLogRecord(writable.log_record, resource, scope, self._limits))
        # As the SDK's batch processor: the export's own HTTP or gRPC calls are not traced.
        token = context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            with self._direct_lock:
                results = [_export_to(exporter, batch) for exporter in self._direct_exporters]
        finally:
            context.detach(token)
        return all(results)

    def shutdown(self) -> None:
        """Shut the SDK's processors down, then the direct exporters (ending their retries)."""
        super().shutdown()
        for exporter in self._direct_exporters:
            exporter.shutdown()  # type: ignore[no-untyped-call]


def _export_to(exporter: LogRecordExporter, batch: list[ReadableLogRecord]) -> bool:
    try:
        return exporter.export(batch) is LogRecordExportResult.SUCCESS
    except Exception:  # noqa: BLE001 - an exporter that raises failed: counted by the caller
        return False


class RedactingSpanExporter(SpanExporter):
    """Scrub span attributes, events and status descriptions, then export."""

    def __init__(self, inner: SpanExporter, policy: RedactionPolicy) -> None:
        self.inner = inner
        self.policy = policy

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export scrubbed copies of ``spans``."""
        return self.inner.export([self._scrubbed(span) for span in spans])

    def _scrubbed(self, span: ReadableSpan) -> ReadableSpan:
        scrub = self.policy.scrub
        status = span.status
        if status.description:
            status = Status(status.status_code, self.policy.scrub_text(status.description))
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=scrub(dict(span.attributes or {})),
            events=[
                Event(e.name, scrub(dict(e.attributes or {})), e.timestamp) for e in span.events
            ],
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def shutdown(self) -> None:
        """Shut the inner exporter down."""
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush the inner exporter."""
        return bool(self.inner.force_flush(timeout_millis))


class RedactingLogProcessor(LogRecordProcessor):
    """Scrub each log record's body and attributes in place, before the export processor."""

    def __init__(self, policy: RedactionPolicy) -> None:
        self.policy = policy

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Mask secrets in the record (our audit events arrive scrubbed already)."""
        scope = log_record.instrumentation_scope
        if scope is not None and scope.name == names.SCOPE:
            return
        record = log_record.log_record
        record.body = self.policy.scrub(record.body)
        attributes = record.attributes
        if attributes:
            scrubbed = self.policy.scrub(dict(attributes))
            for key, value in scrubbed.items():
                attributes[key] = value  # type: ignore[index]

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:  # noqa: ARG002
        """Nothing is buffered here."""
        return True
