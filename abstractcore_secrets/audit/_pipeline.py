"""Sink processors: how an event reaches a sink, now or from a background thread.

As in OpenTelemetry's logs SDK: :class:`SimpleSinkProcessor` calls its sink in the
resolution's thread (the journal: block mode needs its answer before the key is served);
:class:`BatchingSinkProcessor` puts the event on a bounded queue that a background thread
drains, so that a slow logger or collector never delays a resolution. A full queue drops
the event, counted in ``audit.records{result="dropped"}`` and warned about; it never blocks.
"""

from __future__ import annotations

import atexit
import collections
import contextvars
import functools
import logging
import os
import threading
import time
import warnings
import weakref
from typing import TYPE_CHECKING, Any

from .. import semconv as names
from .._otel import meter
from ..errors import AuditFailureWarning, ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, MeterProvider

    from ._types import AuditEvent, AuditSink, NamedSink

# AuditFailureWarning is defined in errors.py and stays importable from here.
__all__ = [
    "EXIT_TIMEOUT",
    "AuditFailureWarning",
    "BatchingSinkProcessor",
    "SimpleSinkProcessor",
    "records_counter",
]

EXIT_TIMEOUT = 5.0
"""Seconds the batching processors have, together, to deliver their queues at exit."""

_LOGGER = logging.getLogger("abstractcore_secrets.audit")


def records_counter(meter_provider: MeterProvider | None = None) -> Counter:
    """Return the ``audit.records`` counter (by sink and result)."""
    return meter(meter_provider).create_counter(
        names.AUDIT_RECORDS, unit="{record}", description="Audit records by sink and result."
    )


class SimpleSinkProcessor:
    """Call the sink in the caller's thread; count and report a failure, then re-raise it.

    A sink that predates the :class:`~abstractcore_secrets.audit.AuditSink` protocol (a bare
    callable with a ``name``) is adapted here, once: not durable, always listening.

    Args:
        sink: The sink.
        meter_provider: Where ``audit.records`` is counted; default the global one.
    """

    def __init__(
        self, sink: AuditSink | NamedSink, *, meter_provider: MeterProvider | None = None
    ) -> None:
        self.sink = sink
        self.name: str = sink.name
        self.durable: bool = bool(getattr(sink, "durable", False))
        self._records = records_counter(meter_provider)
        self._closed = False

    def listening(self) -> bool:
        """Whether the sink would record an event now (a sink without ``listening`` does)."""
        return _listening(self.sink)

    def on_emit(self, event: AuditEvent) -> None:
        """Record ``event`` in the sink now.

        Raises:
            Exception: What the sink raised, once counted and warned about.
        """
        try:
            self.sink(event)
        except Exception as exc:
            self._records.add(1, {names.SINK: self.name, names.RESULT: "failed"})
            warnings.warn(_failure(self.name, exc, event), AuditFailureWarning, stacklevel=3)
            raise
        self._records.add(1, {names.SINK: self.name, names.RESULT: "written"})

    def flush(self, timeout: float | None = None) -> bool:
        """Flush the sink, if it buffers anything."""
        return _flush(self.sink, timeout)

    def close(self, timeout: float | None = None) -> None:  # noqa: ARG002 - nothing queued
        """Close the sink (once)."""
        if not self._closed:
            self._closed = True
            _close(self.sink)


