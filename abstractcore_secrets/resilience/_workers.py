"""Remote calls on worker threads, a bounded pool per source, abandoned at their deadline."""

from __future__ import annotations

import contextvars
import threading

from .._resolution import Attempt
from ..middleware import AttemptHandler, AttemptRequest


class Call:
    """One call on a worker thread; its answer counts only until it is abandoned."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.attempt: Attempt | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._abandoned = False

    def abandon(self) -> None:
        """Give up on the call: whatever it brings back from now on is dropped."""
        with self._lock:
            self._abandoned = True
            self.attempt = self.error = None

    def settle(self, attempt: Attempt | None, error: BaseException | None) -> None:
        """Keep the call's answer (unless abandoned), and wake its waiter."""
        with self._lock:
            if not self._abandoned:  # too late: the answer (a key, maybe) is dropped here
                self.attempt, self.error = attempt, error
        self.done.set()


class Pool:
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

    def submit(self, call_next: AttemptHandler, request: AttemptRequest) -> Call | None:
        """Start ``call_next(request)`` on a worker; ``None`` when every worker is held."""
        if not self._slots.acquire(blocking=False):
            return None
        with self._lock:
            self.busy += 1
        call = Call()
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
