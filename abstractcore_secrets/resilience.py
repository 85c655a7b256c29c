"""Resilience of remote sources: retries with jittered backoff, and a circuit breaker each.

``Resilience`` is an attempt middleware. Around each source's fetch it:

- skips a source whose circuit is open (it failed ``failure_threshold`` times in a row), so
  a dead backend costs nothing until ``reset_timeout`` has passed; then one probe goes
  through (half-open), and its result closes or re-opens the circuit;
- retries throttled and unavailable answers with exponential backoff and jitter, honouring a
  server's ``Retry-After`` up to ``max_retry_after``; a wait that would pass the attempt's
  ``timeout`` is not made, the attempt fails over at once. A ``Retry-After`` that is no
  wait (negative, NaN, not a number) is ignored in favour of the backoff.

The loop is our own rather than stamina's: stamina's instrumentation is process-wide and
writes each retry to structlog's default output, standard output included, which would
corrupt ``get --reveal`` and ``--json``; and the deadline must bound the waits, not only the
tries.

Per-request deadlines (connect and read) are each source's own ``timeout`` settings. All of
it shows in the resolution: ``Attempt.tries`` and a ``CircuitOpenError`` for a skipped source.
"""

from __future__ import annotations

import dataclasses
import enum
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import CircuitOpenError, ErrorCategory
from .middleware import AttemptHandler, AttemptRequest
from .resolution import Attempt, Outcome

_FAILURES = frozenset({ErrorCategory.UNAVAILABLE, ErrorCategory.TIMEOUT, ErrorCategory.THROTTLED})
"""Categories that count against a circuit: the source did not answer usefully."""


class CircuitState(enum.IntEnum):
    """A circuit breaker's state; the values are what the telemetry gauge reports."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitBreaker:
    """Count consecutive failures of one source and stop asking it for a while.

    Args:
        failure_threshold: Consecutive failures that open the circuit.
        reset_timeout: Seconds an open circuit waits before letting one probe through.
        clock: Monotonic clock, for tests.
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> CircuitState:
        """The current state."""
        with self._lock:
            if self._opened_at is None:
                return CircuitState.CLOSED
            if self._probing or self._clock() - self._opened_at >= self.reset_timeout:
                return CircuitState.HALF_OPEN
            return CircuitState.OPEN

    def retry_in(self) -> float:
        """Return seconds until an open circuit lets a probe through (0 when it would now)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self.reset_timeout - self._clock())

    def allow(self) -> bool:
        """Return whether a call may go to the source now (one probe at a time when half-open)."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self._probing or self._clock() - self._opened_at < self.reset_timeout:
                return False
            self._probing = True
            return True

    def record(self, *, failed: bool) -> None:
        """Record the outcome of an allowed call."""
        with self._lock:
            self._probing = False
            if not failed:
                self._failures = 0
                self._opened_at = None
                return
            self._failures += 1
            if self._opened_at is not None or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()


@dataclass(frozen=True)
class RetryPolicy:
    """How one attempt retries a source that was throttled or unavailable.

    Attributes:
        attempts: Calls at most, the first included; 1 turns retries off.
        timeout: Seconds within which all tries and waits of one attempt must fit; a wait
            that would end past it is not made.
        wait_initial: Backoff before the first retry (then doubling).
        wait_max: Longest backoff.
        wait_jitter: Random seconds (0 to this) added to each backoff.
        max_retry_after: Longest ``Retry-After`` honoured; longer asks fail the attempt.
        retry_on: Categories that are retried.
    """

    attempts: int = 3
    timeout: float = 10.0
    wait_initial: float = 0.05
    wait_max: float = 2.0
    wait_jitter: float = 0.1
    max_retry_after: float = 5.0
    retry_on: frozenset[ErrorCategory] = frozenset(
        {ErrorCategory.UNAVAILABLE, ErrorCategory.THROTTLED}
    )


class Resilience:
    """Attempt middleware: a circuit breaker per source, and retries with backoff.

    Args:
        retry: The retry policy.
        failure_threshold: Consecutive failures that open a source's circuit.
        reset_timeout: Seconds before an open circuit lets a probe through.
        clock: Monotonic clock for the breakers and the retry deadline, for tests.
        sleep: How to wait between tries, for tests.
    """

    def __init__(
        self,
        retry: RetryPolicy | None = None,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.retry = retry or RetryPolicy()
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

    def __call__(self, request: AttemptRequest, call_next: AttemptHandler) -> Attempt:
        """Ask the source unless its circuit is open, retrying what is worth retrying."""
        source = request.source
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
            failed = attempt.category in _FAILURES
        finally:
            breaker.record(failed=failed)
        return dataclasses.replace(attempt, tries=tries, duration=time.perf_counter() - started)

    def _with_retries(
        self, request: AttemptRequest, call_next: AttemptHandler
    ) -> tuple[Attempt, int]:
        policy = self.retry
        deadline = self._clock() + policy.timeout
        tries = 0
        while True:
            tries += 1
            attempt = call_next(request)
            if attempt.category not in policy.retry_on or tries >= policy.attempts:
                return attempt, tries
            wait = self._backoff(attempt, tries)
            if wait is None or self._clock() + wait >= deadline:
                return attempt, tries  # waiting would pass the deadline: fail over now
            self._sleep(wait)

    def _backoff(self, attempt: Attempt, tries: int) -> float | None:
        """Return the wait before the next try, or ``None`` when no retry should be made."""
        policy = self.retry
        retry_after = _asked_wait(attempt)
        if retry_after is not None:
            # A server asking for a longer wait than we allow: fail over now instead.
            return retry_after if retry_after <= policy.max_retry_after else None
        exponential: float = policy.wait_initial * 2.0 ** (tries - 1)
        return min(policy.wait_max, exponential + random.uniform(0, policy.wait_jitter))  # noqa: S311 - jitter, not crypto


def _asked_wait(attempt: Attempt) -> float | None:
    """Return the error's ``retry_after`` when it is a wait at all: a number, 0 or more.

    A source's translation is one line away from the wire, so a negative, NaN or non-number
    is ignored (normal backoff) rather than trusted; ``inf`` stays, to fail over as too long.
    """
    value: object = None if attempt.error is None else attempt.error.retry_after
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value >= 0 else None  # NaN compares false: ignored too
