"""The config file and its ``secrets`` settings, read from hostile documents.

Whatever the bytes (not JSON, not UTF-8, a BOM, nested past the parser's limit, numbers too
large for a float, NaN, duplicate keys, wrong types anywhere), reading either returns a
well-typed result or raises the documented error; and a key-like string planted anywhere in
the document never reaches the error's message, repr or arguments.
"""

from __future__ import annotations

import dataclasses
import json
import math
import string
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from abstractcore_secrets._config_file import ConfigFile
from abstractcore_secrets._files import InsecureFilePolicy
from abstractcore_secrets.config import ChainSettings, load_settings
from abstractcore_secrets.errors import ConfigurationError, InvalidSourceError
from abstractcore_secrets.source_factories import SOURCE_FACTORIES
from abstractcore_secrets.testing.canary import exception_texts, find_leaks

pytestmark = pytest.mark.timeout(60)  # a parser that hangs fails here

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

canaries = st.text(string.ascii_letters + string.digits, min_size=40, max_size=40).map(
    lambda tail: "sk-" + tail
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**308, max_value=10**400),  # past a float's range
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["env", "vault", "config", "aws", "azure", "refuse", "warn", "dev", ""]),
    canaries,
)
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "chain",
            "cache",
            "ttl",
            "negative_ttl",
            "max_stale",
            "sources",
            "vault",
            "aws",
            "resilience",
            "attempts",
            "timeout",
            "profiles",
            "profile",
            "dev",
            "audit",
            "journal",
            "checkpoint_every",
            "pseudonymize",
            "insecure_files",
            "addr",
            "api_keys",
        ]
    ),
    canaries,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)
setting_names = [
    "chain",
    "cache",
    "sources",
    "resilience",
    "profiles",
    "profile",
    "audit",
    "insecure_files",
]
secrets_sections = st.fixed_dictionaries({}, optional=dict.fromkeys(setting_names, json_values))
documents = st.one_of(
    st.fixed_dictionaries({"secrets": secrets_sections}, optional={"api_keys": json_values}),
    json_values,
)


def _canaries_in(value: object) -> list[str]:
    """Every string of ``value`` (keys included) that looks like a planted key."""
    if isinstance(value, str):
        return [value] if value.startswith("sk-") and len(value) == 43 else []
    if isinstance(value, dict):
        return [c for k, v in value.items() for c in (*_canaries_in(k), *_canaries_in(v))]
    if isinstance(value, list):
        return [c for item in value for c in _canaries_in(item)]
    return []


def _duplicate_keys(text: str, canary: str) -> str:
    """Repeat the first key of an object with a canary as its first value (JSON allows it)."""
    return text.replace("{", '{"profile": "' + canary + '", ', 1) if text.startswith("{") else text


