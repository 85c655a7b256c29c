"""The attempt middleware: a source's deadline, circuit breaker and retries, composed."""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._resolution import Attempt, Outcome
from ..errors import (
    CircuitOpenError,
    ConfigurationError,
    SourceError,
    SourceTimeoutError,
    SourceUnavailableError,
)
from ..middleware import AttemptHandler, AttemptRequest, pass_hit
from ._circuit import FAILURES, CircuitBreaker
from ._deadline import ENDS, time_left
from ._retry import RetryPolicy, backoff
from ._workers import Pool

if TYPE_CHECKING:
    from .._resolution import Resolution
    from ..middleware import Handler, ResolveRequest


class Resilience:
    """Attempt middleware: deadlines, a circuit breaker per source, and retries with backoff.

    Args:
        retry: The retry policy; its ``timeout`` bounds each attempt.
        failure_threshold: Consecutive failures that open a source's circuit.
        reset_timeout: Seconds before an open circuit lets a probe through.
        deadline: Seconds one resolution may take, every attempt and every wait for
            another caller's fetch included (through :meth:`deadline_scope`).
        workers: Calls at most running at once per remote source, abandoned ones included.
        clock: Monotonic clock for the breakers and the retry waits, for tests.
        sleep: How to wait between tries, for tests.

    Raises:
        ConfigurationError: ``retry.timeout`` or ``deadline`` is not a finite number of
            seconds above 0, or ``workers`` is below 1.
    """

    def __init__(
        self,
        retry: RetryPolicy | None = None,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        deadline: float = 15.0,
        workers: int = 4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy()
        _check_seconds("timeout", self.retry.timeout)
        _check_seconds("deadline", deadline)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ConfigurationError(
                f"resilience workers must be a whole number >= 1, not {workers!r}; "
                "set secrets.resilience.workers to e.g. 4"
            )
        self.deadline = deadline
        self.workers = workers
        self._deadline_scope = DeadlineScope(self)
        self._pools: dict[str, Pool] = {}
        self._sleep = sleep
        self._failure_threshold = failure_threshold
        self._reset_timeout = reset_timeout
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def breaker(self, source: str) -> CircuitBreaker:
        """Return the circuit breaker of the source named ``source``."""
        breaker = self._breakers.get(source)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.get(source) or CircuitBreaker(
                    self._failure_threshold, self._reset_timeout, clock=self._clock
                )
                self._breakers[source] = breaker
        return breaker

    def breakers(self) -> dict[str, CircuitBreaker]:
        """Return every source's circuit breaker, by source name."""
        return dict(self._breakers)

    def busy(self, source: str) -> int:
        """Return how many calls to the source named ``source`` are running, abandoned included."""
        pool = self._pools.get(source)
        return 0 if pool is None else pool.busy

    @property
    def deadline_scope(self) -> DeadlineScope:
        """Resolution middleware: bound the resolution, attempts and waits, by ``deadline``."""
        return self._deadline_scope

    def __call__(self, request: AttemptRequest, call_next: AttemptHandler) -> Attempt:
        """Ask the source unless its circuit is open, retrying what is worth retrying."""
        source = request.source
        if source.cacheable and time_left() == 0.0:
            error: SourceError = SourceTimeoutError(
                f"{source.name}: skipped, the resolution's deadline ({self.deadline:g} s) "
                "passed before its turn",
                source=source.name,
                locator=source.locator(request.provider),
            )
            return Attempt(
                source.name, Outcome.ERROR, 0.0, locator=error.locator, error=error, tries=0
            )
        breaker = self.breaker(source.name)
        if not breaker.allow():
            error = CircuitOpenError(
                f"{source.name}: skipped, its circuit is open after "
                f"{breaker.failure_threshold} failures in a row; "
                f"next probe in {breaker.retry_in():.1f} s",
                source=source.name,
                locator=source.locator(request.provider),
            )
            return Attempt(
                source.name, Outcome.ERROR, 0.0, locator=error.locator, error=error, tries=0
            )
        started = time.perf_counter()
        failed = True  # until an answer says otherwise; an exception counts as a failure
        try:
            attempt, tries = self._with_retries(request, call_next)
            failed = attempt.category in FAILURES
        finally:
            breaker.record(failed=failed)
        return dataclasses.replace(attempt, tries=tries, duration=time.perf_counter() - started)

    def _with_retries(
        self, request: AttemptRequest, call_next: AttemptHandler
    ) -> tuple[Attempt, int]:
        policy = self.retry
        deadline = self._clock() + policy.timeout
        # The hard bound runs on the real clock: it is what the worker is waited for with.
        ends = time.monotonic() + policy.timeout
        resolution_ends = ENDS.get()
        if resolution_ends is not None:
            ends = min(ends, resolution_ends)
        tries = 0
        while True:
            tries += 1
            attempt = self._try(request, call_next, ends)
            if attempt.category not in policy.retry_on or tries >= policy.attempts:
                return attempt, tries
            wait = backoff(policy, attempt, tries)
            if wait is None or self._clock() + wait >= deadline or time.monotonic() + wait >= ends:
                return attempt, tries  # waiting would pass the deadline: fail over now
            self._sleep(wait)

    def _try(self, request: AttemptRequest, call_next: AttemptHandler, ends: float) -> Attempt:
        """Make one call, on a worker thread bounded by ``ends`` for a remote source."""
        source = request.source
        if not source.cacheable:
            return call_next(request)  # local: a read of the environment or a file
        pool = self._pool(source.name)
        started = time.perf_counter()
        call = pool.submit(call_next, request)
        if call is None:
            return _failed(
                request,
                SourceUnavailableError(
                    f"{source.name}: not asked, its {pool.size} workers are all held by calls "
                    "past their deadline; the server is stalling (raise "
                    "secrets.resilience.workers only if it is merely slow)",
                    source=source.name,
                    locator=source.locator(request.provider),
                ),
                0.0,
            )
        if call.done.wait(max(0.0, ends - time.monotonic())):
            if call.error is not None:
                raise call.error
            assert call.attempt is not None  # noqa: S101 - set whenever error is not
            return call.attempt
        call.abandon()
        limit = "the resolution's deadline" if ends == ENDS.get() else "the attempt's timeout"
        return _failed(
            request,
            SourceTimeoutError(
                f"{source.name}: no whole answer within {limit}; the call is abandoned "
                "and whatever it brings back is dropped",
                source=source.name,
                locator=source.locator(request.provider),
            ),
            time.perf_counter() - started,
        )

    def _pool(self, source: str) -> Pool:
        pool = self._pools.get(source)
        if pool is None:
            with self._lock:
                pool = self._pools.get(source) or Pool(source, self.workers)
                self._pools[source] = pool
        return pool


def _failed(request: AttemptRequest, error: SourceError, duration: float) -> Attempt:
    return Attempt(request.source.name, Outcome.ERROR, duration, locator=error.locator, error=error)


def _check_seconds(name: str, value: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (math.isfinite(value) and value > 0)
    ):
        raise ConfigurationError(
            f"resilience {name} must be a finite number of seconds > 0, not {value!r}; "
            f"set secrets.resilience.{name} to e.g. {_EXAMPLES[name]}"
        )


_EXAMPLES = {"timeout": 8, "deadline": 15}


class DeadlineScope:
    """Resolution middleware: bound the resolution, attempts and waits, by ``deadline``.

    A scope inside another keeps the earlier deadline. A cache hit, which waits for
    nothing, passes by it (:meth:`on_hit`).
    """

    def __init__(self, resilience: Resilience) -> None:
        self._resilience = resilience

    def __call__(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Run the rest of the stack within the deadline."""
        ends = time.monotonic() + self._resilience.deadline
        outer = ENDS.get()
        token = ENDS.set(ends if outer is None else min(outer, ends))
        try:
            return call_next(request)
        finally:
            ENDS.reset(token)

    on_hit = staticmethod(pass_hit)  # a hit waits for nothing: nothing to bound
