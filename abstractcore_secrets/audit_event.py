"""The audit event: its fields, declared once, below both the audit and telemetry layers.

The audit middleware builds events with exactly these fields, in this order (a test holds it
to that); the CSV export's columns, and the table in docs/telemetry.md, are read from here.
Journal checkpoints and alarms are events of other shapes (see the journal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AuditEvent = dict[str, Any]
"""One audit event: the fields of :data:`FIELDS`, by name."""


@dataclass(frozen=True)
class Field:
    """One field of an audit event.

    Attributes:
        name: Its key.
        meaning: What it holds (never a value: a fingerprint names one).
        csv_columns: The CSV export's columns it becomes: itself, an object's members, or
            none (a list, or a field the CSV row leaves out).
    """

    name: str
    meaning: str
    csv_columns: tuple[str, ...] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The CSV columns, itself when not said otherwise."""
        return (self.name,) if self.csv_columns is None else self.csv_columns


FIELDS: tuple[Field, ...] = (
    Field("time", "RFC 3339, UTC, microseconds"),
    Field("seq", "order within the process"),
    Field("event_id", "a UUID"),
    Field("event", "the event name (secret.resolved, secret.not_found, ...)"),
    Field("provider", "the LLM provider whose key was asked for"),
    Field("source", "the source that answered"),
    Field("outcome", "found, not_found, denied or error"),
    Field("stale", "an older value served while its source was down"),
    Field("degraded", "a lower source's value served while a higher one was down"),
    Field("cache_hit", "served from the cache"),
    Field(
        "attempts",
        "list of source, outcome, error_type, tries, duration_ms",
        csv_columns=(),
    ),
    Field("locator", "where the value was found (never the value)"),
    Field("version", "the source's version of the value"),
    Field("fingerprint", "hmac-sha256:<hex> of the value"),
    Field(
        "user",
        "id (the principal) or pseudo_id, and os_user",
        csv_columns=("user_id", "user_pseudo_id", "os_user"),
    ),
    Field("service.name", "the service that resolved"),
    Field("host.name", "the host it ran on"),
    Field("process.pid", "its process"),
    Field("trace_id", "the secrets.resolve span's trace"),
    Field("span_id", "the secrets.resolve span", csv_columns=()),
    Field("source_request_id", "the source's id for the request"),
    Field("duration_ms", "how long the resolution took"),
    Field("error.type", "why it failed, or was served stale or degraded"),
    Field("error.message", "the error, scrubbed"),
    Field("count", "resolutions it stands for: 1, or the hits a secret.accessed summary counts"),
    Field("first_time", "the first hit a summary counts (null for other events)"),
    Field("last_time", "the last hit a summary counts (null for other events)"),
)
"""The fields of an audit event, in the order the middleware writes them."""

FIELD_NAMES = tuple(field.name for field in FIELDS)

CSV_COLUMNS = tuple(column for field in FIELDS for column in field.columns)
"""The CSV export's columns: each field, objects flattened (``user_id``, ...), lists left
out."""
