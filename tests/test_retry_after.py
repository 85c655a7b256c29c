"""Retry-After: whatever a server sends, a resolution waits within bounds, completes, is audited."""

from __future__ import annotations

import math
import time
from email.utils import formatdate

import pytest
from conftest import ListSink
from hypothesis import given, settings
from hypothesis import strategies as st

from abstractcore_secrets import (
    AzureKeyVaultProvider,
    Fingerprinter,
    Outcome,
    Resilience,
    RetryPolicy,
    SecretsManager,
    SourceThrottledError,
    VaultSecretProvider,
)
from abstractcore_secrets.audit import AuditMiddleware
from abstractcore_secrets.sources.azure import parse_retry_after
from abstractcore_secrets.testing import (
    AzureKeyVaultEmulator,
    FailingSecretProvider,
    FaultProxy,
    InMemorySecretProvider,
)

NOW = 1_700_000_000.0
POLICY = RetryPolicy(attempts=3, timeout=10.0, max_retry_after=5.0, wait_max=2.0)
LONGEST_WAIT = max(POLICY.max_retry_after, POLICY.wait_max)
LAST_DATE = 253_402_300_799.0  # Fri, 31 Dec 9999 23:59:59 GMT
FINGERPRINTER = Fingerprinter(b"test-fingerprint-key-0123456789")


def _date(seconds_from_now: float) -> str:
    return formatdate(NOW + seconds_from_now, usegmt=True)


class RecordingSleep:
    """A sleep that only records, and the clock it moves (for the retry deadline)."""

    def __init__(self):
        self.waits = []
        self.now = 0.0

    def __call__(self, seconds):
        self.waits.append(seconds)
        self.now += seconds

    def clock(self):
        return self.now


hostile_headers = st.one_of(
    st.text(),
    st.from_regex(r"\A[ \t]*-?[0-9]{0,400}(\.[0-9]*)?([eE][+-]?[0-9]+)?[ \t]*\Z"),
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "", " ", "5, 10", "1, -1"]),
    st.integers(min_value=int(-NOW), max_value=int(LAST_DATE - NOW)).map(_date),
    st.from_regex(r"\A(Mon|Sun), [0-9]{2} (Jan|Feb|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT\Z"),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
)


class TestParseRetryAfter:
    @pytest.mark.parametrize(
        ("header", "seconds"),
        [
            ("5", 5.0),
            ("0", 0.0),
            (" 7\t", 7.0),
            ("9" * 400, math.inf),
            (_date(-3600), 0.0),
            (_date(30), 30.0),
            (_date(10**9), 10.0**9),
            ("-5", None),
            ("-0", None),
            ("1.5", None),
            ("1e3", None),
            ("nan", None),
            ("inf", None),
            ("", None),
            ("soon", None),
            ("\u0665", None),
            ("5, 10", None),
            (f"{_date(1)}, {_date(1)}", None),
            (f"{_date(1)} junk", None),
            ("Wed, 31 Feb 2015 07:28:00 GMT", None),
            ("Wed, 21 Oct 0000 07:28:00 GMT", None),
            ("Wednesday, 21-Oct-15 07:28:00 GMT", None),
            ("Wed Oct 21 07:28:00 2015", None),
        ],
        ids=[
            "seconds",
            "zero",
            "whitespace",
            "huge",
            "date-past",
            "date-soon",
            "date-far-future",
            "negative",
            "negative-zero",
            "fraction",
            "exponent",
            "nan",
            "inf",
            "empty",
            "word",
            "non-ascii-digit",
            "two-headers",
            "two-dates",
            "date-with-junk",
            "impossible-date",
            "year-zero",
            "obsolete-rfc850",
            "obsolete-asctime",
        ],
    )
    def test_value(self, header, seconds):
        """Delta-seconds and IMF-fixdate give a wait of 0 or more; anything else is None."""
        assert parse_retry_after(header, now=NOW) == seconds

    @settings(max_examples=500)
    @given(header=hostile_headers)
    def test_never_raises_and_is_never_negative(self, header):
        """Any header string gives None or a wait of 0 or more (never negative, never NaN)."""
        seconds = parse_retry_after(header, now=NOW)
        assert seconds is None or seconds >= 0


class TestResilienceWithHostileRetryAfter:
    @settings(max_examples=300, deadline=None)
    @given(header=hostile_headers)
    def test_any_header_waits_within_bounds_and_falls_through(self, header):
        """Whatever the header, resolve() answers from the next source; every wait is bounded."""
        sleep = RecordingSleep()
        throttled = FailingSecretProvider(
            SourceThrottledError("429", retry_after=parse_retry_after(header)), name="azure"
        )
        fallback = InMemorySecretProvider({"openai": "sk-fallback"}, name="config")
        manager = SecretsManager(
            [throttled, fallback],
            cache=None,
            attempt_middleware=[Resilience(POLICY, sleep=sleep, clock=sleep.clock)],
            fingerprinter=FINGERPRINTER,
        )
        resolution = manager.resolve("openai")
        assert (resolution.source, resolution.attempts[0].error_type) == ("config", "throttled")
        assert all(0 <= wait <= LONGEST_WAIT for wait in sleep.waits)
        assert sum(sleep.waits) < POLICY.timeout

    @settings(max_examples=300, deadline=None)
    @given(
        retry_after=st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(min_value=-(10**30), max_value=10**30),
            st.sampled_from(["5", b"5", object(), True]),
        )
    )
    def test_any_value_a_source_sets_is_bounded(self, retry_after):
        """A source's own retry_after (negative, NaN, inf, not a number) never breaks a wait."""
        sleep = RecordingSleep()
        throttled = FailingSecretProvider(
            SourceThrottledError("429", retry_after=retry_after), name="custom"
        )
        manager = SecretsManager(
            [throttled],
            cache=None,
            attempt_middleware=[Resilience(POLICY, sleep=sleep, clock=sleep.clock)],
            fingerprinter=FINGERPRINTER,
        )
        assert manager.resolve("openai").attempts[0].error_type == "throttled"
        assert all(0 <= wait <= LONGEST_WAIT for wait in sleep.waits)
        assert sum(sleep.waits) < POLICY.timeout


