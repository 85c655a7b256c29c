"""The readers of key files, fed any content: the exact text back, or the documented error.

``read_small_text`` returns the file's text untouched; a ``*_FILE`` variable's key loses its
trailing line breaks only; a Vault token file is stripped of surrounding blanks. Content
over the limit, or not UTF-8, is refused with an error naming the path and never any byte
of the content.
"""

from __future__ import annotations

import string
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from abstractcore_secrets import EnvironmentSecretProvider, SecretsManager
from abstractcore_secrets._files import (
    KEY_FILE_LIMIT,
    FileTooLargeError,
    InsecureFilePolicy,
    NotUTF8Error,
    read_small_text,
)
from abstractcore_secrets.errors import ConfigurationError, InvalidSourceError
from abstractcore_secrets.sources.vault_auth import TokenAuth
from abstractcore_secrets.testing.canary import exception_texts, find_leaks

pytestmark = pytest.mark.timeout(60)

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

canaries = st.text(string.ascii_letters + string.digits, min_size=40, max_size=40).map(
    lambda tail: "sk-" + tail
)
blanks = st.text(alphabet=" \t\r\n\x00\x0b\x0c\u2028\u0085\ufeff", max_size=4)
chunks = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20).map(str.encode),
    blanks.map(str.encode),
    st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"\r\n"]),
)


@st.composite
def contents(draw: st.DrawFn) -> tuple[bytes, str]:
    """File content: a canary among hostile chunks, and the canary."""
    canary = draw(canaries)
    before, after = draw(st.lists(chunks, max_size=4)), draw(st.lists(chunks, max_size=4))
    return b"".join(before) + canary.encode() + b"".join(after), canary


