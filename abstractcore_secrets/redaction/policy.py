"""``RedactionPolicy``: by value (with encodings), by key name, by pattern.

Values are learnt as they pass: every resolved key and every credential the sources use.
Scrubbing never raises: if it fails, the whole text is replaced by the mask.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from ..secret import Secret
from .patterns import COMBINED_PATTERN, SHORTEST_MATCH, is_sensitive_key

MASK = "[REDACTED]"
_MIN_VALUE = 6  # shorter values would mask innocent words


def encodings(value: str) -> set[str]:
    """Return ``value`` and the forms it takes in transit.

    Base64 at the three byte alignments (a value inside a longer encoded blob shows as one
    of these cores), URL-encoding, JSON escaping.
    """
    forms = {
        value,
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote_plus(value),
        json.dumps(value)[1:-1],
    }
    raw = value.encode()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        # Drop the characters touched by the padding bytes and by the unknown tail.
        start = (0, 2, 3)[offset]
        core = encoded[start : len(encoded) - 4]
        if len(core) >= 8:
            forms.add(core)
    return forms


class RedactionPolicy:
    """One policy that every signal consults before anything leaves the process.

    Args:
        mask: What replaces a secret.
        patterns: Whether key formats (``sk-...``, ``AKIA...``, JWTs, ...) are masked too.
        on_redact: Called with the rule's name (``value``, ``key``, ``pattern.<name>``) for
            each redaction, for the ``redactions`` counter; it must not raise.
        max_values: Values remembered at most; the one learnt or seen again longest ago is
            forgotten first (an application passing a new ``api_key=`` per tenant must not
            grow it forever, and a key still in use stays).
    """

    def __init__(
        self,
        *,
        mask: str = MASK,
        patterns: bool = True,
        on_redact: Callable[[str], None] | None = None,
        max_values: int = 256,
    ) -> None:
        self.mask = mask
        self.patterns = patterns
        self.on_redact = on_redact
        self.max_values = max_values
        self._known: OrderedDict[str, None] = OrderedDict()
        self._needles: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, *values: str | Secret | None) -> None:
        """Learn values (keys, tokens, passwords) and their encodings, to mask wherever seen."""
        fresh: list[str] = []
        known: list[str] = []
        for value in values:
            text = value.reveal() if isinstance(value, Secret) else value
            if text and len(text) >= _MIN_VALUE:
                (known if text in self._known else fresh).append(text)
        if known:
            # A value learnt again is in use: it moves to the young end, so that the values
            # an application keeps using are never the ones forgotten (no recompiling).
            with self._lock:
                for text in known:
                    if text in self._known:
                        self._known.move_to_end(text)
        if not fresh:
            return
        with self._lock:
            for text in fresh:
                self._known[text] = None
            while len(self._known) > self.max_values:
                self._known.popitem(last=False)
            needles = {
                form for text in self._known for form in encodings(text) if len(form) >= _MIN_VALUE
            }
            # One alternation, longest first, so that an encoding is not cut short by a
            # shorter needle; a scrub is then one scan whatever the number of values.
            self._needles = re.compile(
                "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
            )

    def scrub_text(self, text: str) -> str:
        """Return ``text`` with learnt values and key formats masked."""
        try:
            return self._scrub_text(text)
        except Exception:  # noqa: BLE001 - redaction never raises; it fails closed instead
            return self.mask

    def scrub(self, data: Any) -> Any:  # noqa: ANN401 - any JSON-like structure
        """Return a copy of ``data`` (dicts, lists, strings, ...) with secrets masked.

        Values under sensitive key names (``api_key``, ``token``, ``authorization``, ...)
        are masked whole.
        """
        try:
            return self._scrub(data)
        except Exception:  # noqa: BLE001 - redaction never raises; it fails closed instead
            return self.mask

    def _scrub(self, data: Any) -> Any:  # noqa: ANN401
        if isinstance(data, str):
            return self._scrub_text(data)
        if isinstance(data, Secret):
            self._count("value")
            return self.mask
        if isinstance(data, bytes):
            return self._scrub_text(data.decode("utf-8", "replace"))
        if isinstance(data, Mapping):
            return {key: self._scrub_item(str(key), value) for key, value in data.items()}
        if isinstance(data, (list, tuple)):
            return type(data)(self._scrub(item) for item in data)
        return data

    def _scrub_item(self, key: str, value: Any) -> Any:  # noqa: ANN401
        if (
            value is not None
            and not isinstance(value, (bool, int, float))
            and is_sensitive_key(key)
        ):
            self._count("key")
            return self.mask
        return self._scrub(value)

    def _scrub_text(self, text: str) -> str:
        if self._needles is not None:
            text, count = self._needles.subn(self.mask, text)
            if count:
                self._count("value")
        if self.patterns and len(text) >= SHORTEST_MATCH:
            text = COMBINED_PATTERN.sub(self._mask_match, text)
        return text

    def _mask_match(self, match: re.Match[str]) -> str:
        self._count(f"pattern.{match.lastgroup}")
        return self.mask

    def _count(self, rule: str) -> None:
        if self.on_redact is not None:
            with contextlib.suppress(Exception):  # a broken counter must not stop redaction
                self.on_redact(rule)


_default = RedactionPolicy()


def default_policy() -> RedactionPolicy:
    """Return the process-wide policy that the default middleware and telemetry share."""
    return _default
