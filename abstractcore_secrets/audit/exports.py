"""Compliance exports of audit journals, streamed, in any registered format.

Records are read one line at a time and rendered one at a time, so a journal of any size
is exported in constant memory. Renderers are small callables (event dict -> text line);
each is declared once as an :class:`ExportFormat` and registered here. The package ships
:data:`BUILTIN_EXPORT_FORMATS` (CSV, JSON lines, OCSF, CEF); another module adds one with
:func:`register_export_format`, and ``export``, the CLI's ``--format`` and the evidence
bundle offer it at once.

Every reader goes through :func:`events`, which gives each event the ``count``,
``first_time`` and ``last_time`` of a summary's shape: an older record without them stands
for one resolution (``count`` 1, no first or last time).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._version import __version__
from ..audit_event import CSV_COLUMNS
from ..errors import ConfigurationError, UnknownExportFormatError
from ..sources.spec import shown
from ._formats import (
    COUNT_MAX,
    ExportFormat,
    Renderer,
    epoch_millis,
    is_aggregate,
    parse_time,
    resolutions,
    window,
)
from ._ocsf import OCSF_FORMAT, OCSF_VERSION, to_ocsf
from .journal import CHECKPOINT, ROTATED, journal_files, read_records

__all__ = [
    "BUILTIN_EXPORT_FORMATS",
    "CSV_COLUMNS",
    "OCSF_VERSION",
    "RENDERERS",
    "ExportFormat",
    "Filters",
    "Renderer",
    "Skipped",
    "csv_header",
    "events",
    "export",
    "export_format_names",
    "find_export_format",
    "register_export_format",
    "to_cef",
    "to_csv",
    "to_jsonl",
    "to_ocsf",
    "unregister_export_format",
]


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
        user = _mapping(event.get("user"))
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


@dataclass
class Skipped:
    """Lines of the journals that are not audit events: skipped and counted, never fatal.

    ``count`` counts them all; ``where`` keeps the first few (file, line, why), so that a
    journal of any size is read in constant memory.
    """

    count: int = 0
    where: list[tuple[str, int, str]] = field(default_factory=list)

    def add(self, path: Path, line: int, why: str) -> None:
        """Count one skipped line."""
        self.count += 1
        if len(self.where) < _SKIPPED_SHOWN:
            self.where.append((str(path), line, why))

    def __str__(self) -> str:
        """Say how many lines were skipped, and where the first ones are."""
        places = "; ".join(f"{path}:{line} ({why})" for path, line, why in self.where)
        more = ", ..." if self.count > len(self.where) else ""
        return (
            f"skipped {self.count} line(s) that are not audit events "
            f"(run audit verify): {places}{more}"
        )


_SKIPPED_SHOWN = 10


def events(
    paths: Iterable[Path],
    filters: Filters | None = None,
    skipped: Skipped | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the audit events of ``paths`` in chain order, skipping checkpoints and odd lines.

    Files are read journal by journal, each in chain order (:func:`.journal.journal_files`),
    whatever order they are given in. A line that is not an audit event (torn, not JSON, not
    an object, no event object, a ``time`` that is not ISO 8601, a ``count`` that is not a
    whole number from 1 up, a ``first_time`` or ``last_time`` that is neither null nor ISO
    8601) is skipped and counted in ``skipped``; the events after it are still yielded.

    Every event yielded has ``count``, ``first_time`` and ``last_time``: an older record
    without them is given 1, null and null.

    Args:
        paths: Journal files, live or rotated.
        filters: Which events to yield; default all.
        skipped: Where to count the lines skipped.
    """
    keep = filters or Filters()
    skipped = skipped if skipped is not None else Skipped()
    for path in (file for journal in journal_files(paths) for file in journal):
        for line, raw in read_records(path):
            event, why = _event_of(raw)
            if why:
                skipped.add(path, line, why)
            elif event is not None and keep(event):
                yield event


