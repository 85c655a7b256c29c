"""The resolution cache: the first middleware, innermost in the stack.

- A found key is kept until a random point in ``[ttl/2, ttl]`` (jitter spreads the
  refreshes of many processes), then refreshed through the chain.
- Concurrent callers of a key that is not cached share one trip through the chain
  (single-flight), whatever its outcome. A caller that joins waits at most its own
  deadline (``Resilience.deadline_scope``; 15 s outside one), then gets the stale value
  within ``max_stale``, else an error: a fetch stuck on a server holds up no one for long.
- A source's miss is remembered for ``negative_ttl`` (as attempt middleware: the chain
  still runs, so the environment and files are read fresh, but a remote source that had
  no such key is not asked again until then).
- When a refresh fails because sources are down (unavailable, timeout, throttled), the last
  value is served, marked ``stale``, until ``max_stale`` past its refresh time; the sources
  are tried again every ``stale_retry``. A denial, a deletion or an invalid answer drops the
  value at once.
- When the source of the cached value fails and a lower source answers instead (the
  resolution is ``degraded``), the cached value is preferred the same way, served stale
  within ``max_stale``: an outage never silently swaps one key for another. Past
  ``max_stale``, or with nothing cached, the lower source's answer is served, marked
  ``degraded``, and cached for ``stale_retry`` at most so that the failed source is asked
  again soon.
- Only values from sources that allow caching are kept, and values from sources that can
  tell a change (``SecretProvider.watch``: the environment, files): those are served only
  while the variables or files they were read from, and those of every watched source
  asked before, are unchanged, so an edit shows on the next call.
- ``invalidate()`` starts a new generation (per provider, or of everything): a caller
  arriving after it never joins a flight started before it, and what a fetch started before
  it brings back (a key or a miss) goes to the callers already waiting, never into the cache.

A hit carries the provenance of the fetch that filled the cache, no attempts, and a
``duration`` of 0: no source was consulted (telemetry measures wall time itself).
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ._resolution import Attempt, Outcome, Resolution, failed_attempts
from .errors import ConfigurationError, ErrorCategory, ResolutionError, SourceTimeoutError
from .middleware import AttemptHandler, AttemptRequest, Handler, ResolveRequest
from .resilience import time_left

# (global generation, the provider's generation): invalidate() bumps one of them.
_Generation = tuple[int, int]

_OUTAGES = frozenset({ErrorCategory.UNAVAILABLE, ErrorCategory.TIMEOUT, ErrorCategory.THROTTLED})


@dataclass(slots=True)
class _Entry:
    resolution: Resolution
    refresh_at: float
    keep_until: float
    hit: Resolution = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.serve(self.resolution)

    def serve(self, resolution: Resolution) -> None:
        # Built once here, so that a hit, the hot path, only looks up a dict.
        self.resolution = resolution
        self.hit = dataclasses.replace(resolution, cache_hit=True, attempts=(), duration=0.0)


_FOLLOW_LIMIT = 15.0
"""Seconds a caller outside any resolution deadline waits for another caller's fetch."""


class _Flight:
    """One trip through the chain that concurrent callers of a key wait for.

    Each follower waits at most its own deadline (``Resilience.deadline_scope``); the
    flight goes on for the leader and the followers still within theirs.
    """

    def __init__(self, generation: _Generation) -> None:
        self.generation = generation
        self.done = threading.Event()
        self.result: Resolution | None = None
        self.error: BaseException | None = None


