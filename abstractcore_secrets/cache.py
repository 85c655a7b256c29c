"""The resolution cache: the first middleware, innermost in the stack.

- A found key is kept until a random point in ``[ttl/2, ttl]`` (jitter spreads the
  refreshes of many processes), then refreshed through the chain.
- Many concurrent callers of a cold or expired key cause one fetch (single-flight).
- A miss is kept for ``negative_ttl``, so a missing key does not hammer the backends.
- When a refresh fails (every source down), the last value is served, marked ``stale``,
  until ``max_stale`` past its refresh time; the sources are tried again after
  ``stale_retry``. A denial or a deletion drops the value at once.
- Only results from sources that allow caching are kept (the environment and files do not,
  so edits show at once).

A hit carries the provenance of the fetch that filled the cache, no attempts, and a
``duration`` of 0: no source was consulted (telemetry measures wall time itself).
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ConfigurationError
from .middleware import Handler, ResolveRequest
from .resolution import Outcome, Resolution


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


class ResolutionCache:
    """Cache resolutions per provider; use as middleware (``SecretsManager(cache=...)``).

    Args:
        ttl: Seconds a found key is served before it is refreshed (jittered down to half).
        negative_ttl: Seconds a miss is remembered; 0 turns negative caching off.
        max_stale: Seconds past its refresh time a key may be served while sources fail.
        stale_retry: Seconds between refresh attempts while serving stale.
        clock: Monotonic clock, for tests.
        jitter: Returns a float in [0, 1); 0 refreshes at ``ttl/2``, near 1 at ``ttl``.

    Raises:
        ConfigurationError: A duration is negative, or ``ttl`` is zero.
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
            ("negative_ttl", negative_ttl),
            ("max_stale", max_stale),
            ("stale_retry", stale_retry),
        ):
            if value < 0:
                raise ConfigurationError(f"cache {name} must be >= 0 seconds, not {value}")
        if ttl <= 0:
            raise ConfigurationError(
                f"cache ttl must be > 0 seconds, not {ttl}; pass cache=None to disable caching"
            )
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_stale = max_stale
        self.stale_retry = stale_retry
        self._clock = clock
        self._jitter = jitter
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def __call__(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Answer from the cache, or refresh through ``call_next`` once for all waiters."""
        if request.explicit is not None:
            return call_next(request)
        hit = self._fresh_hit(request.provider)
        if hit is not None:
            return hit
        with self._lock_for(request.provider):
            hit = self._fresh_hit(request.provider)  # another caller may have refreshed it
            if hit is not None:
                return hit
            resolution = call_next(request)
            return self._settle(request.provider, resolution)

    def invalidate(self, provider: str | None = None) -> None:
        """Forget ``provider``'s cached key (all keys when ``None``).

        Call it when a service rejected the key (HTTP 401): the next resolution fetches anew.
        """
        if provider is None:
            self._entries.clear()
        else:
            self._entries.pop(provider, None)

    def _fresh_hit(self, provider: str) -> Resolution | None:
        entry = self._entries.get(provider)
        if entry is None or self._clock() >= entry.refresh_at:
            return None
        return entry.hit

    def _settle(self, provider: str, resolution: Resolution) -> Resolution:
        now = self._clock()
        outcome = resolution.outcome
        if outcome is Outcome.ERROR:
            stale = self._serve_stale(provider, resolution, now)
            if stale is not None:
                return stale
        if not resolution.cacheable or outcome in (Outcome.DENIED, Outcome.ERROR):
            self._entries.pop(provider, None)
        elif outcome is Outcome.FOUND:
            refresh_at = now + self.ttl * (0.5 + 0.5 * self._jitter())
            self._entries[provider] = _Entry(resolution, refresh_at, refresh_at + self.max_stale)
        elif self.negative_ttl > 0:
            refresh_at = now + self.negative_ttl
            self._entries[provider] = _Entry(resolution, refresh_at, refresh_at)
        else:
            self._entries.pop(provider, None)
        return resolution

    def _serve_stale(self, provider: str, failed: Resolution, now: float) -> Resolution | None:
        entry = self._entries.get(provider)
        if entry is None or not entry.resolution.found or now >= entry.keep_until:
            return None
        # Hits until the next retry are stale too: the entry now serves the stale form.
        entry.serve(dataclasses.replace(entry.resolution, stale=True, error=failed.error))
        entry.refresh_at = min(now + self.stale_retry, entry.keep_until)
        return dataclasses.replace(
            entry.resolution, cache_hit=True, attempts=failed.attempts, duration=failed.duration
        )

    def _lock_for(self, provider: str) -> threading.Lock:
        lock = self._locks.get(provider)
        if lock is None:
            with self._locks_guard:
                lock = self._locks.setdefault(provider, threading.Lock())
        return lock
