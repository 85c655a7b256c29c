"""``RedactionPolicy``: by value (with encodings), by key name, by pattern.

Values are learnt as they pass: every resolved key and every credential the sources use.
Scrubbing never raises: if it fails, the whole text is replaced by the mask.

Learnt values are found with an Aho-Corasick automaton: a scrub costs in proportion to the
text, whatever the number of values; learning builds a new automaton and swaps it in, so that
scrubbing threads never wait for it (each uses the automaton it read). Key formats are looked
for only in a text that holds a literal one of them requires (one more automaton's scan).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

import ahocorasick  # type: ignore[import-not-found]  # a C extension without type stubs

from .._secret import Secret
from ._patterns import COMBINED_PATTERN, COMBINED_PREFILTER, SHORTEST_MATCH, is_sensitive_key

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
        # Each value learnt, oldest first, with the forms it is masked in.
        self._known: OrderedDict[str, frozenset[str]] = OrderedDict()
        # Replaced whole, never changed in place: scrubbing threads take no lock.
        self._needles: _Automaton | None = None
        self._built = 0  # the generation of _known that _needles finds
        self._generation = 0
        self._clean = _CleanTexts(None, patterns)
        # Held for dictionary updates only, never for a build: a cache hit re-learning its
        # key never waits for another thread's new automaton.
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
            # an application keeps using are never the ones forgotten (no rebuilding).
            with self._lock:
                for text in known:
                    if text in self._known:
                        self._known.move_to_end(text)
                    else:  # forgotten since the look above
                        fresh.append(text)
        if fresh:
            self._learn(fresh)

    def _learn(self, fresh: list[str]) -> None:
        forms = {text: _needles_of(text) for text in fresh}
        with self._lock:
            for text in fresh:
                self._known[text] = forms[text]
                self._known.move_to_end(text)  # learnt twice in one call, or by two threads
            while len(self._known) > self.max_values:
                self._known.popitem(last=False)
            self._generation += 1
            generation = self._generation
            snapshot = list(self._known.values())
        automaton = _automaton(form for found in snapshot for form in found)
        with self._lock:
            # Learners building at once: the newest snapshot wins (it holds every value of
            # the older ones); an older build finishing last must not replace it.
            if generation > self._built:
                self._needles, self._built = automaton, generation

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
        needles = self._needles  # read once: a learner may swap in a new one meanwhile
        patterns = self.patterns
        clean = self._clean
        if clean.needles is not needles or clean.patterns != patterns:
            clean = self._clean = _CleanTexts(needles, patterns)
        # Exact strings only: a subclass's own equality could claim to be a clean text.
        exact = type(text) is str
        if exact and text in clean.texts:
            return text
        scrubbed = text
        if needles is not None:
            scrubbed = self._mask_values(needles, scrubbed)
        if patterns and len(scrubbed) >= SHORTEST_MATCH and COMBINED_PREFILTER(scrubbed):
            scrubbed = COMBINED_PATTERN.sub(self._mask_match, scrubbed)
        if exact and scrubbed == text:
            clean.remember(text)
        return scrubbed

    def _mask_values(self, needles: _Automaton, text: str) -> str:
        """Mask the leftmost, then longest, occurrences of learnt forms, without overlaps.

        The automaton reports every occurrence (ending at each index, overlapping ones
        included); keeping the longest one per start and walking the starts in order masks
        what an alternation of the forms, longest first, would match.
        """
        longest: dict[int, int] = {}
        for end, length in needles.iter(text):
            start = end - length + 1
            if length > longest.get(start, 0):
                longest[start] = length
        if not longest:
            return text
        pieces: list[str] = []
        cursor = 0
        for start in sorted(longest):
            if start >= cursor:
                pieces += (text[cursor:start], self.mask)
                cursor = start + longest[start]
        pieces.append(text[cursor:])
        self._count("value")
        return "".join(pieces)

    def _mask_match(self, match: re.Match[str]) -> str:
        self._count(f"pattern.{match.lastgroup}")
        return self.mask

    def _count(self, rule: str) -> None:
        if self.on_redact is not None:
            with contextlib.suppress(Exception):  # a broken counter must not stop redaction
                self.on_redact(rule)


class _CleanTexts:
    """Texts found to hold nothing to mask, with one automaton and pattern setting.

    The same texts come back on every resolution (a locator, a principal, a provider's
    name): found clean once, they are not scanned again. Tied to the automaton it was
    filled with: a value learnt since (a new automaton) starts an empty set, so that a text
    holding that value is never taken for clean. Masked texts are not remembered: each
    redaction is counted.
    """

    LIMIT = 4096
    """Texts remembered at most; the set is emptied when full (most are a handful)."""

    LONGEST = 512
    """Longer texts (free-form messages) are rarely repeated: not remembered."""

    def __init__(self, needles: _Automaton | None, patterns: bool) -> None:
        self.needles = needles
        self.patterns = patterns
        self.texts: set[str] = set()

    def remember(self, text: str) -> None:
        """Remember ``text`` as clean (unless it is too long to be worth it)."""
        if len(text) > self.LONGEST:
            return
        if len(self.texts) >= self.LIMIT:
            self.texts.clear()
        self.texts.add(text)


class _Automaton(Protocol):
    """What the policy uses of ``ahocorasick.Automaton``."""

    def iter(self, text: str) -> Iterator[tuple[int, int]]:
        """Yield ``(end index, length)`` of every occurrence of a needle in ``text``."""
        ...


def _needles_of(value: str) -> frozenset[str]:
    """Return the forms of ``value`` long enough to mask without masking innocent words."""
    return frozenset(form for form in encodings(value) if len(form) >= _MIN_VALUE)


def _automaton(forms: Iterable[str]) -> _Automaton | None:
    """Build an automaton finding each of ``forms``, its value the form's length."""
    automaton = ahocorasick.Automaton()
    for form in forms:
        automaton.add_word(form, len(form))
    if len(automaton) == 0:
        return None
    automaton.make_automaton()
    found: _Automaton = automaton
    return found


_default = RedactionPolicy()


def default_policy() -> RedactionPolicy:
    """Return the process-wide policy that the default middleware and telemetry share."""
    return _default
