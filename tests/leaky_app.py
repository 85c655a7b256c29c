"""An application that leaks keys into every corner of its own telemetry; run as a child process.

It sets up the OpenTelemetry SDK itself (none of the library's scrubbing) and reads, as a JSON
list on stdin, the leaks to commit: ``{"id": ..., "where": ..., "text": ...}``. Each leak puts
``text`` in one place (``where``: a span's name, a log body, a metric's description, a
resource attribute, ...) of one item of telemetry that carries ``rule = id``, so that the
test can find that item downstream and know the leak arrived. Everything is sent over
OTLP/gRPC to ``OTEL_EXPORTER_OTLP_ENDPOINT``, then the exporters are shut down.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.status import Status, StatusCode

SERVICE = "leaky-app"
AUDIT_SCOPE = "abstractcore_secrets"
"""The library's scope and event name: these log records reach the audit archive too."""
AUDIT_EVENT = "secret.resolved"
EXEMPLARS = "leaky.exemplars"


class App:
    """The SDK set up once, plus the providers of leaks that need a resource of their own."""

    def __init__(self, endpoint: str) -> None:
        self.spans = OTLPSpanExporter(endpoint=endpoint, insecure=True)
        self.logs = OTLPLogExporter(endpoint=endpoint, insecure=True)
        self.metrics = OTLPMetricExporter(endpoint=endpoint, insecure=True)
        self.readers: list[InMemoryMetricReader] = []
        self.providers: list[Any] = []
        tracers, loggers, self.meter_provider = self.signals(
            Resource.create({"service.name": SERVICE})
        )
        self.tracer_provider = tracers
        self.tracer = tracers.get_tracer(SERVICE)
        self.logger = loggers.get_logger(AUDIT_SCOPE)
        self.meter = self.meter_provider.get_meter(SERVICE)
        self.described = 0
        self.counters: dict[str, Any] = {}

    def signals(self, resource: Resource) -> tuple[TracerProvider, LoggerProvider, MeterProvider]:
        """Return providers of the three signals for ``resource``, sharing the exporters."""
        tracers = TracerProvider(resource=resource, shutdown_on_exit=False)
        tracers.add_span_processor(SimpleSpanProcessor(self.spans))
        loggers = LoggerProvider(resource=resource, shutdown_on_exit=False)
        loggers.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        reader = InMemoryMetricReader()
        self.readers.append(reader)
        # Attributes the view leaves out of the data point become the exemplar's.
        view = View(instrument_name=EXEMPLARS, attribute_keys={"rule"})
        meters = MeterProvider(
            resource=resource, metric_readers=[reader], views=[view], shutdown_on_exit=False
        )
        self.providers += [tracers, loggers, meters]
        return tracers, loggers, meters

    def span(self, rule: str, name: str = "leaky.work", **attributes: Any) -> None:
        """Emit one span carrying ``rule``."""
        with self.tracer.start_as_current_span(name, attributes={"rule": rule, **attributes}):
            pass

    def log(self, rule: str, **fields: Any) -> None:
        """Emit one log record shaped as an audit event, carrying ``rule``."""
        attributes = {"rule": rule, **fields.pop("attributes", {})}
        fields.setdefault("event_name", AUDIT_EVENT)
        fields.setdefault("body", "resolved")
        self.logger.emit(attributes=attributes, **fields)

    def count(self, rule: str, name: str = "leaky.requests", **attributes: Any) -> None:
        """Add one to a counter, with ``rule`` among the data point's attributes."""
        if name not in self.counters:
            self.counters[name] = self.meter.create_counter(name)
        self.counters[name].add(1, {"rule": rule, **attributes})

    def finish(self) -> None:
        """Export the metrics and shut everything down (spans and logs went out as they ended)."""
        for reader in self.readers:
            data = reader.get_metrics_data()
            if data is not None:
                self.metrics.export(data)
        for provider in self.providers:
            provider.shutdown()