class ResolutionCache:
    """Cache resolutions per provider; use as middleware (``SecretsManager(cache=...)``).

    Args:
        ttl: Seconds a found key is served before it is refreshed (jittered down to half).
        negative_ttl: Seconds a source's miss is remembered; 0 turns that off.
        max_stale: Seconds past its refresh time a key may be served while sources are down.
        stale_retry: Seconds between refresh attempts while serving stale.
        clock: Monotonic clock, for tests.
        jitter: Returns a float in [0, 1); 0 refreshes at ``ttl/2``, near 1 at ``ttl``.

    Raises:
        ConfigurationError: A duration is negative or not finite, or ``ttl`` is zero.
    """

    def __init__(
        self,
        ttl: float = 300.0,
        *,
        negative_ttl: float = 30.0,
        max_stale: float = 900.0,
        stale_retry: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        for name, value in (
            ("ttl", ttl),
            ("negative_ttl", negative_ttl),
            ("max_stale", max_stale),
            ("stale_retry", stale_retry),
        ):
            if not math.isfinite(value) or value < 0:
                raise ConfigurationError(f"cache {name} must be a finite number >= 0, not {value}")
        if ttl == 0:
            raise ConfigurationError("cache ttl must be > 0; pass cache=None to disable caching")
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_stale = max_stale
        self.stale_retry = stale_retry
        self._clock = clock
        self._jitter = jitter
        self._entries: dict[str, _Entry] = {}
        self._misses: dict[tuple[str, str], tuple[float, Attempt]] = {}
        self._flights: dict[str, _Flight] = {}
        self._epoch = 0
        self._generations: dict[str, int] = {}
        # Reentrant: hit() drops a changed value under it, also when called under it.
        self._guard = threading.RLock()

    def __call__(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Answer from the cache, or go through the chain once for all concurrent callers."""
        if request.explicit is not None:
            return call_next(request)
        provider = request.provider
        hit = self.hit(provider)
        if hit is not None:
            return hit
        with self._guard:
            hit = self.hit(provider)  # filled while we waited for the guard
            if hit is not None:
                return hit
            generation = self._generation(provider)
            flight = self._flights.get(provider)
            # A flight from before an invalidate() may bring back the revoked key: never join it.
            leader = flight is None or flight.generation != generation
            if flight is None or leader:
                flight = self._flights[provider] = _Flight(generation)
        if not leader:
            followed = self._follow(provider, flight)
            if all(watch.unchanged() for watch in followed.watches):
                return followed
            # A source the flight read changed since it began (this caller may have made
            # the change): ask again, once, for this caller alone.
            return call_next(request)
        try:
            flight.result = self._settle(provider, call_next(request), flight.generation)
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._guard:
                if self._flights.get(provider) is flight:
                    del self._flights[provider]
            flight.done.set()
        return flight.result

    def remember_misses(self, request: AttemptRequest, call_next: AttemptHandler) -> Attempt:
        """Attempt middleware: answer a cacheable source's recent miss without asking it.

        A remembered miss shows as a ``not_found`` attempt with ``tries=0``; a miss fetched
        across an ``invalidate()`` of its provider is not remembered.
        """
        source = request.source
        if not source.cacheable or self.negative_ttl == 0:
            return call_next(request)
        key = (source.name, request.provider)
        remembered = self._misses.get(key)
        if remembered is not None and self._clock() < remembered[0]:
            return remembered[1]
        with self._guard:
            generation = self._generation(request.provider)
        attempt = call_next(request)
        with self._guard:
            if self._generation(request.provider) != generation:
                return attempt  # invalidated while we fetched: remember nothing
            if attempt.outcome is Outcome.NOT_FOUND and attempt.error is None:
                self._misses[key] = (
                    self._clock() + self.negative_ttl,
                    dataclasses.replace(attempt, tries=0, duration=0.0),
                )
            else:
                self._misses.pop(key, None)
        return attempt

    def invalidate(self, provider: str | None = None) -> None:
        """Forget ``provider``'s cached key and misses (everything when ``None``).

        Call it when a service rejected the key (HTTP 401): a resolution started after it
        returns fetches anew (it never joins a fetch started before), and a fetch already
        under way does not put the rejected key, or a miss, back.
        """
        with self._guard:
            if provider is None:
                # A new epoch outdates every provider's generation, so theirs can restart.
                self._epoch += 1
                self._generations.clear()
                self._entries.clear()
                self._misses.clear()
                return
            self._generations[provider] = self._generations.get(provider, 0) + 1
            self._entries.pop(provider, None)
            self._misses = {key: value for key, value in self._misses.items() if key[1] != provider}

    def _follow(self, provider: str, flight: _Flight) -> Resolution:
        limit = time_left()
        started = time.perf_counter()
        if not flight.done.wait(_FOLLOW_LIMIT if limit is None else limit):
            return self._gave_up(provider, flight, time.perf_counter() - started)
        if flight.error is not None:
            raise flight.error
        assert flight.result is not None  # noqa: S101 - set whenever error is not
        return flight.result

    def _gave_up(self, provider: str, flight: _Flight, waited: float) -> Resolution:
        """Answer a follower whose deadline passed: stale within ``max_stale``, else an error."""
        cause = SourceTimeoutError(
            f"the fetch of {provider!r} this caller joined did not end within its deadline "
            f"(waited {waited:.1f} s); it goes on for the callers still waiting"
        )
        error = ResolutionError(
            f"resolving {provider!r} failed: {cause}",
            Resolution(provider, Outcome.ERROR, duration=waited),
        )
        error.__cause__ = cause
        failed = Resolution(provider, Outcome.ERROR, error=error, duration=waited)
        with self._guard:
            if self._generation(provider) == flight.generation:  # else: the value was revoked
                stale = self._serve_stale(provider, failed, self._clock())
                if stale is not None:
                    return stale
        return failed

    def hit(self, provider: str) -> Resolution | None:
        """Return ``provider``'s cached key as a hit if it is fresh, else ``None``.

        Fresh: before its refresh time, and no watched source (a variable, a file) changed
        since it was fetched; a value whose source changed is dropped, never served stale.
        The manager calls it first, on its fast path; ``None`` sends the call on through
        the stack, which asks again.
        """
        entry = self._entries.get(provider)
        if entry is None or self._clock() >= entry.refresh_at:
            return None
        for watch in entry.resolution.watches:
            if not watch.unchanged():
                self._drop_changed(provider, entry)
                return None
        return entry.hit

    def _drop_changed(self, provider: str, entry: _Entry) -> None:
        """Drop ``entry`` (if still cached): a source it was read from changed."""
        with self._guard:
            if self._entries.get(provider) is entry:
                del self._entries[provider]

    def _generation(self, provider: str) -> _Generation:
        """Return the generation ``provider``'s fetches start in now (call under the guard)."""
        return (self._epoch, self._generations.get(provider, 0))

    def _settle(self, provider: str, resolution: Resolution, generation: _Generation) -> Resolution:
        now = self._clock()
        with self._guard:
            if self._generation(provider) != generation:
                return resolution  # invalidated while we fetched: keep nothing
            if (resolution.outcome is Outcome.ERROR and _is_outage(resolution)) or (
                resolution.degraded and self._cached_source_failed(provider, resolution)
            ):
                # Sources are down, or a lower source answered because the one that gave
                # the cached value is: the cached value, within max_stale, is preferred.
                stale = self._serve_stale(provider, resolution, now)
                if stale is not None:
                    return stale
            if resolution.outcome is Outcome.FOUND and resolution.cacheable:
                refresh_at = now + self.ttl * (0.5 + 0.5 * self._jitter())
                if resolution.degraded:  # the failed source is asked again soon
                    refresh_at = min(refresh_at, now + self.stale_retry)
                self._entries[provider] = _Entry(
                    resolution, refresh_at, refresh_at + self.max_stale
                )
            else:
                self._entries.pop(provider, None)
        return resolution

    def _cached_source_failed(self, provider: str, resolution: Resolution) -> bool:
        """Whether the source of ``provider``'s cached value was down in ``resolution``.

        Down only (unavailable, timeout, throttled): a denial under a policy that lets the
        chain go on still drops the cached value, as it would without a lower source.
        """
        entry = self._entries.get(provider)
        if entry is None:
            return False
        return any(
            a.source == entry.resolution.source and a.category in _OUTAGES
            for a in failed_attempts(resolution.attempts)
        )

    def _serve_stale(self, provider: str, failed: Resolution, now: float) -> Resolution | None:
        entry = self._entries.get(provider)
        if entry is None or now >= entry.keep_until:
            return None
        if not all(watch.unchanged() for watch in entry.resolution.watches):
            self._drop_changed(provider, entry)  # an edited value is never served stale
            return None
        failures = failed_attempts(failed.attempts)
        error = failed.error or (failures[-1].error if failures else None)
        # Hits until the next retry are stale too: the entry now serves the stale form.
        entry.serve(dataclasses.replace(entry.resolution, stale=True, error=error))
        entry.refresh_at = min(now + self.stale_retry, entry.keep_until)
        return dataclasses.replace(
            entry.resolution, cache_hit=True, attempts=failed.attempts, duration=failed.duration
        )


def _is_outage(resolution: Resolution) -> bool:
    """Whether every failed attempt failed because its source was down or busy."""
    failures = [a.category for a in resolution.attempts if a.outcome is Outcome.ERROR]
    return bool(failures) and all(category in _OUTAGES for category in failures)