@st.composite
def encoded_documents(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A document as bytes, maybe mangled, and the canaries planted in it."""
    document = draw(documents)
    planted = _canaries_in(document)
    text = json.dumps(document, allow_nan=True)
    mangle = draw(
        st.sampled_from(["none", "duplicate", "bom", "utf16", "bad-byte", "cut", "deep", "bytes"])
    )
    if mangle == "duplicate":
        canary = draw(canaries)
        planted.append(canary)
        text = _duplicate_keys(text, canary)
    data = text.encode()
    if mangle == "bom":
        data = b"\xef\xbb\xbf" + data
    elif mangle == "utf16":
        data = text.encode("utf-16")
    elif mangle == "bad-byte":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\x80", b"\xc3", b"\x00"])) + data[at:]
    elif mangle == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif mangle == "deep":
        depth = draw(st.integers(900, 10_000))
        opener = draw(st.sampled_from(['{"secrets":' + "[" * depth, '{"a":' * depth]))
        data = (opener + text).encode()
    elif mangle == "bytes":
        data = draw(st.binary(max_size=200))
    return data, planted


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _outcome(call, *errors):
    """Return ``(result, None)``, or ``(None, error)`` when ``call`` raises one of ``errors``."""
    try:
        return call(), None
    except errors as error:
        return None, error


def _assert_no_canary(error: BaseException, planted: list[str]) -> None:
    texts = [*exception_texts(error, frame_locals=False), *map(repr, error.args)]
    assert find_leaks(texts, planted) == []


def _assert_well_typed(result: ChainSettings) -> None:
    assert isinstance(result.chain, tuple)
    assert result.chain
    assert all(name in SOURCE_FACTORIES for name in result.chain)
    assert len(set(result.chain)) == len(result.chain)
    for seconds in (result.cache_ttl, result.negative_ttl, result.max_stale):
        assert isinstance(seconds, float)
        assert math.isfinite(seconds)
        assert seconds >= 0
    assert isinstance(result.insecure_files, InsecureFilePolicy)
    assert result.profile is None or isinstance(result.profile, str)
    assert isinstance(result.sources, dict)
    assert all(isinstance(options, dict) for options in result.sources.values())
    for section in (result.cache, result.resilience, result.audit):
        hints = typing.get_type_hints(type(section))
        for item in dataclasses.fields(section):
            value, hint = getattr(section, item.name), hints[item.name]
            kinds = tuple(typing.get_origin(k) or k for k in typing.get_args(hint)) or (hint,)
            assert isinstance(value, kinds if typing.get_origin(hint) is not tuple else tuple)
            assert not (isinstance(value, float) and not math.isfinite(value))
            assert not isinstance(value, tuple) or all(isinstance(v, str) for v in value)


@pytest.fixture
def config_path(tmp_path):
    """A config file path in a private folder (the settings' permission check passes)."""
    tmp_path.chmod(0o700)
    return tmp_path / "abstractcore.json"


class TestConfigFileLoad:
    @PROPERTY
    @given(case=encoded_documents())
    @example(case=(b"[" * 10_000, []))
    @example(case=(b'{"n": ' + b"9" * 5000 + b"}", []))
    @example(case=(b"\xef\xbb\xbf{}", []))
    def test_any_bytes_load_as_an_object_or_raise_invalid_source(self, config_path, case):
        """Any bytes: a dict, or an InvalidSourceError naming the file and no planted key."""
        data, planted = case
        _write(config_path, data)
        document, error = _outcome(ConfigFile(config_path).load, InvalidSourceError)
        if error is not None:
            assert str(config_path) in str(error)
            _assert_no_canary(error, planted)
        else:
            assert isinstance(document, dict)


class TestLoadSettings:
    @PROPERTY
    @given(case=encoded_documents())
    @example(case=(b'{"secrets": {"profile": ["dev"]}}', []))
    @example(case=(b'{"secrets": {"cache": {"ttl": 1' + b"0" * 400 + b"}}}", []))
    @example(case=(b'{"secrets": {"resilience": {"attempts": Infinity}}}', []))
    @example(case=(b'{"secrets": {"resilience": {"attempts": NaN}}}', []))
    @example(case=(b'{"secrets": {"sources": {"vault": 1}}}', []))
    def test_any_document_gives_typed_settings_or_a_configuration_error(self, config_path, case):
        """Any document: well-typed settings, or ConfigurationError / InvalidSourceError."""
        data, planted = case
        _write(config_path, data)
        result, error = _outcome(
            lambda: load_settings(config_path, environ={}), ConfigurationError, InvalidSourceError
        )
        if error is not None:
            _assert_no_canary(error, planted)
        else:
            _assert_well_typed(result)

    @PROPERTY
    @given(
        field=st.sampled_from(
            [
                ("chain", lambda c: [c]),
                ("chain", lambda c: ["env", c]),
                ("profile", lambda c: c),
                ("profiles", lambda c: {"dev": {}, c: {}}),
                ("insecure_files", lambda c: c),
                ("cache", lambda c: {"ttl": c}),
                ("cache", lambda c: {"max_stale": c}),
                ("resilience", lambda c: {c: 1}),
                ("resilience", lambda c: {"attempts": c}),
                ("audit", lambda c: {c: "x"}),
                ("audit", lambda c: {"checkpoint_every": c}),
                ("sources", lambda c: {"vault": c}),
            ]
        ),
        canary=canaries,
    )
    def test_a_key_in_the_wrong_setting_is_not_echoed(self, config_path, field, canary):
        """A key pasted into any setting, as a value or a name, stays out of the error."""
        name, shape = field
        extra = {"profile": "nope"} if name == "profiles" else {}
        _write(config_path, json.dumps({"secrets": {name: shape(canary), **extra}}).encode())
        with pytest.raises(ConfigurationError) as caught:
            load_settings(config_path, environ={})
        _assert_no_canary(caught.value, [canary])

    @PROPERTY
    @given(
        variable=st.sampled_from(
            [
                "ABSTRACTCORE_SECRETS_CHAIN",
                "ABSTRACTCORE_SECRETS_PROFILE",
                "ABSTRACTCORE_SECRETS_CACHE_TTL",
                "ABSTRACTCORE_SECRETS_MAX_STALE",
                "ABSTRACTCORE_SECRETS_INSECURE_FILES",
            ]
        ),
        canary=canaries,
    )
    def test_a_key_in_a_settings_variable_is_not_echoed(self, config_path, variable, canary):
        """A key pasted into an ABSTRACTCORE_SECRETS_* variable stays out of the error."""
        _write(config_path, b"{}")
        with pytest.raises(ConfigurationError) as caught:
            load_settings(config_path, environ={variable: canary})
        _assert_no_canary(caught.value, [canary])


class TestRegressions:
    """Hostile documents the properties found; each raised something other than documented."""

    @pytest.mark.parametrize(
        ("data", "error"),
        [
            (b"[" * 10_000, InvalidSourceError),
            (b'{"n": ' + b"9" * 5000 + b"}", InvalidSourceError),
            (b'{"secrets": {"profile": ["dev"]}}', ConfigurationError),
            (b'{"secrets": {"profile": 7, "profiles": {"7": {}}}}', ConfigurationError),
            (b'{"secrets": {"cache": {"ttl": 1' + b"0" * 400 + b"}}}", ConfigurationError),
            (b'{"secrets": {"resilience": {"attempts": Infinity}}}', ConfigurationError),
            (b'{"secrets": {"resilience": {"attempts": NaN}}}', ConfigurationError),
            (b'{"secrets": {"audit": {"max_bytes": -Infinity}}}', ConfigurationError),
            (b'{"secrets": {"resilience": {"timeout": 1' + b"0" * 400 + b"}}}", ConfigurationError),
            (b'{"secrets": {"sources": {"vault": 1}}}', ConfigurationError),
        ],
        ids=[
            "nested-past-the-limit",
            "integer-past-the-digit-limit",
            "profile-a-list",
            "profile-a-number",
            "ttl-past-a-float",
            "attempts-infinite",
            "attempts-nan",
            "max-bytes-infinite",
            "timeout-past-a-float",
            "source-options-not-an-object",
        ],
    )
    def test_hostile_documents_raise_the_documented_error(self, config_path, data, error):
        """Each is refused with the documented error, not a RecursionError, ValueError, ..."""
        _write(config_path, data)
        with pytest.raises(error) as caught:
            load_settings(config_path, environ={})
        assert type(caught.value) in (ConfigurationError, InvalidSourceError)

    @pytest.mark.parametrize(
        ("secrets", "environ"),
        [
            ({"chain": ["sk-" + "a" * 40]}, {}),
            ({"chain": ["env", "sk-" + "a" * 40, "sk-" + "a" * 40]}, {}),
            ({"profile": "sk-" + "a" * 40}, {}),
            ({"profile": "x", "profiles": {"sk-" + "a" * 40: {}}}, {}),
            ({"insecure_files": "sk-" + "a" * 40}, {}),
            ({"cache": {"ttl": "sk-" + "a" * 40}}, {}),
            ({"resilience": {"sk-" + "a" * 40: 1}}, {}),
            ({}, {"ABSTRACTCORE_SECRETS_CHAIN": "sk-" + "a" * 40}),
            ({}, {"ABSTRACTCORE_SECRETS_PROFILE": "sk-" + "a" * 40}),
        ],
        ids=[
            "chain",
            "chain-twice",
            "profile",
            "profile-names",
            "insecure-files",
            "ttl",
            "option-name",
            "chain-variable",
            "profile-variable",
        ],
    )
    def test_a_key_pasted_into_a_setting_is_not_echoed(self, config_path, secrets, environ):
        """The message says what is wrong, without repeating a key-like value."""
        _write(config_path, json.dumps({"secrets": secrets}).encode())
        with pytest.raises(ConfigurationError) as caught:
            load_settings(config_path, environ=environ)
        _assert_no_canary(caught.value, ["sk-" + "a" * 40])