@pytest.fixture(scope="module")
def keyvault():
    with AzureKeyVaultEmulator() as emulator:
        yield emulator


@pytest.mark.server
class TestAzureHostileRetryAfter:
    @pytest.mark.parametrize(
        ("header", "tries"),
        [
            ("-5", 3),
            ("-1", 3),
            ("nan", 3),
            ("inf", 3),
            ("1e400", 3),
            ("soon", 3),
            ("", 3),
            (["1", "-1"], 3),
            (formatdate(0, usegmt=True), 3),
            ("9" * 40, 1),
            (formatdate(time.time() + 10**9, usegmt=True), 1),
        ],
        ids=[
            "negative",
            "negative-one",
            "nan",
            "inf",
            "overflow",
            "word",
            "empty",
            "two-headers",
            "date-past",
            "huge",
            "date-far-future",
        ],
    )
    def test_throttled_resolution_falls_through_and_is_audited(
        self, keyvault, fingerprinter, header, tries
    ):
        """A 429 with a hostile Retry-After: garbage gets the backoff, too long fails over."""
        keyvault.clear_faults()
        keyvault.set_secret("openai", "sk-azure")
        source = AzureKeyVaultProvider(
            keyvault.vault_url,
            credential=keyvault.credential(),
            client_options=keyvault.client_options(),
        )
        source.fetch("openai")  # the bearer challenge, before the fault
        keyvault.fail_with(429, retry_after=header)
        sink = ListSink()
        manager = SecretsManager(
            [source, InMemorySecretProvider({"openai": "sk-config"}, name="config")],
            cache=None,
            middleware=[AuditMiddleware([sink], fingerprinter=fingerprinter)],
            attempt_middleware=[Resilience(POLICY)],
            fingerprinter=fingerprinter,
        )
        started = time.perf_counter()
        try:
            resolution = manager.resolve("openai")
        finally:
            keyvault.clear_faults()
            source.close()
        assert time.perf_counter() - started < POLICY.timeout
        attempt = resolution.attempts[0]
        assert (resolution.source, attempt.error_type, attempt.tries) == (
            "config",
            "throttled",
            tries,
        )
        assert [(event["source"], event["outcome"]) for event in sink.events] == [
            ("config", "found")
        ]

    def test_past_date_retries_at_once_and_finds_the_key(self, keyvault, fingerprinter):
        """A Retry-After date already past means 'now': the next try gets the key."""
        keyvault.clear_faults()
        keyvault.set_secret("openai", "sk-azure")
        source = AzureKeyVaultProvider(
            keyvault.vault_url,
            credential=keyvault.credential(),
            client_options=keyvault.client_options(),
        )
        source.fetch("openai")
        keyvault.fail_with(429, retry_after=formatdate(0, usegmt=True), times=1)
        sleep = RecordingSleep()
        manager = SecretsManager(
            [source],
            cache=None,
            attempt_middleware=[Resilience(POLICY, sleep=sleep, clock=sleep.clock)],
            fingerprinter=fingerprinter,
        )
        try:
            resolution = manager.resolve("openai")
        finally:
            source.close()
        assert (resolution.outcome, resolution.attempts[0].tries, sleep.waits) == (
            Outcome.FOUND,
            2,
            [0.0],
        )


@pytest.mark.server
def test_vault_429_with_hostile_retry_after_falls_through_and_is_audited(openbao, fingerprinter):
    """OpenBao behind a proxy answering 429 with Retry-After: -5 still resolves, audited."""
    openbao.put_kv("abstractcore", {"openai": "sk-vault"})
    sink = ListSink()
    with FaultProxy(openbao.address) as proxy:
        proxy.respond(
            429,
            b'{"errors":["rate limit quota exceeded"]}',
            {"Content-Type": "application/json", "Retry-After": "-5"},
        )
        source = VaultSecretProvider(proxy.address, openbao.root_token)
        manager = SecretsManager(
            [source, InMemorySecretProvider({"openai": "sk-config"}, name="config")],
            cache=None,
            middleware=[AuditMiddleware([sink], fingerprinter=fingerprinter)],
            attempt_middleware=[Resilience(POLICY, sleep=RecordingSleep())],
            fingerprinter=fingerprinter,
        )
        resolution = manager.resolve("openai")
        source.close()
    assert (resolution.source, resolution.attempts[0].error_type) == ("config", "throttled")
    assert [(event["source"], event["outcome"]) for event in sink.events] == [("config", "found")]