def _event_of(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """Return a line's event (None for a checkpoint or rotation), or why it is not one."""
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return None, "not JSON: torn or edited"
    if not isinstance(record, dict):
        return None, f"a JSON {type(record).__name__}, not a record"
    if record.get("type") in (CHECKPOINT, ROTATED) and "event" not in record:
        return None, ""
    event = record.get("event")
    if not isinstance(event, dict):
        return None, "no event object"
    try:
        dt.datetime.fromisoformat(event["time"])
    except (KeyError, TypeError, ValueError):
        return None, "no ISO 8601 time"
    why = _count_fields(event)
    return (None, why) if why else (event, "")


def _count_fields(event: dict[str, Any]) -> str:
    """Give ``event`` a count, first and last time (1, null, null if it has none); return
    why it cannot have them, if so."""
    count = resolutions(event)
    if count is None:
        # A forged or garbled count would inflate or cancel every total that sums counts.
        return f"a count that is not a whole number from 1 to {COUNT_MAX}"
    if any(
        event.get(name) is not None and parse_time(event[name]) is None
        for name in ("first_time", "last_time")
    ):
        return "a first_time or last_time that is not ISO 8601"
    event["count"] = count
    event.setdefault("first_time", None)
    event.setdefault("last_time", None)
    return ""


def to_jsonl(event: Mapping[str, Any]) -> str:
    """Render one event as a JSON line."""
    return json.dumps(event, sort_keys=True, default=str)


JSONL_FORMAT = ExportFormat("jsonl", to_jsonl, extension="jsonl")
"""The events as the journal holds them, one JSON object per line."""


def to_csv(event: Mapping[str, Any]) -> str:
    """Render one event as a CSV row of :data:`CSV_COLUMNS` (no header).

    A field holding a line break is quoted, so that the row stays one record to a CSV reader,
    and text a spreadsheet would run as a formula is neutralised.
    """
    user = _mapping(event.get("user"))
    flat = {
        **event,
        "user_id": user.get("id"),
        "user_pseudo_id": user.get("pseudo_id"),
        "os_user": user.get("os_user"),
    }
    return _csv_row([_cell(flat.get(c)) for c in CSV_COLUMNS])


def _csv_row(cells: Iterable[object]) -> str:
    """Write one CSV row without its terminator.

    The writer quotes a field holding a character of its line terminator, and only those: with
    CRLF as the terminator, a field holding CR or LF is quoted, and the terminator is cut off.
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=_CRLF).writerow(cells)
    return buffer.getvalue().removesuffix(_CRLF)


_CRLF = "\r\n"
# OWASP's CSV injection list, plus the full-width signs some spreadsheets also read as formulas.
_FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20")
# Invisible characters that are not whitespace to str.lstrip but that a spreadsheet may drop
# (a byte order mark, zero-width spaces and joiners) before reading the formula sign.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def _cell(value: object) -> object:
    """Neutralise text a spreadsheet would run as a formula.

    A formula sign (=, +, -, @) at the start, or after leading blanks (spaces, TAB, CR, LF,
    any Unicode space) or invisible characters (a BOM, zero-width spaces), which spreadsheets
    may skip, and a leading TAB or CR themselves: each gets a leading quote.
    """
    if value is None:
        return ""
    if isinstance(value, str) and (
        value[:1] in ("\t", "\r") or _lstrip_invisible(value)[:1] in _FORMULA_STARTS
    ):
        return "'" + value
    return value


def _lstrip_invisible(text: str) -> str:
    """Strip leading whitespace and invisible characters, however interleaved."""
    while True:
        stripped = text.lstrip().lstrip(_INVISIBLE)
        if stripped == text:
            return text
        text = stripped


def csv_header() -> str:
    """Return the CSV header row."""
    return _csv_row(CSV_COLUMNS)


CSV_FORMAT = ExportFormat("csv", to_csv, extension="csv", header=csv_header())
"""One row of :data:`CSV_COLUMNS` per event, after a header row."""


def _mapping(value: object) -> Mapping[str, Any]:
    """Return ``value`` if it is a mapping (a journal's ``user``), else an empty one."""
    return value if isinstance(value, Mapping) else {}


_CEF_SEVERITY = {"found": 3, "not_found": 5, "denied": 8, "error": 7}


def to_cef(event: Mapping[str, Any]) -> str:
    """Render one event as a CEF:0 line (severity 0-10 by outcome).

    A summary carries its count as ``cnt`` (CEF's baseEventCount) and its first and last hit
    as ``start`` and ``end`` (epoch milliseconds, as ``rt``).
    """
    user = _mapping(event.get("user"))
    moment = _aware(dt.datetime.fromisoformat(str(event["time"])))
    first, last = window(event)
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
        "rt": str(epoch_millis(moment)),
        "cnt": resolutions(event) if is_aggregate(event) else None,
        "start": None if first is None else epoch_millis(first),
        "end": None if last is None else epoch_millis(last),
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
    return _cef_line_breaks(text.replace("\\", "\\\\").replace("|", "\\|"))


def _cef_value(text: str) -> str:
    return _cef_line_breaks(text.replace("\\", "\\\\").replace("=", "\\="))


# Every character str.splitlines() breaks at: CEF escapes CR as \r; the others, which a
# reader may also take for the end of the line, as \n. Headers too: a field there must not
# start a forged record on a line of its own.
_CEF_LINE_BREAKS = str.maketrans(
    {"\r": "\\r"} | dict.fromkeys("\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", "\\n")
)


def _cef_line_breaks(text: str) -> str:
    return text.translate(_CEF_LINE_BREAKS)


CEF_FORMAT = ExportFormat("cef", to_cef, extension="cef")
"""CEF:0 lines for a SIEM, severity by outcome."""

BUILTIN_EXPORT_FORMATS: tuple[ExportFormat, ...] = (
    CSV_FORMAT,
    JSONL_FORMAT,
    OCSF_FORMAT,
    CEF_FORMAT,
)
"""The formats that ship with the package, in the order ``--format`` lists them."""

RENDERERS: Mapping[str, Renderer] = MappingProxyType(
    {fmt.name: fmt.render for fmt in BUILTIN_EXPORT_FORMATS}
)
"""The built-in formats' renderers by name, for code written before the registry; prefer
:func:`find_export_format`, which also knows the formats registered since."""

_lock = threading.Lock()
_registry: dict[str, ExportFormat] = {fmt.name: fmt for fmt in BUILTIN_EXPORT_FORMATS}


def register_export_format(fmt: ExportFormat, *, replace: bool = False) -> None:
    """Make ``fmt`` a format that :func:`export`, ``--format`` and evidence bundles offer.

    Registering the same format twice is harmless (a module imported again).

    Args:
        fmt: The format, named as ``--format`` will take it.
        replace: Replace a different format registered under that name.

    Raises:
        ConfigurationError: A different format is registered under that name already, and
            ``replace`` is false.
    """
    with _lock:
        known = _registry.get(fmt.name)
        if known is not None and known != fmt and not replace:
            raise ConfigurationError(
                f"an export format named {fmt.name!r} is registered already; pick another "
                "name or pass replace=True to replace it"
            )
        _registry[fmt.name] = fmt


def unregister_export_format(name: str) -> None:
    """Forget the format registered as ``name`` (a built-in one comes back as it shipped)."""
    builtin = {fmt.name: fmt for fmt in BUILTIN_EXPORT_FORMATS}
    with _lock:
        if name in builtin:
            _registry[name] = builtin[name]
        else:
            _registry.pop(name, None)


def export_format_names() -> tuple[str, ...]:
    """Return the names of the formats registered now, built-in ones first."""
    with _lock:
        return tuple(_registry)


def find_export_format(name: str) -> ExportFormat:
    """Return the format registered as ``name``.

    Raises:
        ConfigurationError: No format is registered as ``name``; the message names the
            known ones.
    """
    with _lock:
        fmt = _registry.get(name)
    if fmt is None:
        raise UnknownExportFormatError(
            f"{shown(name)} is no export format; known: {', '.join(export_format_names())}"
        )
    return fmt


def export(
    paths: Iterable[Path],
    fmt: str,
    out: Any,  # noqa: ANN401 - a text stream
    filters: Filters | None = None,
    skipped: Skipped | None = None,
) -> int:
    """Stream the events of ``paths`` to ``out`` in format ``fmt``; return how many.

    Lines that are not audit events are skipped and counted in ``skipped`` (see
    :func:`events`); the events after them are exported.

    Raises:
        ConfigurationError: ``fmt`` is no registered format (:func:`find_export_format`).
    """
    chosen = find_export_format(fmt)
    if chosen.header is not None:
        out.write(chosen.header + "\n")
    count = 0
    for event in events(paths, filters, skipped):
        out.write(chosen.render(event) + "\n")
        count += 1
    return count