def _trace_state(app: App, rule: str, text: str) -> None:
    # A remote parent's tracestate (an incoming request's header) is inherited by the span.
    state = TraceState([("leaky", re.sub(r"[^\x21-\x2b\x2d-\x3c\x3e-\x7e]", "_", text))])
    parent = SpanContext(
        0x1F2E3D4C5B6A79881F2E3D4C5B6A7988,
        0x1A2B3C4D5E6F7081,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=state,
    )
    context = trace.set_span_in_context(NonRecordingSpan(parent))
    with app.tracer.start_as_current_span("leaky.work", context, attributes={"rule": rule}):
        pass


def _link(app: App, rule: str, text: str) -> None:
    other = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    link = Link(other, {"error.message": text})
    with app.tracer.start_as_current_span("leaky.work", links=[link], attributes={"rule": rule}):
        pass


def _fail(text: str) -> None:
    raise ValueError(f"invalid key {text}")


def _uncaught(app: App, rule: str, text: str) -> None:
    # The SDK records the exception and sets the status description from it.
    try:
        with app.tracer.start_as_current_span("leaky.work", attributes={"rule": rule}):
            _fail(text)
    except ValueError:
        pass


def _status(app: App, rule: str, text: str) -> None:
    with app.tracer.start_as_current_span("leaky.work", attributes={"rule": rule}) as span:
        span.set_status(Status(StatusCode.ERROR, text))


def _event(app: App, rule: str, name: str, attributes: dict[str, Any]) -> None:
    with app.tracer.start_as_current_span("leaky.work", attributes={"rule": rule}) as span:
        span.add_event(name, attributes)


def _recorded(app: App, rule: str, text: str) -> None:
    with app.tracer.start_as_current_span("leaky.work", attributes={"rule": rule}) as span:
        span.record_exception(ValueError(f"invalid key {text}"))


def _split(app: App, rule: str, text: str) -> None:
    half = len(text) // 2
    app.span(rule, **{"error.message": text[:half], "exception.message": text[half:]})


def _scoped(app: App, rule: str, **scope: Any) -> None:
    tracer = app.tracer_provider.get_tracer(**scope)
    with tracer.start_as_current_span("leaky.work", attributes={"rule": rule}):
        pass


def _resource(app: App, rule: str, attributes: dict[str, str], schema_url: str = "") -> None:
    resource = Resource.create({"service.name": SERVICE, **attributes}, schema_url=schema_url)
    tracers, loggers, meters = app.signals(resource)
    with tracers.get_tracer(SERVICE).start_as_current_span("leaky.work", attributes={"rule": rule}):
        pass
    loggers.get_logger(AUDIT_SCOPE).emit(
        event_name=AUDIT_EVENT, body="resolved", attributes={"rule": rule}
    )
    meters.get_meter(SERVICE).create_counter("leaky.requests").add(1, {"rule": rule})


def _metric_name(app: App, rule: str, text: str) -> None:
    # Instrument names allow letters, digits and - _ . / only: the key's own characters stay.
    app.count(rule, "leaky." + re.sub(r"[^-_./A-Za-z0-9]", "_", text))


def _described(app: App, rule: str, text: str) -> None:
    app.described += 1
    counter = app.meter.create_counter(f"leaky.described.{app.described}", description=text)
    counter.add(1, {"rule": rule})


def _exemplar(app: App, rule: str, text: str) -> None:
    # A measurement in a sampled span keeps an exemplar; the view drops app.detail from the
    # data point, so it moves to the exemplar's filtered attributes.
    with app.tracer.start_as_current_span("leaky.work", attributes={"rule": rule}):
        app.count(rule, EXEMPLARS, **{"app.detail": text})


Leak = Callable[[App, str, str], None]

