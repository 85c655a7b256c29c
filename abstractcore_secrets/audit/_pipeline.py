"""Sink processors: how an event reaches a sink, now or from a background thread.

As in OpenTelemetry's logs SDK: :class:`SimpleSinkProcessor` calls its sink in the
resolution's thread (the journal: block mode needs its answer before the key is served);
:class:`BatchingSinkProcessor` puts the event on a bounded queue that a background thread
drains, so that a slow logger or collector never delays a resolution. A full queue drops
the event, counted in ``audit.records{result="dropped"}`` and warned about; it never blocks.
A sink that writes batches (:class:`BatchWriter`: the OTel log sink, exporting straight to
OTLP) gets up to ``max_batch_size`` events at once; what it did not record is counted
``failed``. Every event queued ends in one of ``written``, ``failed`` or ``dropped``.
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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from .. import semconv as names
from .._otel import meter
from ..errors import AuditFailureWarning, ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, MeterProvider

    from ._types import AuditEvent, AuditSink, NamedSink

# AuditFailureWarning is defined in errors.py and stays importable from here.
__all__ = [
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_MAX_QUEUE_SIZE",
    "DEFAULT_SCHEDULE_DELAY",
    "EXIT_TIMEOUT",
    "AuditFailureWarning",
    "BatchWriter",
    "BatchingSinkProcessor",
    "SimpleSinkProcessor",
    "records_counter",
]

EXIT_TIMEOUT = 5.0
"""Seconds the batching processors have, together, to deliver their queues at exit."""

DEFAULT_MAX_QUEUE_SIZE = 20_000
"""Events a batching processor holds at most: 2 s of 10,000 resolutions per second, so a
collector that stalls for that long loses nothing (about 2 KiB an event: 40 MiB at most)."""

DEFAULT_MAX_BATCH_SIZE = 512
"""Events handed to a sink that writes batches at once: one OTLP request (about 330 KB)."""

DEFAULT_SCHEDULE_DELAY = 0.2
"""Seconds a batch may wait to fill before it is written (a sink that writes batches only):
at a low rate, one OTLP request per 200 ms rather than one per resolution."""


@runtime_checkable
class BatchWriter(Protocol):
    """A sink that records a batch at once (the OTel log sink: one OTLP export).

    A batching sink processor calls ``write_batch`` with the events it took off its queue,
    each beside the context of the resolution that made it (its span, structlog's context
    variables), and counts the events not recorded as ``failed``.
    """

    def write_batch(self, batch: Sequence[tuple[contextvars.Context, Mapping[str, Any]]]) -> int:
        """Record the events of ``batch``; return how many were recorded (the rest failed)."""
        ...


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
    sink (what it could not deliver in time is counted ``dropped``); at exit, every
    processor still open is closed within :data:`EXIT_TIMEOUT`. The context of the
    resolution (its span, structlog's context variables) is the sink's when it records the
    event.

    A sink that writes batches (:class:`BatchWriter`) receives up to ``max_batch_size``
    events at once: when that many wait, ``schedule_delay`` after the first of them, or at
    ``flush()`` and ``close()``. Other sinks receive each event as soon as the thread can.

    Args:
        sink: A sink that is not durable.
        max_queue_size: Events waiting at most; past it they are dropped.
        max_batch_size: Events taken off the queue at a time.
        schedule_delay: Seconds a batch may wait to fill (a sink that writes batches only).
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
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        schedule_delay: float = DEFAULT_SCHEDULE_DELAY,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        if getattr(sink, "durable", False):
            raise ConfigurationError(
                f"audit sink {sink.name!r} is durable: it is called synchronously "
                "(SimpleSinkProcessor), never from a queue"
            )
        if max_queue_size < 1 or max_batch_size < 1:
            raise ConfigurationError("max_queue_size and max_batch_size must be at least 1")
        if not schedule_delay >= 0:
            raise ConfigurationError("schedule_delay must be a number of seconds >= 0")
        self.sink = sink
        self.name: str = sink.name
        self.max_queue_size = max_queue_size
        self.max_batch_size = max_batch_size
        self.schedule_delay = schedule_delay
        self._full_batch = min(max_batch_size, max_queue_size)
        self._records = records_counter(meter_provider)
        self._reset()
        # A forked child inherits the queue and a lock perhaps held, not the thread.
        in_child = weakref.WeakMethod(self._reset_in_child)
        os.register_at_fork(after_in_child=functools.partial(_call_if_alive, in_child))

    def _reset(self) -> None:
        self._condition = threading.Condition()
        self._queue: collections.deque[tuple[contextvars.Context, AuditEvent]] = collections.deque()
        self._queued = 0  # events accepted so far
        self._taken = 0  # events taken off the queue so far
        self._done = 0  # events delivered (or failed, or dropped at close) so far
        self._flush_to = 0  # a flush waits for the events accepted before it
        self._dropping = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def _reset_in_child(self) -> None:
        closed = self._closed
        self._reset()
        self._closed = closed

    @property
    def pending(self) -> int:
        """Events waiting in the queue now (not those the sink is recording)."""
        with self._condition:
            return len(self._queue)

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
                elif len(self._queue) in (1, self._full_batch):
                    self._condition.notify_all()  # what the thread waits for: not every event
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
            self._flush_to = max(self._flush_to, target)
            self._condition.notify_all()
            delivered = self._condition.wait_for(lambda: self._done >= target, timeout)
        return delivered and _flush(self.sink, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Deliver the queue (within ``timeout`` seconds), stop the thread, close the sink.

        Events still queued when ``timeout`` has passed are dropped (counted, warned about);
        a batch the sink is writing then is counted when it returns.
        """
        with self._condition:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._condition.notify_all()
        if thread is not None:
            thread.join(timeout)
        with self._condition:
            left = len(self._queue)
            self._queue.clear()
            self._done += left
            self._condition.notify_all()
        _open_processors.discard(self)
        _close(self.sink)
        if left:
            self._records.add(left, {names.SINK: self.name, names.RESULT: "dropped"})
            warnings.warn(
                f"audit sink {self.name!r}: closed with {left} events not yet delivered; "
                "they are dropped",
                AuditFailureWarning,
                stacklevel=2,
            )

    def _start_locked(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"audit-sink-{self.name}", daemon=True
        )
        self._thread.start()
        _open_processors.add(self)
        _register_exit_hook()

    def _run(self) -> None:
        writes_batches = isinstance(self.sink, BatchWriter)
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return  # closed, and everything delivered
                if writes_batches and self.schedule_delay > 0:
                    self._condition.wait_for(self._batch_due, self.schedule_delay)
                size = min(self.max_batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(size)]
                self._taken += size
            if writes_batches:
                self._write_batch(batch)
            else:
                for context, event in batch:
                    context.run(self._deliver, event)
            with self._condition:
                self._done += len(batch)
                self._condition.notify_all()

    def _batch_due(self) -> bool:
        return len(self._queue) >= self._full_batch or self._closed or self._flush_to > self._taken

    def _write_batch(self, batch: list[tuple[contextvars.Context, AuditEvent]]) -> None:
        problem = None
        try:
            written = int(cast("BatchWriter", self.sink).write_batch(batch))
        except Exception as exc:  # noqa: BLE001 - counted and reported; the thread goes on
            written, problem = 0, type(exc).__name__
        written = min(max(written, 0), len(batch))
        failed = len(batch) - written
        if written:
            self._records.add(written, {names.SINK: self.name, names.RESULT: "written"})
        if failed:
            self._records.add(failed, {names.SINK: self.name, names.RESULT: "failed"})
            _LOGGER.warning(
                "audit sink %r could not record %d of a batch of %d events%s; the first was "
                "event %s",
                self.name,
                failed,
                len(batch),
                f" ({problem})" if problem else "",
                batch[0][1].get("event_id"),
            )

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
