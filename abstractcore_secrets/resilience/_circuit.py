"""A circuit breaker per source: stop asking a source that keeps failing, probe it later."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable

from ..errors import ErrorCategory

FAILURES = frozenset({ErrorCategory.UNAVAILABLE, ErrorCategory.TIMEOUT, ErrorCategory.THROTTLED})
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
