"""The redaction policy: by value with encodings, by key name, by pattern; it never raises."""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from abstractcore_secrets import Secret
from abstractcore_secrets.redaction import RedactionPolicy, encodings
from abstractcore_secrets.redaction._policy import MASK
from abstractcore_secrets.redaction._processors import (
    StructlogRedactor,
    ValueLearner,
    install_logging_redaction,
)

SECRET = "sk-proj-T3BlbkFJredactme0123456789"


@pytest.fixture
def policy():
    learnt = RedactionPolicy()
    learnt.add(SECRET)
    return learnt


class TestRedactionPolicy:
    @pytest.mark.parametrize(
        "form",
        [
            SECRET,
            urllib.parse.quote(SECRET, safe=""),
            json.dumps(SECRET)[1:-1],
            base64.b64encode(b"Authorization: Basic " + SECRET.encode() + b"\n").decode(),
            base64.b64encode(b"x" + SECRET.encode()).decode(),
            base64.b64encode(b"xy" + SECRET.encode()).decode(),
        ],
        ids=["raw", "url", "json", "base64-0", "base64-1", "base64-2"],
    )
    def test_learnt_values_are_masked_in_every_encoding(self, policy, form):
        """A learnt value is masked raw, URL-encoded, JSON-escaped and base64-encoded."""
        scrubbed = policy.scrub_text(f"before {form} after")
        assert MASK in scrubbed
        assert not any(encoded in scrubbed for encoded in encodings(SECRET))

    def test_sensitive_key_names_mask_whole_values(self):
        """api_key, Authorization, X-Vault-Token, ... are masked whatever they hold."""
        policy = RedactionPolicy()
        scrubbed = policy.scrub(
            {
                "Authorization": "Bearer x",
                "x-vault-token": "t1",
                "nested": {"client_secret": "c", "port": 8200},
                "items": [{"password": "p"}],
                "provider": "openai",
            }
        )
        assert scrubbed == {
            "Authorization": MASK,
            "x-vault-token": MASK,
            "nested": {"client_secret": MASK, "port": 8200},
            "items": [{"password": MASK}],
            "provider": "openai",
        }

    @pytest.mark.parametrize(
        ("text", "rule"),
        [
            ("key sk-ant-api03-" + "a" * 40, "pattern.anthropic"),
            ("id AKIAABCDEFGHIJKLMNOP here", "pattern.aws_access_key_id"),
            ("token hvs.CAESIJabcdefghijklmnopqrstuvwxyz", "pattern.vault_token"),
            ("hf_" + "a" * 34, "pattern.huggingface"),
            ("ghp_" + "a" * 36, "pattern.github"),
            ("AIza" + "b" * 35, "pattern.google"),
            ("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "pattern.jwt"),
            ("-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----", "pattern.private_key"),
        ],
        ids=lambda value: value if value.startswith("pattern") else None,
    )
    def test_known_key_formats_are_masked_and_counted(self, text, rule):
        """Key formats from public scanners are masked even when never learnt, by rule."""
        counted = []
        policy = RedactionPolicy(on_redact=counted.append)
        assert MASK in policy.scrub_text(text)
        assert rule in counted

    @pytest.mark.parametrize(
        "text",
        ["vault:secret/desk-assistant-production#openai", "task-runner-queue-worker-01"],
    )
    def test_ordinary_names_are_not_masked(self, text):
        """Words that merely contain 'sk-' keep their provenance value."""
        assert RedactionPolicy().scrub_text(text) == text

    def test_secret_fields_of_logged_json_bodies_are_masked(self):
        """botocore's DEBUG body log: SecretString masked before any value is learnt."""
        text = """Response body: b'{"ARN":"arn:x","SecretString":"unlearnt-value-9","Name":"n"}'"""
        scrubbed = RedactionPolicy().scrub_text(text)
        assert "unlearnt-value-9" not in scrubbed
        assert '"ARN":"arn:x"' in scrubbed

    def test_learnt_values_are_bounded(self):
        """Past max_values, the oldest values are forgotten: the policy cannot grow forever."""
        policy = RedactionPolicy(patterns=False, max_values=3)
        for number in range(5):
            policy.add(f"tenant-key-{number}-abcdef")
        assert policy.scrub_text("tenant-key-0-abcdef") == "tenant-key-0-abcdef"
        assert policy.scrub_text("tenant-key-4-abcdef") == MASK

    def test_a_value_in_use_is_never_the_one_forgotten(self):
        """A key seen again between every few new values is masked at every moment."""
        policy = RedactionPolicy(patterns=False, max_values=8)
        policy.add("key-in-use-on-every-request")
        for number in range(100):
            policy.add(f"one-off-tenant-key-{number}")
            # An SDK record may come at any moment, not only right after a re-learning.
            assert policy.scrub_text("key-in-use-on-every-request") == MASK, number
            if number % 5 == 4:
                policy.add("key-in-use-on-every-request")  # the learner, per resolution
        assert policy.scrub_text("one-off-tenant-key-0") == "one-off-tenant-key-0"

    def test_the_learner_refreshes_a_cached_key(self):
        """Through the real middleware, cache hits keep a key learnt past max_values others."""
        from abstractcore_secrets import ResolutionCache, SecretsManager
        from abstractcore_secrets.redaction._processors import ValueLearner
        from abstractcore_secrets.testing import InMemorySecretProvider

        policy = RedactionPolicy(patterns=False, max_values=8)
        learner = ValueLearner(policy)
        manager = SecretsManager(
            [InMemorySecretProvider({"openai": "cached-openai-value-123"}, name="vault")],
            cache=ResolutionCache(3600),
            middleware=[learner],
            attempt_middleware=[learner.attempt],
        )
        manager.resolve("openai")
        for number in range(50):
            manager.resolve("custom", api_key=f"explicit-tenant-key-{number}")
            assert policy.scrub_text("cached-openai-value-123") == MASK, number
            if number % 4 == 3:
                manager.resolve("openai")  # a cache hit: no fetch, the learner sees it
        assert policy.scrub_text("cached-openai-value-123") == MASK

    def test_secret_objects_are_masked(self, policy):
        """A Secret inside a structure becomes the mask."""
        assert policy.scrub({"value": Secret("whatever-value")}) == {"value": MASK}

    def test_never_raises_and_fails_closed(self):
        """A broken counter is ignored; a failing scrub masks the whole text."""

        def broken(rule):
            raise RuntimeError(rule)

        policy = RedactionPolicy(on_redact=broken)
        policy.add(SECRET)
        assert policy.scrub_text(SECRET) == MASK
        policy._needles = "not a pattern"  # type: ignore[assignment]  # break it on purpose
        assert policy.scrub_text("anything") == MASK
        assert policy.scrub({"a": "b"}) == MASK

    def test_short_values_are_not_learnt(self):
        """Values under 6 characters would mask innocent words; they are not learnt."""
        policy = RedactionPolicy(patterns=False)
        policy.add("abc")
        assert policy.scrub_text("abcdef abc") == "abcdef abc"

    @given(
        secret=st.text(min_size=8, max_size=60).filter(str.isprintable),
        before=st.text(max_size=40),
        after=st.text(max_size=40),
    )
    def test_any_learnt_secret_in_any_message_is_masked(self, secret, before, after):
        """Property: a learnt value embedded anywhere is gone from the scrubbed text."""
        assume(secret not in MASK and MASK not in secret)
        policy = RedactionPolicy(patterns=False)
        policy.add(secret)
        assert secret not in policy.scrub_text(before + secret + after)


class TestProcessors:
    def test_structlog_redactor(self, policy):
        """The structlog processor masks values and sensitive keys in the event dict."""
        event = StructlogRedactor(policy)(
            None, "info", {"event": f"got {SECRET}", "token": "t-123456", "n": 1}
        )
        assert event == {"event": f"got {MASK}", "token": MASK, "n": 1}

    def test_logging_records_of_sdk_loggers_are_scrubbed(self, policy, caplog):
        """Records of botocore, hvac, urllib3... are scrubbed when created, args included."""
        install_logging_redaction(policy)
        caplog.set_level(logging.DEBUG)
        logging.getLogger("botocore.parsers").debug(
            "Response body:\n%s", {"SecretString": "x" + SECRET}
        )
        try:
            raise ValueError(SECRET)  # noqa: TRY301 - a traceback to log
        except ValueError:
            logging.getLogger("hvac.adapters").exception("failed")
        assert SECRET not in caplog.text
        assert MASK in caplog.text
        assert all(record.args is None for record in caplog.records)

    def test_value_learner_learns_resolved_values(self, fingerprinter):
        """The learner teaches the policy each value resolved, before anyone emits it."""
        from abstractcore_secrets import SecretsManager
        from abstractcore_secrets.testing import InMemorySecretProvider

        policy = RedactionPolicy(patterns=False)
        learner = ValueLearner(policy)
        manager = SecretsManager(
            [InMemorySecretProvider({"openai": "learn-me-123"})],
            middleware=[learner],
            attempt_middleware=[learner.attempt],
            cache=None,
            fingerprinter=fingerprinter,
        )
        manager.resolve("openai")
        manager.resolve("anthropic", api_key="explicit-learnt")
        assert policy.scrub_text("learn-me-123 explicit-learnt") == f"{MASK} {MASK}"
