"""Where audit events go: a logger (structlog when configured, else stdlib) and OTel logs.

A sink follows :class:`~abstractcore_secrets.audit.AuditSink`: a callable taking the event
dict, with ``name``, ``durable``, ``listening()``, ``flush()`` and ``close()``. It may raise;
its sink processor counts and reports the failure (``audit.records{result=failed}`` and a
warning), never silently. A sink may also write whole batches (``write_batch``, see
:class:`~abstractcore_secrets.audit._pipeline.BatchWriter`): a batching sink processor then
hands it what it takes off its queue at once, and counts what the sink says it recorded.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from opentelemetry import _logs
from opentelemetry._logs._internal import ProxyLoggerProvider

from .. import semconv as names

if TYPE_CHECKING:
    from opentelemetry._logs import LoggerProvider

AUDIT_LOGGER = "abstractcore_secrets.audit"

DirectExport = Callable[[Sequence[_logs.LogRecord]], bool]
"""Exports log records now, in the caller's thread; ``True`` when every exporter took them."""


@runtime_checkable
class DirectExportProvider(Protocol):
    """A logger provider that can export records without its own queue (the one
    ``configure_telemetry()`` sets up)."""

    def direct_export(self, name: str, version: str | None = None) -> DirectExport | None:
        """Return a function exporting records of the scope ``name``, or ``None``."""
        ...


class LoggingSink:
    """Send events to structlog if the application configured it, else to stdlib logging.

    With stdlib logging the event is one JSON line on the ``abstractcore_secrets.audit``
    logger at INFO: silent until the application routes that logger somewhere.
    """

    name = "log"
    durable = False

    def __init__(self, logger_name: str = AUDIT_LOGGER) -> None:
        self.logger_name = logger_name

    def flush(self, timeout: float | None = None) -> bool:  # noqa: ARG002 - nothing buffered
        """Nothing is buffered here (the application's handlers flush themselves)."""
        return True

    def close(self) -> None:
        """Nothing to release: the logger is the application's."""

    def listening(self) -> bool:
        """Whether an event would go anywhere: structlog configured, or the logger enabled."""
        import structlog

        return structlog.is_configured() or logging.getLogger(self.logger_name).isEnabledFor(
            logging.INFO
        )

    def __call__(self, event: Mapping[str, Any]) -> None:
        """Emit one event."""
        import structlog

        level = logging.WARNING if is_warning(event) else logging.INFO
        if structlog.is_configured():
            structlog.get_logger(self.logger_name).log(level, **event)
            return
        logger = logging.getLogger(self.logger_name)
        if logger.isEnabledFor(level):  # silent by default: do not even serialise
            logger.log(level, json.dumps(event, default=str))


class OTelLogSink:
    """Emit events as OpenTelemetry log records with an event name (exported over OTLP).

    The record's timestamp is the event's ``time``; its trace and span ids are those of the
    current span (``secrets.resolve``). Attributes follow :func:`otlp_attributes`, the shape
    the collector's journal receiver gives journal records too.

    With the logger provider of ``configure_telemetry()`` (one with ``direct_export``),
    batches from a batching sink processor (:meth:`write_batch`) are exported at once, from
    that processor's thread: its queue is the only one they wait in, and an export that
    fails is counted. Otherwise, and for a single event (:meth:`__call__`), the record goes
    through the logs API, and the provider's processors (the SDK's queue) take it from there.
    """

    name = "otel"
    durable = False

    def __init__(self, logger_provider: LoggerProvider | None = None) -> None:
        self._provider = logger_provider
        self._logger = _logs.get_logger(
            names.SCOPE, names.SCOPE_VERSION, logger_provider=logger_provider
        )
        self._direct: DirectExport | None = None

    def flush(self, timeout: float | None = None) -> bool:  # noqa: ARG002 - nothing buffered
        """Nothing is buffered here: the SDK's processors export (``Telemetry.force_flush``)."""
        return True

    def close(self) -> None:
        """Nothing to release: the logger provider is shut down by whoever set it up."""

    def listening(self) -> bool:
        """Whether an OTel SDK logger provider is set (the API alone drops every record)."""
        return not isinstance(
            self._current_provider(), (_logs.NoOpLoggerProvider, ProxyLoggerProvider)
        )

    def __call__(self, event: Mapping[str, Any]) -> None:
        """Emit one event through the logs API."""
        self._logger.emit(**_record_fields(event))

    def write_batch(self, batch: Sequence[tuple[contextvars.Context, Mapping[str, Any]]]) -> int:
        """Export ``batch`` at once where the provider allows it, else emit each event.

        Returns:
            How many events were recorded: all, or none when the export failed (after the
            exporter's retries).
        """
        export = self._direct_export()
        emitted, records = 0, []
        for context, event in batch:
            try:
                if export is None:
                    context.run(self, event)
                    emitted += 1
                else:  # made in the event's context: its trace and span ids are its span's
                    records.append(context.run(_record, event))
            except Exception:  # noqa: BLE001, S112 - not recorded: counted as failed
                continue
        if export is None:
            return emitted
        return len(records) if records and export(records) else 0

    def _current_provider(self) -> object:
        return self._provider or _logs.get_logger_provider()

    def _direct_export(self) -> DirectExport | None:
        if self._direct is None:
            provider = self._current_provider()
            if isinstance(provider, DirectExportProvider):
                self._direct = provider.direct_export(names.SCOPE, names.SCOPE_VERSION)
        return self._direct