def _private(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _decoded(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _outcome(call, *errors):
    """Return ``(result, None)``, or ``(None, error)`` when ``call`` raises one of ``errors``."""
    try:
        return call(), None
    except errors as error:
        return None, error


def _assert_silent(error: BaseException, canary: str) -> None:
    """The error's message, repr, args and chain hold no part of the file."""
    texts = [*exception_texts(error, frame_locals=False), *map(repr, error.args)]
    assert find_leaks(texts, [canary]) == []


class TestReadSmallText:
    @PROPERTY
    @given(case=contents(), slack=st.integers(-3, 3))
    @example(case=(b"sk-" + b"a" * 40 + b"\xff", "sk-" + "a" * 40), slack=0)
    @example(case=(b"sk-" + b"a" * 40 + b"\n\x00 ", "sk-" + "a" * 40), slack=-1)
    def test_near_the_limit_the_exact_text_or_the_documented_error(self, tmp_path, case, slack):
        """At, just under or just over the limit: the text byte for byte, or a silent error."""
        data, canary = case
        limit = max(0, len(data) + slack)
        path = _private(tmp_path / "key", data)
        expected = _decoded(data)
        text, error = _outcome(
            lambda: read_small_text(path, limit=limit, policy=InsecureFilePolicy.REFUSE),
            FileTooLargeError,
            NotUTF8Error,
        )
        if error is not None:
            assert isinstance(error, FileTooLargeError) == (len(data) > limit)
            assert isinstance(error, NotUTF8Error) == (len(data) <= limit and expected is None)
            assert str(path) in str(error)
            _assert_silent(error, canary)
        else:
            assert len(data) <= limit
            assert text == expected

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(slack=st.integers(-2, 2), tail=st.sampled_from([b"", b"\n", b"\xff", b"\xe2\x82"]))
    def test_at_the_key_file_limit(self, tmp_path, slack, tail):
        """Around the real 64 KiB key file cap: read whole below it, refused above it."""
        data = b"k" * (KEY_FILE_LIMIT + slack - len(tail)) + tail
        path = _private(tmp_path / "key", data)
        if len(data) > KEY_FILE_LIMIT:
            with pytest.raises(FileTooLargeError):
                read_small_text(path, limit=KEY_FILE_LIMIT)
        elif _decoded(data) is None:
            with pytest.raises(NotUTF8Error):
                read_small_text(path, limit=KEY_FILE_LIMIT)
        else:
            assert read_small_text(path, limit=KEY_FILE_LIMIT) == data.decode()


class TestKeyFileVariable:
    @PROPERTY
    @given(case=contents())
    @example(case=(("sk-" + "a" * 40 + "\r\n\r\n").encode(), "sk-" + "a" * 40))
    @example(case=(("sk-" + "a" * 40 + " \n").encode(), "sk-" + "a" * 40))
    @example(case=(("sk-" + "a" * 40 + "\u2028").encode(), "sk-" + "a" * 40))
    def test_the_key_without_its_line_breaks_or_an_invalid_source(self, tmp_path, case):
        """OPENAI_API_KEY_FILE: the text minus trailing CR/LF if a clean key, else silent error.

        Through the chain, which runs the value check for every source.
        """
        data, canary = case
        path = _private(tmp_path / "key", data)
        source = EnvironmentSecretProvider({"OPENAI_API_KEY_FILE": str(path)})
        text = _decoded(data)
        value = None if text is None else text.rstrip("\r\n")
        clean = bool(value) and all(c.isprintable() and not c.isspace() for c in value or "")
        resolution = SecretsManager([source], cache=None).resolve("openai")
        error = resolution.attempts[0].error
        if error is not None:
            assert not clean
            assert isinstance(error, InvalidSourceError)
            assert "OPENAI_API_KEY_FILE" in str(error)
            _assert_silent(error, canary)
            assert canary not in repr(resolution)
        else:
            assert clean
            assert resolution.value is not None
            assert resolution.value.reveal() == value


class TestVaultTokenFile:
    @PROPERTY
    @given(case=contents())
    @example(case=(b"\n sk-" + b"a" * 40 + b"\t\n", "sk-" + "a" * 40))
    def test_the_token_stripped_or_a_configuration_error(self, tmp_path, case):
        """A token file: its text stripped of blanks, or a ConfigurationError without it."""
        data, canary = case
        path = _private(tmp_path / "token", data)
        lookups = SimpleNamespace(lookup_self=lambda: {"data": {"ttl": 60}})
        client = SimpleNamespace(token=None, auth=SimpleNamespace(token=lookups))
        text = _decoded(data)
        login, error = _outcome(
            lambda: TokenAuth(token_file=path).login(client), ConfigurationError
        )
        if error is not None:
            assert text is None or not text.strip()
            _assert_silent(error, canary)
        else:
            assert text is not None
            assert login.token == text.strip() == client.token


class TestInsecureFilePolicy:
    @PROPERTY
    @given(
        value=st.one_of(
            canaries,
            st.text(
                st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=60
            ),
        )
    )
    @example(value="sk-" + "a" * 40)
    def test_a_bad_policy_variable_is_refused_without_its_value(self, monkeypatch, value):
        """Any value but refuse/warn: a ConfigurationError that does not repeat it."""
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_INSECURE_FILES", value)
        raw = value.strip().lower()
        if raw in ("", "refuse", "warn"):
            expected = InsecureFilePolicy(raw or "refuse")
            assert InsecureFilePolicy.from_environment() is expected
            return
        with pytest.raises(ConfigurationError, match="use 'refuse' or 'warn'") as caught:
            InsecureFilePolicy.from_environment()
        if len(raw) >= 8:  # a short word may occur in the message by chance
            _assert_silent(caught.value, raw)

    def test_a_key_pasted_into_the_policy_variable_is_not_echoed(self, monkeypatch):
        """Regression: the message, and the enum's ValueError as context, repeated the value."""
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_INSECURE_FILES", "sk-" + "a" * 40)
        with pytest.raises(ConfigurationError) as caught:
            InsecureFilePolicy.from_environment()
        _assert_silent(caught.value, "sk-" + "a" * 40)
        assert caught.value.__context__ is None
