"""One error-type rule for a resolution and an attempt, used by every signal alike.

Spans, metrics and audit events are captured in process with the OTel SDK's in-memory
exporter and reader, through the real middleware, for each kind of resolution.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import ListSink
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from abstractcore_secrets import (
    ResolutionCache,
    SecretNotFoundError,
    SecretsManager,
    SourceForbiddenError,
    SourceUnavailableError,
)
from abstractcore_secrets.audit._middleware import AuditMiddleware
from abstractcore_secrets.cli._console import resolution_row
from abstractcore_secrets.sources.base import SecretProvider
from abstractcore_secrets.telemetry._metrics import MetricsMiddleware
from abstractcore_secrets.telemetry._tracing import TracingMiddleware
from abstractcore_secrets.testing.sources import FailingSecretProvider, InMemorySecretProvider


class RaisingMiss(SecretProvider):
    """A source that says "no such key" by raising, as some SDK wrappers do."""

    name = "raising"

    def get_secret(self, key: str) -> str | None:
        raise SecretNotFoundError(f"{key} is not here", source=self.name)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Signals:
    """A manager whose spans, metrics and audit events are all kept in memory."""

    def __init__(self, sources: list[SecretProvider], clock: Clock, fingerprinter) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        meter_provider = MeterProvider(metric_readers=[self.reader])
        tracing = TracingMiddleware(tracer_provider)
        metrics = MetricsMiddleware(meter_provider)
        self.audit = ListSink()
        self.manager = SecretsManager(
            sources,
            middleware=[
                tracing,
                metrics,
                AuditMiddleware([self.audit], fingerprinter=fingerprinter),
            ],
            attempt_middleware=[tracing.attempt, metrics.attempt],
            cache=ResolutionCache(60, clock=clock, jitter=lambda: 0.999),
            fingerprinter=fingerprinter,
        )

    def error_types(self) -> dict[str, object]:
        """The error type each signal recorded for the last resolution."""
        [span] = [s for s in self.spans.get_finished_spans() if s.name == "secrets.resolve"][-1:]
        data = self.reader.get_metrics_data()
        points = [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == "abstractcore.secrets.resolution.duration"
            for point in metric.data.data_points
        ]
        return {
            "span": span.attributes.get("error.type"),
            "metric": sorted({str(p.attributes.get("error.type")) for p in points}),
            "audit": self.audit.events[-1]["error.type"],
        }


def _clock_and(sources: Callable[[], list[SecretProvider]], fingerprinter):
    clock = Clock()
    return clock, Signals(sources(), clock, fingerprinter)


class TestOneRule:
    def test_a_miss_said_by_raising_is_no_error_anywhere(self, fingerprinter):
        """SecretNotFoundError is a miss: no error type on the span, the metric or the event."""
        _, signals = _clock_and(lambda: [RaisingMiss()], fingerprinter)
        resolution = signals.manager.resolve("openai")
        assert (resolution.outcome.value, resolution.error_type) == ("not_found", None)
        assert resolution.attempts[0].error_type is None
        assert signals.error_types() == {"span": None, "metric": ["None"], "audit": None}
        assert resolution_row(resolution)["attempts"][0]["error_type"] is None

    def test_a_denial_is_its_category_everywhere(self, fingerprinter):
        """A forbidden source: forbidden on the span, the metric, the event and the CLI."""
        denied = FailingSecretProvider(SourceForbiddenError("no", source="vault"), name="vault")
        _, signals = _clock_and(lambda: [denied], fingerprinter)
        resolution = signals.manager.resolve("openai")
        assert resolution.error_type == "forbidden"
        assert signals.error_types() == {
            "span": "forbidden",
            "metric": ["forbidden"],
            "audit": "forbidden",
        }

    def test_a_degraded_answer_names_the_failed_source(self, fingerprinter):
        """A lower source answered: the higher one's category, on every signal."""
        down = FailingSecretProvider(SourceUnavailableError("down", source="vault"), name="vault")
        lower = InMemorySecretProvider({"openai": "sk-lower-00000000001"}, name="memory")
        _, signals = _clock_and(lambda: [down, lower], fingerprinter)
        resolution = signals.manager.resolve("openai")
        assert (resolution.degraded, resolution.error_type) == (True, "unavailable")
        types = signals.error_types()
        assert (types["span"], types["audit"]) == ("unavailable", "unavailable")
        assert "unavailable" in types["metric"]

    def test_a_stale_hit_names_the_outage_not_found(self, fingerprinter):
        """A hit of a value served stale has no attempts: its error still gives the category."""
        source = FailingSecretProvider(None, name="vault", fallback={"openai": "sk-old-0000000001"})
        clock, signals = _clock_and(lambda: [source], fingerprinter)
        signals.manager.resolve("openai")
        source.error = SourceUnavailableError("down", source="vault")
        clock.now += 61
        assert signals.manager.resolve("openai").stale
        hit = signals.manager.resolve("openai")  # served from the stale entry, no attempts
        assert (hit.cache_hit, hit.stale, hit.attempts) == (True, True, ())
        assert hit.error_type == "unavailable"
        types = signals.error_types()
        assert (types["span"], types["audit"]) == ("unavailable", "unavailable")

    @pytest.mark.parametrize("found", [True, False])
    def test_a_plain_answer_has_none(self, fingerprinter, found):
        """Found and served normally, or not found anywhere: no error type."""
        values = {"openai": "sk-plain-000000000001"} if found else {}
        _, signals = _clock_and(lambda: [InMemorySecretProvider(values)], fingerprinter)
        assert signals.manager.resolve("openai").error_type is None
        assert signals.error_types() == {"span": None, "metric": ["None"], "audit": None}