def _record_fields(event: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an event's log record, for ``Logger.emit`` and ``LogRecord`` alike."""
    severity = _logs.SeverityNumber.WARN if is_warning(event) else _logs.SeverityNumber.INFO
    return {
        "timestamp": _unix_nanos(event.get("time")),
        "event_name": str(event["event"]),
        "body": str(event["event"]),
        "attributes": otlp_attributes(event),
        "severity_number": severity,
        "severity_text": severity.name,
    }


def _record(event: Mapping[str, Any]) -> _logs.LogRecord:
    """An event's log record, with the current context's trace and span ids."""
    return _logs.LogRecord(**_record_fields(event))


def is_warning(event: Mapping[str, Any]) -> bool:
    """Whether ``event`` is recorded at WARN: a key refused or failed, or one served while
    a source was down (``stale``: an older value; ``degraded``: a lower source's).
    """
    return (
        event.get("outcome") in ("denied", "error")
        or event.get("stale") is True
        or event.get("degraded") is True
        or event.get("event") == "audit.alarm"  # the journal found tampering
    )


def fan_out(sinks: Iterable[Callable[[dict[str, Any]], None]]) -> Callable[[dict[str, Any]], None]:
    """Return a hook that sends an event to each of ``sinks`` (as they are now).

    For the journal's ``on_checkpoint`` and ``on_alarm``: its checkpoints and alarms then
    leave the host by the same ways as the audit events (the OTel log sink ships them over
    OTLP). A failing sink is logged and skipped; the others still receive the event.

    Args:
        sinks: Audit sinks, without the journal itself.
    """
    targets = tuple(sinks)

    def send(event: dict[str, Any]) -> None:
        for sink in targets:
            try:
                sink(event)
            except Exception as exc:  # noqa: BLE001 - one sink's failure must not stop the others
                # Its type only: the exception's text may quote a credential.
                logging.getLogger(AUDIT_LOGGER).warning(
                    "audit sink %r failed on %s (%s)",
                    getattr(sink, "name", "?"),
                    event.get("event"),
                    type(exc).__name__,
                )

    return send


def otlp_attributes(event: Mapping[str, Any]) -> dict[str, str | bool | int | float]:
    """Return an audit event as flat OTLP attributes.

    Scalars stay as they are; an object is flattened one level (``user`` becomes
    ``user.id``, ``user.os_user``); a list becomes its canonical JSON (sorted keys, no
    spaces), byte for byte the text the journal holds. Nulls and ``event`` (the record's
    event name) are left out. The collector's journal receiver applies the same rule.

    Args:
        event: An audit event, as the audit middleware builds it.

    Returns:
        The attributes of its OTLP log record.
    """
    attributes: dict[str, str | bool | int | float] = {}
    for key, value in event.items():
        if value is None or key == "event":
            continue
        if isinstance(value, Mapping):
            for inner, member in value.items():
                if isinstance(member, (str, bool, int, float)):
                    attributes[f"{key}.{inner}"] = member
                elif member is not None:
                    attributes[f"{key}.{inner}"] = _canonical_json(member)
        elif isinstance(value, (str, bool, int, float)):
            attributes[key] = value
        else:
            attributes[key] = _canonical_json(value)
    return attributes


def _canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _unix_nanos(stamp: object) -> int | None:
    """Return an RFC 3339 ``time`` as nanoseconds since the epoch (exact to the microsecond)."""
    if not isinstance(stamp, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (moment - _EPOCH) // dt.timedelta(microseconds=1) * 1000


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