class BatchingSinkProcessor:
    """Queue events for a background thread that hands them to the sink.

    The thread starts with the first event. ``flush()`` waits until every event queued
    before it is delivered; ``close()`` delivers the queue, stops the thread and closes the
    sink; at exit, every processor still open is closed within :data:`EXIT_TIMEOUT`. The
    context of the resolution (its span, structlog's context variables) is the sink's when
    it records the event.

    Args:
        sink: A sink that is not durable.
        max_queue_size: Events waiting at most; past it they are dropped.
        max_batch_size: Events taken off the queue at a time.
        meter_provider: Where ``audit.records`` is counted; default the global one.

    Raises:
        ConfigurationError: ``sink`` is durable: its record must be made before the key is
            served, so it is called synchronously.
    """

    durable = False

    def __init__(
        self,
        sink: AuditSink | NamedSink,
        *,
        max_queue_size: int = 2048,
        max_batch_size: int = 512,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        if getattr(sink, "durable", False):
            raise ConfigurationError(
                f"audit sink {sink.name!r} is durable: it is called synchronously "
                "(SimpleSinkProcessor), never from a queue"
            )
        if max_queue_size < 1 or max_batch_size < 1:
            raise ConfigurationError("max_queue_size and max_batch_size must be at least 1")
        self.sink = sink
        self.name: str = sink.name
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self._records = records_counter(meter_provider)
        self._reset()
        # A forked child inherits the queue and a lock perhaps held, not the thread.
        in_child = weakref.WeakMethod(self._reset_in_child)
        os.register_at_fork(after_in_child=functools.partial(_call_if_alive, in_child))

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._queue: collections.deque[tuple[contextvars.Context, AuditEvent]] = collections.deque()
        self._queued = 0  # events accepted so far
        self._done = 0  # events delivered (or failed) so far
        self._dropping = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def _reset_in_child(self) -> None:
        closed = self._closed
        self._reset()
        self._closed = closed

    def listening(self) -> bool:
        """Whether the sink would record an event now."""
        return _listening(self.sink)

    def on_emit(self, event: AuditEvent) -> None:
        """Queue ``event``, or drop it (counted, warned about) if the queue is full or closed."""
        context = contextvars.copy_context()
        with self._condition:
            accepted = not self._closed and len(self._queue) < self.max_queue_size
            if accepted:
                self._queue.append((context, event))
                self._queued += 1
                self._dropping = False
                if self._thread is None:
                    self._start_locked()
                self._condition.notify_all()
                return
            first_drop, self._dropping = not self._dropping, True
        self._records.add(1, {names.SINK: self.name, names.RESULT: "dropped"})
        if first_drop:  # once per overflow, not once per event
            reason = "closed" if self._closed else f"full ({self.max_queue_size} events)"
            warnings.warn(
                f"audit sink {self.name!r}: queue {reason}; event {event.get('event_id')} "
                "and those after it are dropped until there is room",
                AuditFailureWarning,
                stacklevel=3,
            )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event queued so far is delivered, then flush the sink.

        Returns:
            ``False`` if ``timeout`` seconds passed first.
        """
        with self._condition:
            target = self._queued
            delivered = self._condition.wait_for(lambda: self._done >= target, timeout)
        return delivered and _flush(self.sink, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Deliver the queue (within ``timeout`` seconds), stop the thread, close the sink."""
        with self._condition:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._condition.notify_all()
        if thread is not None:
            thread.join(timeout)
        _open_processors.discard(self)
        _close(self.sink)

    def _start_locked(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"audit-sink-{self.name}", daemon=True
        )
        self._thread.start()
        _open_processors.add(self)
        _register_exit_hook()

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return  # closed, and everything delivered
                size = min(self.max_batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(size)]
            for context, event in batch:
                context.run(self._deliver, event)
            with self._condition:
                self._done += len(batch)
                self._condition.notify_all()

    def _deliver(self, event: AuditEvent) -> None:
        try:
            self.sink(event)
        except Exception as exc:  # noqa: BLE001 - counted and reported; the thread goes on
            self._records.add(1, {names.SINK: self.name, names.RESULT: "failed"})
            _LOGGER.warning("%s", _failure(self.name, exc, event))
        else:
            self._records.add(1, {names.SINK: self.name, names.RESULT: "written"})


def _call_if_alive(method: weakref.WeakMethod[Any]) -> None:
    bound = method()
    if bound is not None:
        bound()


def _failure(name: str, exc: BaseException, event: AuditEvent) -> str:
    return (
        f"audit sink {name!r} failed ({type(exc).__name__}); event "
        f"{event.get('event_id')} was not recorded there"
    )


def _listening(sink: object) -> bool:
    listening = getattr(sink, "listening", None)
    return True if listening is None else bool(listening())


def _flush(sink: object, timeout: float | None) -> bool:
    flush = getattr(sink, "flush", None)
    return True if flush is None else flush(timeout) is not False


def _close(sink: object) -> None:
    close = getattr(sink, "close", None)
    if close is not None:
        close()


_open_processors: weakref.WeakSet[BatchingSinkProcessor] = weakref.WeakSet()
_exit_hook_registered = False
_exit_lock = threading.Lock()


def _register_exit_hook() -> None:
    """Close the open processors at exit: registered on first use, so after telemetry's
    own exit hook, and run before it (atexit runs last-registered first)."""
    global _exit_hook_registered  # noqa: PLW0603 - one hook per process
    with _exit_lock:
        if not _exit_hook_registered:
            atexit.register(_close_all, EXIT_TIMEOUT)
            _exit_hook_registered = True


def _close_all(timeout: float) -> None:
    threads: list[Any] = []
    for processor in list(_open_processors):
        thread = threading.Thread(target=processor.close, args=(timeout,), daemon=True)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
