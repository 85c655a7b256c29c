"""Key names and key formats that are redacted wherever they appear.

The formats come from public secret scanners (gitleaks, GitHub secret scanning).

Most text holds none of them, and running their regex costs some hundreds of nanoseconds
per character; :data:`COMBINED_PREFILTER` tells first, in one scan, that no format can
match: none of the literals that a match of each format must hold (``sk-``, ``akia``,
``secretstring``, ...) is in the text. The literals are read from the patterns' parse
trees, so they cannot drift from the patterns.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import ahocorasick  # type: ignore[import-not-found]  # a C extension without type stubs

if sys.version_info >= (3, 11):
    from re import _constants as _sre  # type: ignore[attr-defined]  # no stubs: private
    from re import _parser  # type: ignore[attr-defined]
else:  # pragma: no cover - the same modules under their former names
    import sre_constants as _sre
    import sre_parse as _parser

SENSITIVE_KEY_NAMES = frozenset(
    {
        "api_key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "secret",
        "secret_id",
        "client_secret",
        "password",
        "passwd",
        "authorization",
        "x_api_key",
        "cookie",
        "session",
        "private_key",
        "credentials",
        "x_vault_token",
        "vault_token",
        "secret_string",
        "secretstring",
        "aws_secret_access_key",
        "aws_session_token",
    }
)
"""Compared after lower-casing and turning ``-`` into ``_``."""

AWS_CREDENTIAL_FIELDS = (
    "SecretAccessKey",
    "secret_access_key",
    "SessionToken",
    "session_token",
    "aws_secret_access_key",
    "aws_session_token",
    "WebIdentityToken",
    "x-amz-security-token",
    "x-amz-sso_bearer_token",
)
"""Temporary AWS credentials, logged by botocore before anything could learn them: STS
answers (AssumeRole, AssumeRoleWithWebIdentity, in XML), SSO's (JSON, ``secretAccessKey``),
the signed request's headers (``X-Amz-Security-Token``, also in the canonical request)."""

SECRET_FIELDS = (
    "SecretString",
    "SecretBinary",
    "secret_string",
    "api_key",
    "apiKey",
    "client_secret",
    "clientSecret",
    "password",
    "access_token",
    "accessToken",
    "refresh_token",
    "refreshToken",
    "secret_id",
    *AWS_CREDENTIAL_FIELDS,
)
"""Fields whose value is masked wherever a body is logged; names compared in any case."""

_FIELD = "(?i:{})".format("|".join(SECRET_FIELDS))  # names of letters, "-" and "_" only
_AWS_FIELD = "(?i:{})".format("|".join(AWS_CREDENTIAL_FIELDS))
# A quoted value, as JSON or a Python repr prints it (a bytes repr too: b'...'). A run of
# backslashes and the character after it never ends the value, so that quotes escaped twice
# (a JSON document inside a JSON string inside a bytes repr: {\\"openai\\": ...}) stay inside;
# a value ending in an escaped backslash then masks on to the next bare quote: more, never
# less. No closing quote (a truncated body): masked to the end. Escapes before a quote are
# bounded (four layers of JSON take 15): an unbounded run, tried at each of its backslashes,
# would cost the square of its length.
_QUOTED_VALUE = r"""b?\\{0,16}(?:"(?:[^"\\]|\\+[^\\])*(?:"|\\*$)|'(?:[^'\\]|\\+[^\\])*(?:'|\\*$))"""

