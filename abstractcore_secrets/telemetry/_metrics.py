"""Metrics middleware: resolution and lookup durations, secret age, circuit state.

Attributes are bounded: provider, source, outcome, cache_hit, stale, degraded, error.type.
Never a value, a fingerprint, a user or a path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from opentelemetry.metrics import CallbackOptions, Observation

from .._otel import meter
from .._resolution import Attempt, Resolution
from ..middleware import AttemptHandler, AttemptRequest, Handler, ResolveRequest
from . import names

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

    from ..resilience import Resilience


MAX_PROVIDERS = 100
"""Distinct provider names recorded in metric attributes; the rest count as ``other``."""


class MetricsMiddleware:
    """Record metrics; use as both kinds of middleware (``middleware`` and ``.attempt``).

    Args:
        meter_provider: Default: the global one (a no-op until an SDK is configured).
        resilience: Its circuit breakers are reported by the circuit-state gauge.
        clock: Wall clock for secret age, for tests.
    """

    def __init__(
        self,
        meter_provider: MeterProvider | None = None,
        *,
        resilience: Resilience | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        library_meter = meter(meter_provider)
        self._resolution = library_meter.create_histogram(
            names.RESOLUTION_DURATION,
            unit="s",
            description="Duration of key resolutions.",
            explicit_bucket_boundaries_advisory=list(names.DURATION_BUCKETS),
        )
        self._lookup = library_meter.create_histogram(
            names.LOOKUP_DURATION,
            unit="s",
            description="Duration of lookups at one source.",
            explicit_bucket_boundaries_advisory=list(names.DURATION_BUCKETS),
        )
        library_meter.create_observable_gauge(
            names.SECRET_AGE,
            callbacks=[self._observe_age],
            unit="s",
            description="Time since the served key's fingerprint last changed.",
        )
        self._resilience = resilience
        if resilience is not None:
            library_meter.create_observable_gauge(
                names.CIRCUIT_STATE,
                callbacks=[self._observe_circuits],
                unit="{state}",
                description="Circuit breaker state per source: 0 closed, 1 half-open, 2 open.",
            )
        self._clock = clock
        self._since: dict[tuple[str, str], tuple[str, float]] = {}
        self._providers: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Time a resolution; track when each served key last changed."""
        started = time.perf_counter()
        resolution = call_next(request)
        attributes: dict[str, str | bool] = {
            names.PROVIDER: self._bounded(resolution.provider),
            names.SOURCE: resolution.source or "none",
            names.OUTCOME: resolution.outcome.value,
            names.CACHE_HIT: resolution.cache_hit,
            names.STALE: resolution.stale,
            names.DEGRADED: resolution.degraded,
        }
        if resolution.error_type is not None:
            attributes[names.ERROR_TYPE] = resolution.error_type
        self._resolution.record(time.perf_counter() - started, attributes)
        if resolution.fingerprint and resolution.source:
            provider = str(attributes[names.PROVIDER])
            self._track_age(provider, resolution.source, resolution.fingerprint)
        return resolution

    def _bounded(self, provider: str) -> str:
        """Return ``provider``, or ``other`` past the first ``MAX_PROVIDERS`` distinct names.

        Provider names may come from requests: unbounded, they would blow up the series.
        """
        if provider in self._providers:
            return provider
        with self._lock:
            if len(self._providers) < MAX_PROVIDERS:
                self._providers.add(provider)
                return provider
        return "other"

    def attempt(self, request: AttemptRequest, call_next: AttemptHandler) -> Attempt:
        """Time one source's lookup."""
        started = time.perf_counter()
        attempt = call_next(request)
        attributes = {names.SOURCE: attempt.source, names.OUTCOME: attempt.outcome.value}
        if attempt.error_type:
            attributes[names.ERROR_TYPE] = attempt.error_type
        self._lookup.record(time.perf_counter() - started, attributes)
        return attempt

    def _track_age(self, provider: str, source: str, fingerprint: str) -> None:
        key = (provider, source)
        known = self._since.get(key)
        if known is None or known[0] != fingerprint:
            with self._lock:
                self._since[key] = (fingerprint, self._clock())

    def _observe_age(self, _options: CallbackOptions) -> Iterable[Observation]:
        now = self._clock()
        for (provider, source), (_, since) in list(self._since.items()):
            yield Observation(now - since, {names.PROVIDER: provider, names.SOURCE: source})

    def _observe_circuits(self, _options: CallbackOptions) -> Iterable[Observation]:
        if self._resilience is None:
            return
        for source, breaker in self._resilience.breakers().items():
            yield Observation(int(breaker.state), {names.SOURCE: source})
