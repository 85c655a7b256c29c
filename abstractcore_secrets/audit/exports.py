"""Compliance exports of audit journals: CSV, JSON lines, OCSF and CEF, streamed.

Records are read one line at a time and rendered one at a time, so a journal of any size
is exported in constant memory. Renderers are small callables (event dict -> text line).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from .journal import CHECKPOINT, read_records

OCSF_VERSION = "1.3.0"
"""The OCSF schema version the export follows (class API Activity, 6003)."""

CSV_COLUMNS = (
    "time",
    "seq",
    "event_id",
    "event",
    "provider",
    "source",
    "outcome",
    "stale",
    "cache_hit",
    "locator",
    "version",
    "fingerprint",
    "user_id",
    "user_pseudo_id",
    "os_user",
    "service.name",
    "host.name",
    "process.pid",
    "trace_id",
    "source_request_id",
    "duration_ms",
    "error.type",
    "error.message",
)


@dataclass(frozen=True)
class Filters:
    """Which events to export; ``None`` means any."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    provider: str | None = None
    source: str | None = None
    outcome: str | None = None
    user: str | None = None

    def __call__(self, event: Mapping[str, Any]) -> bool:
        """Return whether ``event`` passes every filter."""
        user = event.get("user") or {}
        checks = (
            (self.provider, event.get("provider")),
            (self.source, event.get("source")),
            (self.outcome, event.get("outcome")),
        )
        if any(wanted is not None and wanted != actual for wanted, actual in checks):
            return False
        if self.user is not None and self.user not in (user.get("id"), user.get("pseudo_id")):
            return False
        if self.since is None and self.until is None:
            return True
        moment = _aware(dt.datetime.fromisoformat(str(event["time"])))
        return (self.since is None or moment >= _aware(self.since)) and (
            self.until is None or moment < _aware(self.until)
        )


def _aware(moment: dt.datetime) -> dt.datetime:
    """Read a time without a zone as UTC, as the journal writes it."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def events(paths: Iterable[Path], filters: Filters | None = None) -> Iterator[dict[str, Any]]:
    """Yield the audit events of ``paths`` in order, skipping checkpoints and torn lines."""
    keep = filters or Filters()
    for path in paths:
        for _, raw in read_records(Path(path)):
            try:
                record = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a torn line: verification reports it
            if record.get("type") == CHECKPOINT or "event" not in record:
                continue
            event = record["event"]
            if keep(event):
                yield event


def to_jsonl(event: Mapping[str, Any]) -> str:
    """Render one event as a JSON line."""
    return json.dumps(event, sort_keys=True, default=str)


def to_csv(event: Mapping[str, Any]) -> str:
    """Render one event as a CSV row of :data:`CSV_COLUMNS` (no header)."""
    user = event.get("user") or {}
    flat = {
        **event,
        "user_id": user.get("id"),
        "user_pseudo_id": user.get("pseudo_id"),
        "os_user": user.get("os_user"),
    }
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([_cell(flat.get(c)) for c in CSV_COLUMNS])
    return buffer.getvalue()


def _cell(value: object) -> object:
    """Neutralise text a spreadsheet would run as a formula (=, +, -, @ at the start)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def csv_header() -> str:
    """Return the CSV header row."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(CSV_COLUMNS)
    return buffer.getvalue()


def to_ocsf(event: Mapping[str, Any]) -> dict[str, Any]:
    """Map one event to an OCSF 1.3.0 API Activity (class 6003, activity Read)."""
    user = event.get("user") or {}
    success = event.get("outcome") == "found"
    moment = dt.datetime.fromisoformat(str(event["time"]))
    record: dict[str, Any] = {
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": 2,
        "activity_name": "Read",
        "type_uid": 600302,
        "type_name": "API Activity: Read",
        "severity_id": 1 if success or event.get("outcome") == "not_found" else 3,
        "status_id": 1 if success else 2,
        "status": "Success" if success else "Failure",
        "time": int(moment.timestamp() * 1000),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": event.get("event_id"),
            "correlation_uid": event.get("trace_id"),
            "product": {
                "name": "abstractcore-secrets",
                "vendor_name": "abstractcore",
                "version": __version__,
            },
        },
        "actor": {
            "user": {
                "uid": user.get("id") or user.get("pseudo_id") or user.get("os_user") or "unknown",
                "name": user.get("os_user"),
            },
            "app_name": event.get("service.name"),
        },
        "api": {
            "operation": "resolve_secret",
            "service": {"name": event.get("source") or "none"},
            "request": {"uid": event.get("source_request_id") or event.get("event_id")},
        },
        "src_endpoint": {"hostname": event.get("host.name")},
        "resources": [
            {
                "type": "secret",
                "uid": event.get("locator") or f"provider:{event.get('provider')}",
                "name": event.get("provider"),
            }
        ],
        "unmapped": {
            "event": event.get("event"),
            "source": event.get("source"),
            "fingerprint": event.get("fingerprint"),
            "attempts": event.get("attempts"),
            "error_type": event.get("error.type"),
        },
    }
    if not success and event.get("error.message"):
        record["status_detail"] = event["error.message"]
    return record


_CEF_SEVERITY = {"found": 3, "not_found": 5, "denied": 8, "error": 7}


def to_cef(event: Mapping[str, Any]) -> str:
    """Render one event as a CEF:0 line (severity 0-10 by outcome)."""
    user = event.get("user") or {}
    moment = dt.datetime.fromisoformat(str(event["time"]))
    header = "|".join(
        _cef_header(part)
        for part in (
            "CEF:0",
            "abstractcore",
            "abstractcore-secrets",
            __version__,
            str(event.get("event")),
            str(event.get("event", "")).replace(".", " "),
            str(_CEF_SEVERITY.get(str(event.get("outcome")), 5)),
        )
    )
    extensions = {
        "rt": str(int(moment.timestamp() * 1000)),
        "suser": user.get("id") or user.get("pseudo_id"),
        "shost": event.get("host.name"),
        "outcome": event.get("outcome"),
        "cs1Label": "provider",
        "cs1": event.get("provider"),
        "cs2Label": "source",
        "cs2": event.get("source"),
        "cs3Label": "locator",
        "cs3": event.get("locator"),
        "cs4Label": "fingerprint",
        "cs4": event.get("fingerprint"),
        "externalId": event.get("event_id"),
        "msg": event.get("error.message"),
    }
    body = " ".join(
        f"{key}={_cef_value(str(value))}" for key, value in extensions.items() if value is not None
    )
    return f"{header}|{body}"


def _cef_header(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _cef_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


RENDERERS: Mapping[str, Callable[[Mapping[str, Any]], str]] = {
    "jsonl": to_jsonl,
    "csv": to_csv,
    "ocsf": lambda event: json.dumps(to_ocsf(event), sort_keys=True, default=str),
    "cef": to_cef,
}
"""Each export format's renderer: one event in, one line out."""


def export(paths: Iterable[Path], fmt: str, out: Any, filters: Filters | None = None) -> int:  # noqa: ANN401 - a text stream
    """Stream the events of ``paths`` to ``out`` in format ``fmt``; return how many."""
    render = RENDERERS[fmt]
    if fmt == "csv":
        out.write(csv_header() + "\n")
    count = 0
    for event in events(paths, filters):
        out.write(render(event) + "\n")
        count += 1
    return count