# Order matters: the more specific format first (Anthropic's sk-ant- before OpenAI's sk-).
KEY_PATTERNS: dict[str, re.Pattern[str]] = {
    "anthropic": re.compile(r"sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{20,}"),
    "openai": re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    "aws_access_key_id": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b"),
    "vault_token": re.compile(r"\b(?:hvs|hvb|hvr)\.[A-Za-z0-9_-]{20,}|\bs\.[A-Za-z0-9]{24}\b"),
    "huggingface": re.compile(r"\bhf_[A-Za-z]{34}\b"),
    "github": re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_\w{22,}"),
    # Not a trailing \b: a key may end in "-", after which no word boundary follows.
    "google": re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    "private_key": re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
    ),
    # A secret field inside a logged body (botocore logs requests and answers at DEBUG before
    # any value could be learnt): the field and its value are masked together. As JSON or a
    # repr (quotes maybe escaped), as XML (STS answers), as a header line or a query parameter
    # (the canonical request botocore logs, a presigned URL).
    "secret_field": re.compile(
        rf"""\\{{0,16}}["']{_FIELD}\\{{0,16}}["']\s*:\s*{_QUOTED_VALUE}"""
        rf"|<{_FIELD}>[^<]*"
        rf"""|\b{_AWS_FIELD}(?:[ \t]*:|=)[ \t]*[^\s&'"<>,;]+"""
    ),
    "bearer": re.compile(r"\b[Bb][Ee][Aa][Rr][Ee][Rr]\s+[A-Za-z0-9._~+/=-]{8,}"),
}


@functools.lru_cache(maxsize=4096)
def is_sensitive_key(name: str) -> bool:
    """Return whether a field, header or attribute named ``name`` holds a secret."""
    normalised = name.lower().replace("-", "_")
    return normalised in SENSITIVE_KEY_NAMES or normalised.rsplit(".", 1)[-1] in SENSITIVE_KEY_NAMES


COMBINED_PATTERN = re.compile(
    "|".join(f"(?P<{name}>{pattern.pattern})" for name, pattern in KEY_PATTERNS.items()),
    re.S,
)
"""All formats in one alternation: one scan of a text instead of one per format."""

SHORTEST_MATCH = 15
"""No format matches a text shorter than this (``bearer`` and 8 characters is the least)."""


Needle = tuple[str, bool]
"""A literal in lower case, and whether a word boundary (``\\b``) comes right before it."""

_CAP = 64  # strings a set of alternatives holds at most; past it, nothing is known
_CLASS_CAP = 8  # characters of a class joined to literals at most: [Bb], [pousr], not [a-z]
_EMPTY: frozenset[Needle] = frozenset({("", False)})
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None))
_GROUPS = (_sre.SUBPATTERN, getattr(_sre, "ATOMIC_GROUP", None))


def fold(text: str) -> str:
    """Return ``text`` in lower case, one character for one, as the literals are written.

    Every character that a pattern's ASCII character matches, case ignored or not,
    becomes that character in lower case: beyond ASCII, the dotted and the dotless i, the
    long s, the Kelvin sign (which ``lower()`` turns into a ``k``).
    """
    if text.isascii():
        return text.lower()
    # Replaced one by one: str.translate() costs twenty times as much.
    return text.replace("\u0130", "i").lower().replace("\u0131", "i").replace("\u017f", "s")


class _Literals:
    """What is known of the text that a piece of a pattern matches, folded.

    A plain class: a dataclass would cost importing the package half a millisecond.
    """

    __slots__ = ("exact", "prefix", "required")

    def __init__(
        self,
        exact: frozenset[Needle] | None = None,
        prefix: frozenset[Needle] = _EMPTY,
        required: frozenset[Needle] | None = None,
    ) -> None:
        self.exact = exact  # every string it can match, if few
        self.prefix = prefix  # every match starts with one of them
        self.required = required  # every match holds one of them


def _exactly(strings: frozenset[Needle]) -> _Literals:
    return _Literals(strings, strings, strings if all(text for text, _ in strings) else None)


def required_literals(pattern: re.Pattern[str]) -> frozenset[Needle] | None:
    """Return literals of which every match of ``pattern`` holds one, folded, or ``None``.

    ``None`` when some match may hold none of them (``[0-9a-f]{32}``): only running the
    pattern tells. A literal marked with a boundary is in the match at a word's start.
    """
    try:
        parsed = _parser.parse(pattern.pattern, pattern.flags)
        found = _sequence(parsed.data, parsed.state.flags).required
    except Exception:  # noqa: BLE001 - a parse tree unknown here: the pattern runs always
        return None
    return _fewest(found) if found else None


