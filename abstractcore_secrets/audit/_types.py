"""The audit pipeline's contracts, in one place: events, processors, sinks, sink processors.

The path of an event (docs/architecture.md) is built from these: the middleware builds the
event once, passes it through the processors (plain callables), and hands what is left to
each sink processor, synchronous or batching, which ends in a sink.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ..audit_event import AuditEvent

__all__ = ["AuditEvent", "AuditProcessor", "AuditSink", "NamedSink", "SinkProcessor"]

AuditProcessor = Callable[[AuditEvent], "AuditEvent | None"]
"""Transforms an event (scrubs, pseudonymises, filters); ``None`` drops it, as structlog's
``DropEvent``. A processor returns a new dict or the one it was given, changed."""


class NamedSink(Protocol):
    """The least a sink is: a name and a call. A sink written before :class:`AuditSink` is
    adapted once by its sink processor: not durable unless it says so, always listening,
    nothing to flush or close unless it has the method."""

    name: str

    def __call__(self, event: AuditEvent) -> None:
        """Record one event; raise if it could not be recorded."""
        ...


class AuditSink(Protocol):
    """Where events end: the journal, a logger, OTel logs, memory.

    Attributes:
        name: Labels the ``audit.records`` counter and the warnings.
        durable: ``True`` when ``__call__`` returns only once the event is on stable
            storage: such a sink is called synchronously, and in ``block`` failure mode its
            failure denies the key.
    """

    name: str
    durable: bool

    def __call__(self, event: AuditEvent) -> None:
        """Record one event; raise if it could not be recorded."""
        ...

    def listening(self) -> bool:
        """Whether an event would go anywhere now (else none is built, if no sink listens)."""
        ...

    def flush(self, timeout: float | None = None) -> bool:
        """Push out what the sink buffers, within ``timeout`` seconds; ``False`` if not all."""
        ...

    def close(self) -> None:
        """Flush and release what the sink holds; it receives nothing afterwards."""
        ...


@runtime_checkable
class SinkProcessor(Protocol):
    """Hands events to one sink, now (synchronous) or later (batching), as OTel's
    ``LogRecordProcessor`` does to its exporter.

    Attributes:
        name: The sink's name.
        durable: Whether the sink is durable; only a synchronous processor may be.
    """

    name: str
    durable: bool

    def on_emit(self, event: AuditEvent) -> None:
        """Hand over one event; a synchronous processor raises what the sink raised."""
        ...

    def listening(self) -> bool:
        """Whether the sink would record an event now."""
        ...

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver everything handed over so far, within ``timeout`` seconds."""
        ...

    def close(self, timeout: float | None = None) -> None:
        """Flush, then close the sink; later events are dropped."""
        ...
