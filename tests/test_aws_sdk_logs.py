"""What botocore lets out about a resolution: no key and no credential, in its logs or errors.

botocore logs requests and answers at DEBUG before anything could learn the values in them:
a JSON secret's other fields (keys of providers never resolved), and the temporary
credentials an assumed role brings (the STS answer, then the signed request's
``X-Amz-Security-Token``). Its exceptions hold the signed request (headers included) in
their attributes and frames. Each test plants canaries, drives a real botocore against a
real moto server, and searches everything that came out for them, in every escaping.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import traceback
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from abstractcore_secrets import (
    AWSSecretsProvider,
    Resilience,
    RetryPolicy,
    SecretsManager,
    SourceError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
)
from abstractcore_secrets.redaction import RedactionPolicy, encodings
from abstractcore_secrets.redaction._processors import ValueLearner, install_logging_redaction
from abstractcore_secrets.testing import FaultProxy
from abstractcore_secrets.testing.canary import canary, exception_texts

pytestmark = pytest.mark.server

SDK_LOGGERS = ("botocore", "urllib3")


def forms(value: str) -> set[str]:
    """Return ``value`` as a log may print it: plain, JSON-escaped once and twice, bytes repr."""
    once = json.dumps(value)[1:-1]
    twice = json.dumps(json.dumps(value))[2:-2]
    as_bytes = repr(value.encode())[2:-1]
    return {value, once, twice, as_bytes, repr(once.encode())[2:-1]} | encodings(value)


def leaks(texts: Iterable[str], values: dict[str, str]) -> list[str]:
    """Name each value found, in any of its forms, in ``texts``."""
    found = []
    for index, text in enumerate(texts):
        for name, value in values.items():
            found += [
                f"{name} as {form[:20]!r} in text #{index}" for form in forms(value) if form in text
            ]
    return found


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> list[str]:
        """Every text a handler could print of each record: message, args, msg, traceback."""
        formatter = logging.Formatter("%(name)s %(message)s")
        return [
            text
            for record in self.records
            for text in (
                formatter.format(record),
                record.getMessage(),
                str(record.msg),
                repr(record.args),
                record.exc_text or "",
            )
        ]


@pytest.fixture
def sdk_logs() -> Iterator[tuple[RedactionPolicy, _Records]]:
    """botocore and urllib3 at DEBUG into a capture, with the redaction a manager installs."""
    policy = RedactionPolicy()
    install_logging_redaction(policy)
    handler = _Records()
    loggers = [logging.getLogger(name) for name in SDK_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    yield policy, handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def _manager(source: AWSSecretsProvider, policy: RedactionPolicy, fingerprinter) -> SecretsManager:
    learner = ValueLearner(policy)
    return SecretsManager(
        [source],
        cache=None,
        middleware=[learner],
        attempt_middleware=[learner.attempt, Resilience(RetryPolicy(attempts=1))],
        fingerprinter=fingerprinter,
    )


class TestJSONSecretInBotocoreLogs:
    def test_no_field_of_a_json_secret_reaches_a_log_record(
        self, moto_server, aws_admin, sdk_logs, fingerprinter
    ):
        """Resolving one field of a JSON secret logs none of its fields, escaped twice or not."""
        policy, captured = sdk_logs
        keys = {name: canary(f"canary-{name}") for name in ("openai", "anthropic", "groq")}
        keys["mistral"] = canary("canary-mistral") + "\"q'uo\\te/"  # escaped in every layer
        aws_admin.create_secret(Name="abstractcore/openai", SecretString=json.dumps(keys))
        with AWSSecretsProvider(endpoint_url=moto_server) as source:
            resolution = _manager(source, policy, fingerprinter).resolve("openai")
        assert resolution.value is not None
        assert resolution.value.reveal() == keys["openai"]
        bodies = [t for t in captured.texts() if "Response body" in t and "VersionId" in t]
        assert bodies  # the search ran over botocore's real logging of the answer
        assert leaks(captured.texts(), keys) == []


@pytest.fixture
def role_profile(tmp_path: Path, monkeypatch, moto_server, aws_admin) -> str:
    """An AWS profile that assumes a role (moto's STS) with a source profile's static keys."""
    config, credentials = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text(
        "[profile base]\nregion = us-east-1\n\n"
        "[profile llm-reader]\n"
        "role_arn = arn:aws:iam::123456789012:role/llm-reader\n"
        "source_profile = base\nregion = us-east-1\n"
    )
    credentials.write_text(
        "[base]\naws_access_key_id = base-access-key\naws_secret_access_key = base-secret-key\n"
    )
    # aws_admin's client has its credentials already; ours must come from the profile.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "llm-reader")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_server)
    return "llm-reader"


class TestTemporaryCredentialsInBotocoreLogs:
    def test_assumed_role_credentials_reach_no_log_record(
        self, moto_server, aws_admin, role_profile, sdk_logs, fingerprinter
    ):
        """The STS answer and the signed request's token header are logged with both masked."""
        policy, captured = sdk_logs
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="sk-role-read-value-1")
        with AWSSecretsProvider(endpoint_url=moto_server) as source:
            resolution = _manager(source, policy, fingerprinter).resolve("openai")
            secret_key, token = source.credentials()
            access_key = source.client._request_signer._credentials.access_key
        assert resolution.value is not None
        assert access_key.startswith("ASIA")  # temporary: the role was assumed
        texts = captured.texts()
        assert any("AssumeRoleResponse" in text for text in texts)
        assert any("x-amz-date;x-amz-security-token;" in text for text in texts)  # signed with it
        assert leaks(texts, {"secret access key": secret_key, "session token": token}) == []


