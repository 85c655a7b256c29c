"""The key formats' prefilter: one scan for the literals they require before any regex.

Soundness is the point: whatever a format's regex matches passes the prefilter, so that a
scrub masks exactly what the regex alone masked. The literals are read from the patterns;
a pattern requiring none runs on every text.
"""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from abstractcore_secrets.redaction import RedactionPolicy, _patterns
from abstractcore_secrets.redaction._patterns import (
    COMBINED_PATTERN,
    COMBINED_PREFILTER,
    KEY_PATTERNS,
    SHORTEST_MATCH,
    LiteralPrefilter,
    fold,
    required_literals,
)
from abstractcore_secrets.redaction._policy import MASK

EVERY_CHARACTER = "".join(map(chr, range(sys.maxunicode + 1)))
ASCII = [chr(code) for code in range(128)]
# What surrounds a match: anything, often the characters that end or start a word, a key's
# characters, quotes and backslashes, so that boundaries and look-behinds are tried.
FILLER = st.text(
    st.characters() | st.sampled_from(list(" \t\n-_.:=/\\\"'<>aAsSkK0\u017f\u212a\u0130")),
    max_size=24,
)
# Characters that a regex ignoring case matches to an ASCII letter, beside its two cases.
CASE_VARIANTS = {"s": "\u017f", "k": "\u212a", "i": "\u0130\u0131"}


def _regex_alone(text: str) -> tuple[str, list[str]]:
    """Scrub as the policy did before the prefilter: the formats' regex over every text."""
    counted: list[str] = []

    def mask(match: re.Match[str]) -> str:
        counted.append(f"pattern.{match.lastgroup}")
        return MASK

    if len(text) < SHORTEST_MATCH:
        return text, counted
    return COMBINED_PATTERN.sub(mask, text), counted


def _scrubbed(text: str) -> tuple[str, list[str]]:
    counted: list[str] = []
    return RedactionPolicy(on_redact=counted.append).scrub_text(text), counted


@st.composite
def case_variants(draw: st.DrawFn, text: str) -> str:
    """Draw ``text`` with some letters turned into their variants beyond ASCII."""
    return "".join(
        draw(st.sampled_from([char, *CASE_VARIANTS.get(char.lower(), "")])) for char in text
    )


class TestSoundness:
    @pytest.mark.parametrize("name", list(KEY_PATTERNS))
    @given(data=st.data())
    def test_every_match_of_a_format_passes(self, name, data):
        """Property: a format's match, in any text, passes; the scrub is the regex's own."""
        match = data.draw(st.from_regex(KEY_PATTERNS[name], fullmatch=True), label="match")
        text = data.draw(FILLER, label="before") + match + data.draw(FILLER, label="after")
        assert COMBINED_PREFILTER(text) or not COMBINED_PATTERN.search(text)
        assert _scrubbed(text) == _regex_alone(text)

    @pytest.mark.parametrize("name", ["secret_field", "bearer", "aws_access_key_id"])
    @given(data=st.data())
    def test_case_variants_beyond_ascii_pass(self, name, data):
        """Property: a field written with a long s, a Kelvin sign or a dotted I passes too."""
        match = data.draw(st.from_regex(KEY_PATTERNS[name], fullmatch=True), label="match")
        text = data.draw(FILLER) + data.draw(case_variants(match), label="variant")
        assert COMBINED_PREFILTER(text) or not COMBINED_PATTERN.search(text)
        assert _scrubbed(text) == _regex_alone(text)

    @given(FILLER, FILLER)
    def test_any_text_scrubs_as_the_regex_alone(self, before, after):
        """Property: on any text, with or without a key, the same text and counts come out."""
        text = before + "sk-ant-api03-" + "a" * 20 + after
        for sample in (before + after, text):
            assert _scrubbed(sample) == _regex_alone(sample)

    @pytest.mark.parametrize(
        "text",
        [
            '{"pa\u017f\u017fword": "hunter2-long"}',
            "<SecretAccess\u212aey>wJalrXUtnFEMI</SecretAccess\u212aey>",
            "{'ap\u0130_key': 'value-123456'}",
            "{'ap\u0131_key': 'value-123456'}",
            "BEARER abcdefgh12345",
            "x-amz-security-token:IQoJb3JpZ2luX2Vj",
        ],
        ids=["long-s", "kelvin-sign", "dotted-i", "dotless-i", "upper-case", "header"],
    )
    def test_fields_in_any_case_are_masked(self, text):
        """A secret field the regex matches, case ignored beyond ASCII, is masked as before."""
        assert COMBINED_PATTERN.search(text)
        assert COMBINED_PREFILTER(text)
        assert _scrubbed(text) == _regex_alone(text)
        assert MASK in _scrubbed(text)[0]


class TestFold:
    @pytest.mark.parametrize("written", ["{}", "[{}]"], ids=["literal", "class"])
    def test_what_an_ascii_character_matches_folds_to_it(self, written):
        """Exhaustive: each character an ASCII one matches, case ignored, folds to it."""
        folded = fold(EVERY_CHARACTER)
        for char in ASCII:
            pattern = re.compile(written.format(re.escape(char)), re.IGNORECASE)
            matched = {folded[match.start()] for match in pattern.finditer(EVERY_CHARACTER)}
            assert matched == {char.lower()}, char

    def test_folding_keeps_every_character_in_its_place(self):
        """Exhaustive: one character for one; only four beyond ASCII become ASCII letters."""
        folded = fold(EVERY_CHARACTER)
        assert len(folded) == len(EVERY_CHARACTER)
        into_ascii = {
            char: into
            for char, into in zip(EVERY_CHARACTER[128:], folded[128:], strict=True)
            if into.isascii()
        }
        assert into_ascii == {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}


