"""What an export format is, and how every reader counts the resolutions a record stands for.

A format is declared once, next to its renderer, as an :class:`ExportFormat`, and registered
in :mod:`.exports`; from the registry come ``export``'s formats, the CLI's ``--format``
choices and the evidence bundle's file name. Nothing else lists format names.

A record stands for ``count`` resolutions: 1 for an event of its own, N for a summary of N
cache hits (``secret.accessed``, with ``first_time`` and ``last_time``). Records written
before summaries existed have no ``count``: they stand for one. :func:`resolutions` and
:func:`window` are the one reading of these fields that renderers, the report, the evidence
bundle and ``find-key`` share.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from ..llm_providers import looks_like_key
from ..semconv import EVENT_ACCESSED
from ..sources.spec import shown

Renderer = Callable[[Mapping[str, Any]], str]
"""Renders one audit event as one line of text, without its line terminator."""

COUNT_MAX = 2**53 - 1
"""The largest ``count`` a reader accepts: the largest whole number every JSON reader holds
exactly (RFC 7493). A real summary counts far fewer; a larger one was not written by us."""


def resolutions(event: Mapping[str, Any]) -> int | None:
    """Return how many resolutions ``event`` stands for: its ``count``, 1 when it has none.

    Returns:
        The count, or ``None`` when ``count`` is not a whole number from 1 to
        :data:`COUNT_MAX` (a string, a boolean, a float, null, zero, negative, too large).
    """
    if "count" not in event:
        return 1
    count = event["count"]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= COUNT_MAX:
        return None
    return count


def is_aggregate(event: Mapping[str, Any]) -> bool:
    """Return whether ``event`` is a summary, or otherwise stands for more than one resolution.

    Formats that have a count of their own (OCSF's ``count``, CEF's ``cnt``) write it for
    these records only: an event of its own is one occurrence, as those standards read a
    record without a count.
    """
    return event.get("event") == EVENT_ACCESSED or (resolutions(event) or 1) > 1


def parse_time(value: object) -> dt.datetime | None:
    """Return an RFC 3339 time as an aware datetime (UTC when it has no zone), else ``None``."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)


def window(event: Mapping[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Return the first and last hit a summary counts; ``None`` for each one not recorded."""
    return parse_time(event.get("first_time")), parse_time(event.get("last_time"))


def epoch_millis(moment: dt.datetime) -> int:
    """Return an aware datetime as milliseconds since the epoch (OCSF's and CEF's times)."""
    return int(moment.timestamp() * 1000)


# A format's name is typed after --format and its extension ends a file name in the evidence
# bundle: neither may hold a path separator, a blank or a leading dot.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_EXTENSION = re.compile(r"[A-Za-z0-9]+(\.[A-Za-z0-9]+){0,3}")


@dataclass(frozen=True)
class ExportFormat:
    """One export format: how an event is rendered and how the export file is named.

    Attributes:
        name: What ``--format`` and :func:`.exports.export` call it, e.g. ``"csv"``.
        render: One event in, one line out (no line terminator); it must render only what
            the event holds, which the audit processors have already scrubbed.
        extension: The export file's extension in an evidence bundle, without the dot,
            e.g. ``"ocsf.jsonl"``.
        header: A line written before the first event (a CSV header row), if any.

    Raises:
        ConfigurationError: ``name`` or ``extension`` is not a short plain name, or
            ``render`` is not callable.
    """

    name: str
    render: Renderer
    extension: str
    header: str | None = None

    def __post_init__(self) -> None:
        """Refuse a name or an extension that could not be typed or used in a file name."""
        if (
            not isinstance(self.name, str)
            or not _NAME.fullmatch(self.name)
            # It is listed in --help and in every unknown-format error.
            or looks_like_key(self.name)
        ):
            raise ConfigurationError(
                f"an export format's name must be 1-32 lowercase letters, digits, '-' or '_', "
                f"starting with a letter or digit, not shaped like a key; got {shown(self.name)}"
            )
        if not isinstance(self.extension, str) or not _EXTENSION.fullmatch(self.extension):
            raise ConfigurationError(
                f"the export format {self.name!r} has the extension {shown(self.extension)}; "
                "an extension is letters and digits, with dots between parts (no leading dot)"
            )
        if not callable(self.render):
            raise ConfigurationError(
                f"the export format {self.name!r} has a renderer that is not callable"
            )