def _sequence(items: Iterable[tuple[Any, Any]], flags: int) -> _Literals:
    """Read consecutive pieces: literals joined while few; the most telling set required."""
    candidates: list[frozenset[Needle]] = []
    run = _EMPTY  # the strings that the pieces since the last unknown one match
    prefix: frozenset[Needle] | None = None  # known once a piece is not joined
    for op, av in items:
        piece = _piece(op, av, flags)
        joined = _join(run, piece.prefix)
        if piece.exact is not None and joined is not None:
            run = joined
            continue
        start = run if joined is None else joined
        candidates += (run, piece.prefix) if joined is None else (joined,)
        if piece.required is not None:
            candidates.append(piece.required)
        if prefix is None:
            prefix = start
        run = _EMPTY if piece.exact is None else piece.exact
    candidates.append(run)
    usable = [found for found in candidates if found and all(text for text, _ in found)]
    # The longer its shortest literal, the fewer texts a set lets through.
    required = max(usable, key=_selectivity, default=None)
    if prefix is None:
        return _Literals(run, run, required)
    return _Literals(None, prefix, required)


def _selectivity(needles: frozenset[Needle]) -> tuple[int, int]:
    return min(len(text) for text, _ in needles), -len(needles)


def _piece(op: Any, av: Any, flags: int) -> _Literals:  # noqa: ANN401, PLR0911 - sre's nodes
    """Read one node of a parse tree."""
    if op is _sre.LITERAL:
        char = chr(av)
        return _exactly(frozenset({_needle(char.lower())})) if char.isascii() else _Literals()
    if op is _sre.IN:
        return _class(av)
    if op is _sre.BRANCH:
        return _branch([_sequence(alternative, flags) for alternative in av[1]])
    if op in _GROUPS:
        if op is not _sre.SUBPATTERN:
            return _sequence(av, flags)
        _group, added, removed, items = av
        return _sequence(items, (flags | added) & ~removed)
    if op in _REPEATS:
        low, high, items = av
        return _repeat(low, high, _sequence(items, flags))
    if op is _sre.AT:
        # Under re.ASCII, \b sees ASCII word characters only, not the ones the prefilter
        # checks: that boundary is dropped.
        boundary = av is _sre.AT_BOUNDARY and not flags & _sre.SRE_FLAG_ASCII
        return _exactly(frozenset({("", boundary)}))
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return _exactly(_EMPTY)  # a look-around matches no character
    return _Literals()  # any character, a category, a group's text: nothing known


def _class(items: Iterable[tuple[Any, Any]]) -> _Literals:
    """Read a character class: its characters, if a few ASCII ones, not negated."""
    chars: set[str] = set()
    for op, av in items:
        if op is _sre.LITERAL:
            chars.add(chr(av))
        elif op is _sre.RANGE and av[1] - av[0] < _CLASS_CAP:
            chars.update(map(chr, range(av[0], av[1] + 1)))
        else:  # negated, a category (\d, \w), a wide range
            return _Literals()
    folded = frozenset(_needle(char.lower()) for char in chars if char.isascii())
    if len(folded) > _CLASS_CAP or not all(char.isascii() for char in chars):
        return _Literals()
    return _exactly(folded)


def _branch(alternatives: list[_Literals]) -> _Literals:
    """Read alternatives: what each can match, starts with and requires, together."""
    exact = _union(alternative.exact for alternative in alternatives)
    if exact is not None:
        return _exactly(exact)
    prefix = _union(alternative.prefix for alternative in alternatives)
    required = _union((alternative.required for alternative in alternatives), cap=None)
    return _Literals(None, _EMPTY if prefix is None else prefix, required)