class TestRequiredLiterals:
    @pytest.mark.parametrize(
        ("pattern", "literals"),
        [
            (r"\bAKIA[A-Z2-7]{16}\b", {("akia", True)}),
            (r"(?i:SecretString)\s*:", {("secretstring", False)}),
            (r"[Bb][Ee]arer\s+\S+", {("bearer", False)}),
            (r"(?<![\w-])sk-(?:proj-)?\w{20,}", {("sk-", False)}),
            (r"\b(?:hvs|hvb)\.\w+|\bs\.\w{24}", {("hvs.", True), ("hvb.", True), ("s.", True)}),
            (
                r"\b(?:gh[pousr]_|github_pat_)",
                {(f"gh{c}_", True) for c in "pousr"} | {("github_pat_", True)},
            ),
            (r"\b(?:-x|y)z", {("-xz", False), ("yz", True)}),
            (r"x\b-y", {("x-y", False)}),
            (r"(?a)\bkey\w+", {("key", False)}),
            (r"x{2,3}", {("xx", False)}),
            (r"\\{0,2}[\"']name", {('"name', False), ("'name", False)}),
            (r"\u00e9+token", {("token", False)}),
            (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", {("private key-----", False)}),
            (r"[0-2]key", {("0key", False), ("1key", False), ("2key", False)}),
            (r"[abcdefghij\u00e9]key", {("key", False)}),
            (r"[ab]{0,6}key", {("key", False)}),
            (r"[abcd]{0,5}key", {("key", False)}),
            pytest.param(
                r"(?>key)s",
                {("keys", False)},
                marks=pytest.mark.skipif(sys.version_info < (3, 11), reason="(?>...) is 3.11's"),
            ),
        ],
        ids=[
            "boundary",
            "case-ignored",
            "classes-of-one-letter",
            "look-behind",
            "alternatives",
            "factored-class",
            "boundary-before-punctuation",
            "boundary-inside",
            "ascii-boundary",
            "repeat",
            "optional-escapes",
            "beyond-ascii",
            "longest-run",
            "narrow-range",
            "wide-class",
            "too-many-strings",
            "too-many-repeats",
            "atomic-group",
        ],
    )
    def test_literals_are_read_from_the_pattern(self, pattern, literals):
        """Literals, in lower case, marked where a word boundary comes before them."""
        assert required_literals(re.compile(pattern)) == literals

    @pytest.mark.parametrize(
        "pattern",
        [r"[0-9a-f]{32}", r"\d+", r"x?y*", r"(\w{4})\1", r"key|[^b]", r".", r"[a-z]{3}"],
        ids=["hex", "digits", "optional", "group-reference", "one-alternative", "any", "class"],
    )
    def test_a_pattern_requiring_no_literal_runs_on_every_text(self, pattern):
        """No literal required: none is returned, and the prefilter lets every text through."""
        assert required_literals(re.compile(pattern)) is None
        assert LiteralPrefilter(re.compile(pattern))("") is True

    def test_a_parse_tree_not_understood_runs_the_pattern_on_every_text(self, monkeypatch):
        """Reading the pattern fails: no literal is claimed, every text goes to the regex."""

        def unreadable(*_args: object) -> None:
            raise TypeError("a node of a shape never seen")

        monkeypatch.setattr(_patterns, "_sequence", unreadable)
        prefilter = LiteralPrefilter(re.compile("sk-[a-z]{20}"))
        assert (prefilter.literals, prefilter("nothing like a key")) == (None, True)

    @pytest.mark.parametrize("name", list(KEY_PATTERNS))
    def test_every_format_requires_literals(self, name):
        """Each format the policy knows requires a literal: the prefilter skips most text."""
        assert required_literals(KEY_PATTERNS[name])
        assert COMBINED_PREFILTER.literals


class TestLiteralPrefilter:
    @pytest.mark.parametrize(
        "text",
        [
            "Found credentials in environment variables.",
            'https://secretsmanager.us-east-1.amazonaws.com:443 "POST / HTTP/1.1" 200 1024',
            "Response headers: {'x-amzn-RequestId': '5b2c', 'Content-Type': 'application/json'}",
            f"Resolved openai from vault: {MASK} (attempt 1 of 3)",
        ],
        ids=["info", "urllib3", "response-headers", "masked-value"],
    )
    def test_ordinary_log_lines_skip_the_regex(self, text):
        """Lines holding no literal any format requires are not given to the regex."""
        assert COMBINED_PREFILTER(text) is False

    @pytest.mark.parametrize(
        ("text", "passes"),
        [
            ("token s.abcdefghijklmnopqrstuvwx", True),
            ("s.abcdefghijklmnopqrstuvwx", True),
            ("requests.abcdefghijklmnopqrstuvwx", False),
            ("key=(hf_abcdefghijklmnopqrstuvwxyzabcdefgh)", True),
            ("key=xhf_abcdefghijklmnopqrstuvwxyzabcdefgh", False),
        ],
        ids=["after-space", "at-start", "inside-a-word", "after-punctuation", "after-letter"],
    )
    def test_a_literal_at_a_word_start_is_checked_there(self, text, passes):
        """A literal the pattern wants at a word's start passes only there, as \\b sees it."""
        assert COMBINED_PREFILTER(text) is passes
        assert bool(COMBINED_PATTERN.search(text)) is passes
