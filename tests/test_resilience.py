"""Resilience: circuit breakers and retries, against real servers where a server is involved."""

from __future__ import annotations

import json
import time

import pytest

from abstractcore_secrets import (
    AWSSecretsProvider,
    AzureKeyVaultProvider,
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Outcome,
    Resilience,
    RetryPolicy,
    SecretsManager,
    SourceForbiddenError,
    SourceTimeoutError,
    SourceUnavailableError,
)
from abstractcore_secrets.testing import (
    AzureKeyVaultEmulator,
    FailingSecretProvider,
    FaultProxy,
    InMemorySecretProvider,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _manager(*sources, resilience, fingerprinter):
    return SecretsManager(
        list(sources), cache=None, attempt_middleware=[resilience], fingerprinter=fingerprinter
    )


class TestCircuitBreaker:
    def test_opens_after_consecutive_failures_and_skips_the_source(self, fingerprinter):
        """After failure_threshold failures the source is skipped: tries 0, CircuitOpenError."""
        clock = Clock()
        down = FailingSecretProvider(SourceUnavailableError("down"), name="vault")
        resilience = Resilience(
            RetryPolicy(attempts=1), failure_threshold=3, reset_timeout=30, clock=clock
        )
        manager = _manager(
            down,
            InMemorySecretProvider({"openai": "k"}, name="config"),
            resilience=resilience,
            fingerprinter=fingerprinter,
        )
        for _ in range(3):
            assert manager.resolve("openai").source == "config"
        assert resilience.breaker("vault").state is CircuitState.OPEN
        skipped = manager.resolve("openai").attempts[0]
        assert (skipped.tries, isinstance(skipped.error, CircuitOpenError)) == (0, True)
        assert "next probe in 30.0 s" in str(skipped.error)
        assert down.fetches == 3

    def test_half_open_probe_closes_on_success_or_reopens_on_failure(self, fingerprinter):
        """After reset_timeout one probe goes through; its result decides the state."""
        clock = Clock()
        flaky = FailingSecretProvider(
            SourceUnavailableError("down"), name="vault", fallback={"openai": "k"}
        )
        resilience = Resilience(
            RetryPolicy(attempts=1), failure_threshold=1, reset_timeout=10, clock=clock
        )
        manager = _manager(flaky, resilience=resilience, fingerprinter=fingerprinter)
        manager.resolve("openai")
        clock.now += 10
        assert resilience.breaker("vault").state is CircuitState.HALF_OPEN
        manager.resolve("openai")  # the probe fails: open again, for another 10 s
        assert resilience.breaker("vault").state is CircuitState.OPEN
        assert flaky.fetches == 2
        clock.now += 10
        flaky.error = None
        assert manager.resolve("openai").outcome is Outcome.FOUND
        assert resilience.breaker("vault").state is CircuitState.CLOSED

    def test_only_one_probe_at_a_time(self):
        """While a half-open probe is out, other callers are refused."""
        clock = Clock()
        breaker = CircuitBreaker(1, 5, clock=clock)
        assert breaker.allow()
        breaker.record(failed=True)
        clock.now += 5
        assert breaker.allow()
        assert not breaker.allow()
        breaker.record(failed=False)
        assert breaker.allow()

    def test_denials_and_misses_do_not_open_the_circuit(self, fingerprinter):
        """A source that answers (found, not found, forbidden) is healthy."""
        resilience = Resilience(RetryPolicy(attempts=1), failure_threshold=1)
        denying = FailingSecretProvider(SourceForbiddenError("403"), name="vault")
        manager = _manager(denying, resilience=resilience, fingerprinter=fingerprinter)
        manager.resolve("openai")
        manager.resolve("openai")
        assert resilience.breaker("vault").state is CircuitState.CLOSED
        assert denying.fetches == 2


class TestRetries:
    def test_unavailable_is_retried_with_backoff_then_reported(self, fingerprinter):
        """Retries follow the policy; every try shows in the attempt."""
        down = FailingSecretProvider(SourceUnavailableError("down"), name="vault")
        policy = RetryPolicy(attempts=3, wait_initial=0.05, wait_jitter=0.0)
        manager = _manager(down, resilience=Resilience(policy), fingerprinter=fingerprinter)
        started = time.perf_counter()
        attempt = manager.resolve("openai").attempts[0]
        assert (attempt.tries, attempt.error_type, down.fetches) == (3, "unavailable", 3)
        assert time.perf_counter() - started >= 0.05 + 0.1  # two backoffs: 0.05, then 0.1

    @pytest.mark.parametrize(
        "error",
        [SourceForbiddenError("403"), SourceTimeoutError("slow")],
        ids=["denied", "timeout"],
    )
    def test_denials_and_timeouts_are_not_retried(self, fingerprinter, error):
        """Retrying a denial is pointless; retrying a timeout multiplies the wait."""
        source = FailingSecretProvider(error, name="vault")
        manager = _manager(source, resilience=Resilience(), fingerprinter=fingerprinter)
        assert manager.resolve("openai").attempts[0].tries == 1

    @pytest.mark.server
    def test_aws_throttling_is_retried_until_it_passes(self, moto_server, aws_admin, fingerprinter):
        """Two ThrottlingExceptions from the wire, then the key: one attempt, three tries."""
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="sk-after-throttle")
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        with FaultProxy(moto_server) as proxy:
            proxy.respond(400, body, {"Content-Type": "application/x-amz-json-1.1"}, times=2)
            source = AWSSecretsProvider(endpoint_url=proxy.address)
            manager = _manager(source, resilience=Resilience(), fingerprinter=fingerprinter)
            resolution = manager.resolve("openai")
            source.close()
        assert resolution.value is not None
        assert resolution.value.reveal() == "sk-after-throttle"
        assert resolution.attempts[0].tries == 3
        assert proxy.requests == 3

    @pytest.mark.server
    def test_azure_retry_after_is_honoured(self, fingerprinter):
        """A 429 with Retry-After: 1 waits a second, then succeeds on the next try."""
        with AzureKeyVaultEmulator() as vault:
            vault.set_secret("openai", "sk-after-429")
            source = AzureKeyVaultProvider(
                vault.vault_url,
                credential=vault.credential(),
                client_options=vault.client_options(),
            )
            source.fetch("openai")
            vault.fail_with(429, retry_after=1, times=1)
            manager = _manager(source, resilience=Resilience(), fingerprinter=fingerprinter)
            started = time.perf_counter()
            resolution = manager.resolve("openai")
            elapsed = time.perf_counter() - started
            source.close()
        assert resolution.outcome is Outcome.FOUND
        assert resolution.attempts[0].tries == 2
        assert elapsed >= 1.0

    @pytest.mark.server
    def test_retry_after_beyond_the_cap_fails_over_at_once(self, fingerprinter):
        """A server asking for 60 s is not waited for: the attempt fails, the chain moves on."""
        with AzureKeyVaultEmulator() as vault:
            vault.set_secret("openai", "sk-x")
            source = AzureKeyVaultProvider(
                vault.vault_url,
                credential=vault.credential(),
                client_options=vault.client_options(),
            )
            source.fetch("openai")
            vault.fail_with(429, retry_after=60)
            fallback = InMemorySecretProvider({"openai": "k"}, name="config")
            manager = _manager(
                source, fallback, resilience=Resilience(), fingerprinter=fingerprinter
            )
            started = time.perf_counter()
            resolution = manager.resolve("openai")
            source.close()
        assert (resolution.source, resolution.attempts[0].tries) == ("config", 1)
        assert resolution.attempts[0].error_type == "throttled"
        assert time.perf_counter() - started < 2