def _union(
    sets: Iterable[frozenset[Needle] | None], cap: int | None = _CAP
) -> frozenset[Needle] | None:
    """Return the union of ``sets``; ``None`` if one is unknown or it holds more than ``cap``."""
    union: frozenset[Needle] = frozenset()
    for found in sets:
        if found is None:
            return None
        union |= found
    return None if cap is not None and len(union) > cap else union


def _repeat(low: int, high: int, body: _Literals) -> _Literals:
    """Read a repeat: its strings if few, else what its body starts with and requires."""
    if body.exact is not None and high <= _CAP:
        found: set[Needle] = set()
        power: frozenset[Needle] | None = _EMPTY
        for count in range(high + 1):
            if power is None or len(found) > _CAP:
                break
            if count >= low:
                found |= power
            power = _join(power, body.exact)
        else:
            if len(found) <= _CAP:
                return _exactly(frozenset(found))
    if low == 0:
        return _Literals()
    return _Literals(None, body.prefix, body.required)


def _join(left: frozenset[Needle], right: frozenset[Needle]) -> frozenset[Needle] | None:
    """Return every string of ``left`` followed by one of ``right``; ``None`` if too many."""
    if len(left) * len(right) > _CAP:
        return None
    return frozenset(
        _needle(text + after, boundary if text else boundary or boundary_after)
        for text, boundary in left
        for after, boundary_after in right
    )


def _needle(text: str, boundary: bool = False) -> Needle:
    # A boundary before a non-word character asks for a word character before it: never
    # checked, it is dropped (more text let through, never less).
    return text, boundary and (not text or _is_word(text[0]))


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _fewest(needles: frozenset[Needle]) -> frozenset[Needle]:
    """Drop the literals that hold another: wherever they are, the other is too."""
    return frozenset(
        needle
        for needle in needles
        if not any(other != needle and _holds(needle, other) for other in needles)
    )


def _holds(needle: Needle, other: Needle) -> bool:
    """Return whether ``other`` is found wherever ``needle`` is."""
    text, boundary = needle
    found, other_boundary = other
    start = text.find(found)
    while start >= 0:
        if not other_boundary or (boundary if start == 0 else not _is_word(text[start - 1])):
            return True
        start = text.find(found, start + 1)
    return False


class _NeedleAutomaton(Protocol):
    """What the prefilter uses of ``ahocorasick.Automaton``."""

    def iter(self, text: str) -> Iterator[tuple[int, Needle]]:
        """Yield ``(end index, needle)`` of every occurrence of a needle in ``text``."""
        ...


class LiteralPrefilter:
    """Tell, in one scan of a text, that a pattern cannot match it.

    The literals are read from the pattern, and their automaton built, at the first call
    (some milliseconds that importing the package does not pay).

    Args:
        pattern: The pattern to run only where it may match.
    """

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    @functools.cached_property
    def literals(self) -> frozenset[Needle] | None:
        """Literals of which each match holds one (see :func:`required_literals`)."""
        return required_literals(self.pattern)

    @functools.cached_property
    def _automaton(self) -> _NeedleAutomaton | None:
        if self.literals is None:
            return None
        automaton = ahocorasick.Automaton()
        for needle in self.literals:
            automaton.add_word(needle[0], needle)
        automaton.make_automaton()
        found: _NeedleAutomaton = automaton
        return found

    def __call__(self, text: str) -> bool:
        """Return ``False`` if the pattern cannot match ``text``, ``True`` if it may."""
        automaton = self._automaton
        if automaton is None:
            return True
        # fold() keeps each character where it was: an index is one in both texts.
        for end, (needle, boundary) in automaton.iter(fold(text)):
            start = end - len(needle) + 1
            if not boundary or start == 0 or not _WORD.match(text, start - 1):
                return True
        return False


_WORD = re.compile(r"\w")  # as \b sees a word character

COMBINED_PREFILTER = LiteralPrefilter(COMBINED_PATTERN)
"""Whether :data:`COMBINED_PATTERN` may match a text: run it only then."""
