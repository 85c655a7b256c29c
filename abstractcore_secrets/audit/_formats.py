"""What an export format is: a name, a renderer, a file extension and an optional header.

A format is declared once, next to its renderer, as an :class:`ExportFormat`, and registered
in :mod:`.exports`; from the registry come ``export``'s formats, the CLI's ``--format``
choices and the evidence bundle's file name. Nothing else lists format names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigurationError
from ..llm_providers import looks_like_key
from ..sources.spec import shown

Renderer = Callable[[Mapping[str, Any]], str]
"""Renders one audit event as one line of text, without its line terminator."""

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