def _reachable(root: object) -> Iterator[object]:
    """Yield every object reachable from ``root`` through exceptions and containers.

    Exceptions through ``__cause__``, ``__context__``, ``args`` and ``vars()``; resolutions
    and attempts (dataclasses) through their fields; lists, tuples, sets and dicts.
    """
    seen: set[int] = set()
    pending = [root]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseException):
            pending += [current.__cause__, current.__context__, *current.args]
            pending += vars(current).values()
        elif dataclasses.is_dataclass(current) and not isinstance(current, type):
            pending += [getattr(current, f.name) for f in dataclasses.fields(current)]
        elif isinstance(current, dict):
            pending += [*current.keys(), *current.values()]
        elif isinstance(current, (list, tuple, set, frozenset)):
            pending += current


def _error_texts(error: BaseException) -> list[str]:
    """Return all an error reporter could read of ``error`` and everything it holds."""
    texts = []
    for item in _reachable(error):
        texts.append(repr(item))
        if isinstance(item, BaseException):
            texts += exception_texts(item)
            texts += traceback.format_exception(item)
    return texts


def _bad_token(proxy: FaultProxy) -> None:
    body = json.dumps({"__type": "ExpiredTokenException", "message": "expired"}).encode()
    proxy.respond(400, body, {"Content-Type": "application/x-amz-json-1.1"})


FAULTS = {
    "down": (FaultProxy.stop, SourceUnavailableError),
    "hang-up": (FaultProxy.drop, SourceUnavailableError),
    "stall": (lambda proxy: proxy.delay(3), SourceTimeoutError),
    "expired": (_bad_token, SourceUnauthenticatedError),
}


class TestSessionTokenInErrors:
    @pytest.fixture
    def token(self, monkeypatch, moto_server, aws_credentials) -> str:
        """Session credentials, as an assumed role or SSO gives them."""
        value = canary("session-token")
        monkeypatch.setenv("AWS_SESSION_TOKEN", value)
        return value

    @pytest.mark.parametrize("fault", list(FAULTS))
    def test_a_failed_fetch_holds_no_sdk_object(self, moto_server, token, fault):
        """The source's error, its chain, attributes and frames hold no token nor SDK object."""
        inject, error_type = FAULTS[fault]
        error = _failed_fetch(moto_server, inject)
        assert isinstance(error, error_type)
        assert leaks(_error_texts(error), {"session token": token}) == []
        sdk = [type(item) for item in _reachable(error) if "botocore" in type(item).__module__]
        assert sdk == []
        assert error.__cause__ is None
        assert error.__context__ is None

    @pytest.mark.parametrize("fault", list(FAULTS))
    def test_a_failed_resolution_holds_no_token(self, moto_server, token, fault, fingerprinter):
        """Through the chain: the resolution's error and its attempts' errors hold no token."""
        inject, error_type = FAULTS[fault]
        with FaultProxy(moto_server) as proxy:
            inject(proxy)
            with AWSSecretsProvider(
                endpoint_url=proxy.address, connect_timeout=1, read_timeout=1
            ) as source:
                resolution = _manager(source, RedactionPolicy(), fingerprinter).resolve("openai")
        assert resolution.error is not None
        assert isinstance(resolution.error.__cause__, error_type)
        texts = _error_texts(resolution.error)
        for attempt in resolution.attempts:
            texts += [repr(attempt)]
            if attempt.error is not None:
                texts += _error_texts(attempt.error)
        assert leaks(texts, {"session token": token}) == []

    @pytest.mark.parametrize(
        ("fault", "named"),
        [
            ("down", "EndpointConnectionError"),
            ("hang-up", "ConnectionClosedError"),
            ("stall", "ReadTimeoutError"),
            ("expired", "ExpiredTokenException"),
        ],
    )
    def test_the_message_names_what_botocore_met(self, moto_server, token, fault, named):
        """Without a chained cause, the message still names botocore's error or AWS's code."""
        error = _failed_fetch(moto_server, FAULTS[fault][0])
        assert named in str(error)


def _failed_fetch(upstream: str, inject: Callable[[FaultProxy], None]) -> SourceError:
    """Return the error of a fetch through a proxy to ``upstream`` with a fault injected.

    Caught here, so that its traceback's frames are the source's and this one's only (the
    test's own locals hold the token).
    """
    with FaultProxy(upstream) as proxy:
        inject(proxy)
        with AWSSecretsProvider(
            endpoint_url=proxy.address, connect_timeout=1, read_timeout=1
        ) as source:
            try:
                source.fetch("openai")
            except SourceError as error:
                return error
    raise AssertionError("the fetch did not fail")
