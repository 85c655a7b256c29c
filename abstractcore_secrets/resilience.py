"""Resilience of remote sources: deadlines, retries with jittered backoff, a circuit breaker each.

``Resilience`` is an attempt middleware. Around each source's fetch it:

- bounds each attempt of a remote (cacheable) source by the policy's ``timeout``, all
  tries, waits and the answer's body included, whatever the SDK does with its socket
  timeouts (a server trickling its answer restarts a read timeout with every byte). Each
  try runs on a worker thread of a small pool per source and is waited for with a timeout;
  on expiry the attempt is a ``SourceTimeoutError`` and the call is abandoned: what it
  brings back later is dropped, never stored, served or learnt from. A pool whose
  ``workers`` are all held by abandoned calls fails the next try at once, as unavailable,
  so a stuck server cannot exhaust threads. Local sources (environment, files) are read on
  the caller's thread;

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

Its :meth:`~Resilience.deadline_scope` is a resolution middleware (put it outside the cache)
that bounds a whole resolution by ``deadline``: an attempt gets at most what is left of it,
a remote source whose turn comes after it is skipped as a timeout (``tries=0``), and a caller
waiting on another caller's fetch in the cache waits no longer than its own deadline
(:func:`time_left`).

Per-request deadlines (connect and read) are each source's own ``timeout`` settings. All of
it shows in the resolution: ``Attempt.tries``, a ``SourceTimeoutError`` for an attempt past
its deadline, and a ``CircuitOpenError`` for a skipped source.
"""

from __future__ import annotations

import contextvars
import dataclasses
import enum
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import (
    CircuitOpenError,
    ConfigurationError,
    ErrorCategory,
    SourceError,
    SourceTimeoutError,
    SourceUnavailableError,
)
from .middleware import AttemptHandler, AttemptRequest
from .resolution import Attempt, Outcome

if TYPE_CHECKING:
    from .middleware import Handler, ResolveRequest
    from .resolution import Resolution

_FAILURES = frozenset({ErrorCategory.UNAVAILABLE, ErrorCategory.TIMEOUT, ErrorCategory.THROTTLED})
"""Categories that count against a circuit: the source did not answer usefully."""

_ENDS: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "abstractcore_secrets_resolution_deadline", default=None
)
"""When the current resolution's deadline passes, on the ``time.monotonic`` clock."""


def time_left() -> float | None:
    """Return the seconds left before the current resolution's deadline (0 once past it).

    Returns:
        ``None`` outside a :meth:`Resilience.deadline_scope`.
    """
    ends = _ENDS.get()
    return None if ends is None else max(0.0, ends - time.monotonic())


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
        timeout: Seconds within which all tries and waits of one attempt must fit, answers'
            bodies included: a remote source's try still running then is abandoned as a
            timeout, and a wait that would end past it is not made.
        wait_initial: Backoff before the first retry (then doubling).
        wait_max: Longest backoff.
        wait_jitter: Random seconds (0 to this) added to each backoff.
        max_retry_after: Longest ``Retry-After`` honoured; longer asks fail the attempt.
        retry_on: Categories that are retried.
    """

    attempts: int = 3
    timeout: float = 8.0
    wait_initial: float = 0.05
    wait_max: float = 2.0
    wait_jitter: float = 0.1
    max_retry_after: float = 5.0
    retry_on: frozenset[ErrorCategory] = frozenset(
        {ErrorCategory.UNAVAILABLE, ErrorCategory.THROTTLED}
    )


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
        self._pools: dict[str, _Pool] = {}
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

    def deadline_scope(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Resolution middleware: bound the resolution, attempts and waits, by ``deadline``.

        A scope inside another keeps the earlier deadline.
        """
        ends = time.monotonic() + self.deadline
        outer = _ENDS.get()
        token = _ENDS.set(ends if outer is None else min(outer, ends))
        try:
            return call_next(request)
        finally:
            _ENDS.reset(token)

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
            failed = attempt.category in _FAILURES
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
        resolution_ends = _ENDS.get()
        if resolution_ends is not None:
            ends = min(ends, resolution_ends)
        tries = 0
        while True:
            tries += 1
            attempt = self._try(request, call_next, ends)
            if attempt.category not in policy.retry_on or tries >= policy.attempts:
                return attempt, tries
            wait = self._backoff(attempt, tries)
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
        limit = "the resolution's deadline" if ends == _ENDS.get() else "the attempt's timeout"
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

    def _pool(self, source: str) -> _Pool:
        pool = self._pools.get(source)
        if pool is None:
            with self._lock:
                pool = self._pools.get(source) or _Pool(source, self.workers)
                self._pools[source] = pool
        return pool

    def _backoff(self, attempt: Attempt, tries: int) -> float | None:
        """Return the wait before the next try, or ``None`` when no retry should be made."""
        policy = self.retry
        retry_after = _asked_wait(attempt)
        if retry_after is not None:
            # A server asking for a longer wait than we allow: fail over now instead.
            return retry_after if retry_after <= policy.max_retry_after else None
        exponential: float = policy.wait_initial * 2.0 ** (tries - 1)
        return min(policy.wait_max, exponential + random.uniform(0, policy.wait_jitter))  # noqa: S311 - jitter, not crypto


class _Call:
    """One call on a worker thread; its answer counts only until it is abandoned."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.attempt: Attempt | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._abandoned = False

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            self.attempt = self.error = None

    def settle(self, attempt: Attempt | None, error: BaseException | None) -> None:
        with self._lock:
            if not self._abandoned:  # too late: the answer (a key, maybe) is dropped here
                self.attempt, self.error = attempt, error
        self.done.set()


class _Pool:
    """At most ``size`` calls to one source at a time, each on a daemon thread of its own.

    Daemon threads, so that a call stuck on a stalling server never holds up the
    interpreter's exit; the bound keeps such calls from piling up.
    """

    def __init__(self, source: str, size: int) -> None:
        self.source = source
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self.busy = 0

    def submit(self, call_next: AttemptHandler, request: AttemptRequest) -> _Call | None:
        """Start ``call_next(request)`` on a worker; ``None`` when every worker is held."""
        if not self._slots.acquire(blocking=False):
            return None
        with self._lock:
            self.busy += 1
        call = _Call()
        # The caller's context (its span, its resolution deadline) goes with the call.
        context = contextvars.copy_context()

        def run() -> None:
            attempt: Attempt | None = None
            error: BaseException | None = None
            try:
                attempt = context.run(call_next, request)
            except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                error = exc
            finally:
                with self._lock:
                    self.busy -= 1
                self._slots.release()
            call.settle(attempt, error)

        worker = threading.Thread(target=run, name=f"secrets-{self.source}", daemon=True)
        try:
            worker.start()
        except BaseException:
            with self._lock:
                self.busy -= 1
            self._slots.release()
            raise
        return call


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


def _asked_wait(attempt: Attempt) -> float | None:
    """Return the error's ``retry_after`` when it is a wait at all: a number, 0 or more.

    A source's translation is one line away from the wire, so a negative, NaN or non-number
    is ignored (normal backoff) rather than trusted; ``inf`` stays, to fail over as too long.
    """
    value: object = None if attempt.error is None else attempt.error.retry_after
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value >= 0 else None  # NaN compares false: ignored too