LEAKS: dict[str, Leak] = {
    "span.name": lambda app, rule, text: app.span(rule, text),
    "span.attribute.allowed": lambda app, rule, text: app.span(rule, **{"secrets.locator": text}),
    "span.attribute.error": lambda app, rule, text: app.span(rule, **{"error.message": text}),
    "span.attribute.unknown": lambda app, rule, text: app.span(rule, **{"app.note": text}),
    "span.attribute.uppercase_key": lambda app, rule, text: app.span(
        rule, **{"ERROR.MESSAGE": text}
    ),
    "span.attribute.key": lambda app, rule, text: app.span(rule, **{text: "1"}),
    "span.attribute.array": lambda app, rule, text: app.span(
        rule, **{"error.message": ["retrying", text]}
    ),
    "span.attribute.map": lambda app, rule, text: app.span(
        rule, **{"error.message": {"detail": text}}
    ),
    "span.attribute.bytes": lambda app, rule, text: app.span(
        rule, **{"error.message": text.encode()}
    ),
    "span.attribute.split": _split,
    "span.attribute.counted": lambda app, rule, text: app.span(
        rule, "secrets.lookup", **{"secrets.tries": 2, "secrets.source": text}
    ),
    "span.event.attribute": lambda app, rule, text: _event(
        app, rule, "retry", {"exception.message": text}
    ),
    "span.event.name": lambda app, rule, text: _event(app, rule, text, {}),
    "span.exception": _recorded,
    "span.status": _status,
    "span.status.uncaught": _uncaught,
    "span.link.attribute": _link,
    "span.trace_state": _trace_state,
    "scope.name": lambda app, rule, text: _scoped(app, rule, instrumenting_module_name=text),
    "scope.version": lambda app, rule, text: _scoped(
        app, rule, instrumenting_module_name=SERVICE, instrumenting_library_version=text
    ),
    "scope.attribute.allowed": lambda app, rule, text: _scoped(
        app, rule, instrumenting_module_name=SERVICE, attributes={"secrets.locator": text}
    ),
    "scope.attribute.unknown": lambda app, rule, text: _scoped(
        app, rule, instrumenting_module_name=SERVICE, attributes={"app.scope": text}
    ),
    "resource.service.name": lambda app, rule, text: _resource(app, rule, {"service.name": text}),
    "resource.attribute.allowed": lambda app, rule, text: _resource(
        app, rule, {"service.version": text}
    ),
    "resource.attribute.unknown": lambda app, rule, text: _resource(app, rule, {"app.owner": text}),
    "resource.schema_url": lambda app, rule, text: _resource(app, rule, {}, text),
    "log.body.string": lambda app, rule, text: app.log(rule, body=text),
    "log.body.map": lambda app, rule, text: app.log(rule, body={"error.message": text}),
    "log.body.map_key": lambda app, rule, text: app.log(rule, body={text: "1"}),
    "log.body.list": lambda app, rule, text: app.log(rule, body=["retrying", text]),
    "log.body.nested": lambda app, rule, text: app.log(
        rule, body={"locator": {"error.message": [{"exception.message": text}]}}
    ),
    "log.body.bytes": lambda app, rule, text: app.log(rule, body=text.encode()),
    "log.attribute.allowed": lambda app, rule, text: app.log(
        rule, attributes={"error.message": text}
    ),
    "log.attribute.unknown": lambda app, rule, text: app.log(rule, attributes={"app.debug": text}),
    "log.attribute.array": lambda app, rule, text: app.log(
        rule, attributes={"error.message": ["retrying", text]}
    ),
    "log.attribute.map": lambda app, rule, text: app.log(
        rule, attributes={"error.message": {"detail": text}}
    ),
    "log.attribute.counted": lambda app, rule, text: app.log(
        rule, attributes={"provider": text, "outcome": "found"}
    ),
    "log.exception": lambda app, rule, text: app.log(rule, exception=ValueError(text)),
    "log.event_name": lambda app, rule, text: app.log(rule, event_name=text),
    "log.severity_text": lambda app, rule, text: app.log(rule, severity_text=text),
    "metric.attribute.allowed": lambda app, rule, text: app.count(rule, sink=text),
    "metric.attribute.unknown": lambda app, rule, text: app.count(rule, **{"app.label": text}),
    "metric.attribute.array": lambda app, rule, text: app.count(rule, sink=("retrying", text)),
    "metric.name": _metric_name,
    "metric.description": _described,
    "metric.exemplar": _exemplar,
}


def main() -> None:
    """Commit every leak read from stdin, then flush and shut down."""
    app = App(os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    for leak in json.load(sys.stdin):
        LEAKS[leak["where"]](app, leak["id"], leak["text"])
    app.finish()


if __name__ == "__main__":
    main()
