"""Metrics middleware: resolutions, resolution and lookup durations, secret age, circuits.

Every resolution is counted (``resolutions``), cache hits included; a resolution that
consulted the sources is also timed (``resolution.duration``). A hit is counted in a plain
dictionary under a lock and reported when the SDK collects (an asynchronous counter):
recording it in an SDK instrument would cost more than the hit itself (about 10 µs).

Attributes are bounded: provider, source, outcome, cache_hit, stale, degraded, error.type.
Never a value, a fingerprint, a user or a path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from .._otel import meter
from .._resolution import Attempt, Resolution
from ..middleware import AttemptHandler, AttemptRequest, Handler, ResolveRequest
from . import names

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter, MeterProvider

    from ..resilience import Resilience


MAX_PROVIDERS = 100
"""Distinct provider names recorded in metric attributes; the rest count as ``other``."""

_Key = tuple[str | bool | None, ...]
"""A resolution's metric attribute values, in ``_COUNTED``'s order."""


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
        self._tally = _tally_of(meter_provider or metrics.get_meter_provider(), library_meter)
        self._resolution = library_meter.create_histogram(
            names.RESOLUTION_DURATION,
            unit="s",
            description="Duration of key resolutions that consulted the sources (not cache hits).",
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
        self._hit_cells: dict[int, tuple[Resolution, list[int]]] = {}

    def __call__(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Count a resolution, time it if it consulted the sources; track key changes."""
        started = time.perf_counter()
        resolution = call_next(request)
        self._count(resolution)
        if resolution.cache_hit and not resolution.attempts:
            return resolution  # no source consulted: counted, not timed (as on_hit)
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

    def on_hit(self, hit: Resolution) -> Resolution:
        """Count a cache hit served without the stack."""
        # The cache serves the same hit object until the key is refetched: its counting
        # key is worked out once.
        known = self._hit_cells.get(id(hit))
        if known is not None and known[0] is hit:
            cell = known[1]
            with self._tally.lock:
                cell[0] += 1
            return hit
        cell = self._count(hit)
        if len(self._hit_cells) >= MAX_PROVIDERS:
            self._hit_cells.clear()
        self._hit_cells[id(hit)] = (hit, cell)  # kept with its id, so the id is not reused
        return hit

    def _count(self, resolution: Resolution) -> list[int]:
        """Count ``resolution``; return the cell that counts its attributes' values."""
        key = (
            self._bounded(resolution.provider),
            resolution.source or "none",
            resolution.outcome.value,
            resolution.cache_hit,
            resolution.stale,
            resolution.degraded,
            resolution.error_type,
        )
        return self._tally.count(key)

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


_COUNTED = (
    names.PROVIDER,
    names.SOURCE,
    names.OUTCOME,
    names.CACHE_HIT,
    names.STALE,
    names.DEGRADED,
    names.ERROR_TYPE,
)
"""A resolution's metric attributes, in the order of its counting key."""


def _attributes(key: _Key) -> dict[str, str | bool]:
    """Return the metric attributes of a counting key (``error.type`` only when set)."""
    return {name: value for name, value in zip(_COUNTED, key, strict=True) if value is not None}


class _Tally:
    """The resolutions counted on one meter, by every metrics layer using it.

    One per meter, because the SDK keeps only the first asynchronous instrument of a name:
    a second manager's layer adds to the same counts (and cumulative totals never go down
    when a manager is dropped). Each count is a cell of its own, so that a hit adds to it
    without hashing its key.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cells: dict[_Key, list[int]] = {}

    def count(self, key: _Key) -> list[int]:
        """Count one resolution of ``key``; return its cell."""
        with self.lock:
            cell = self.cells.get(key)
            if cell is None:
                cell = self.cells[key] = [0]
            cell[0] += 1
        return cell

    def observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        """The totals, for the SDK's collection."""
        with self.lock:
            counts = [(key, cell[0]) for key, cell in self.cells.items()]
        for key, total in counts:
            yield Observation(total, _attributes(key))


_tallies: dict[int, tuple[object, _Tally]] = {}
_tallies_lock = threading.Lock()


def _tally_of(provider: object, library_meter: Meter) -> _Tally:
    """Return ``provider``'s tally, registering its ``resolutions`` counter once.

    By provider: the global proxy hands out a new meter at each call. The provider is kept
    with its id, so that the id is not reused by another.
    """
    with _tallies_lock:
        known = _tallies.get(id(provider))
        if known is not None:
            return known[1]
        tally = _Tally()
        library_meter.create_observable_counter(
            names.RESOLUTIONS,
            callbacks=[tally.observe],
            unit="{resolution}",
            description="Key resolutions, cache hits included.",
        )
        _tallies[id(provider)] = (provider, tally)
        return tally
