"""OpenTelemetry SDK and OTLP export setup: the one module that imports the SDK.

``configure_telemetry()`` honours the standard variables: ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` (and the per-signal ones),
``OTEL_EXPORTER_OTLP_PROTOCOL`` (``grpc`` or ``http/protobuf``), ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_EXPORTER_OTLP_TIMEOUT``, ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` /
``OTEL_LOGS_EXPORTER`` (``otlp``, ``console`` or ``none``), ``OTEL_METRIC_EXPORT_INTERVAL`` and
the batch processors' ``OTEL_BSP_*`` / ``OTEL_BLRP_*``. Exports run in background threads
with bounded queues: a collector that is down or slow never blocks a resolution; what does
not fit is dropped. Everything is flushed at exit.

Where the application already set a global SDK provider, it is used as it is and nothing
is replaced.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import _logs, metrics, trace
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogRecordExporter
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

from ..audit import AuditMiddleware
from ..errors import ConfigurationError
from ..redaction import RedactionPolicy, default_policy
from ..redaction.processors import install_logging_redaction
from . import names
from .metrics import meter
from .stack import observability_middleware

if TYPE_CHECKING:
    from ..middleware import AttemptMiddleware, Middleware
    from ..resilience import Resilience

_PROTOCOLS = ("grpc", "http/protobuf")
_CREDENTIAL_VARIABLES = (
    "VAULT_TOKEN",
    "VAULT_SECRET_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_SECRET",
)


@dataclass
class Telemetry:
    """What :func:`configure_telemetry` set up, and the middleware that feeds it."""

    policy: RedactionPolicy
    service_name: str | None = None
    tracer_provider: Any = None
    meter_provider: Any = None
    logger_provider: Any = None
    owned: list[Any] = field(default_factory=list)

    def middleware(
        self, *, resilience: Resilience | None = None, audit: AuditMiddleware | None = None
    ) -> tuple[list[Middleware], list[AttemptMiddleware]]:
        """Return the observability middleware feeding these providers, outermost first."""
        return observability_middleware(
            self.policy,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            resilience=resilience,
            audit=audit,
            service_name=self.service_name,
        )

    def force_flush(self, timeout_millis: int = 5000) -> None:
        """Export everything queued now."""
        for provider in self.owned:
            provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        """Flush and stop the providers this call created."""
        for provider in self.owned:
            provider.shutdown()


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
    return telemetry


def _exporter_choice(signal: str) -> str:
    choice = os.environ.get(f"OTEL_{signal.upper()}_EXPORTER", "otlp").split(",")[0].strip()
    if choice not in ("otlp", "console", "none"):
        raise ConfigurationError(
            f"OTEL_{signal.upper()}_EXPORTER={choice!r}: use otlp, console or none"
        )
    return choice


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
    provider = TracerProvider(resource=resource)
    choice = _exporter_choice("traces")
    if choice != "none":
        exporter = (
            ConsoleSpanExporter()
            if choice == "console"
            else _otlp_exporter("traces", protocol, endpoint)
        )
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
    choice = _exporter_choice("metrics")
    if choice != "none":
        exporter = (
            ConsoleMetricExporter()
            if choice == "console"
            else _otlp_exporter("metrics", protocol, endpoint)
        )
        interval = interval or int(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "60000"))
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=interval))
    provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(provider)
    telemetry.owned.append(provider)
    return provider


def _logger_provider(
    telemetry: Telemetry, resource: Resource, protocol: str, endpoint: str | None
) -> Any:  # noqa: ANN401
    existing = _logs.get_logger_provider()
    if isinstance(existing, LoggerProvider):
        return existing
    provider = LoggerProvider(resource=resource)
    choice = _exporter_choice("logs")
    if choice != "none":
        exporter = (
            ConsoleLogRecordExporter()
            if choice == "console"
            else _otlp_exporter("logs", protocol, endpoint)
        )
        provider.add_log_record_processor(RedactingLogProcessor(telemetry.policy))
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    _logs.set_logger_provider(provider)
    telemetry.owned.append(provider)
    return provider


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
