"""The whole chain across all six sources, on real servers, with faults while it runs."""

from __future__ import annotations

import json

import pytest

from abstractcore_secrets import (
    AWSSecretsProvider,
    AzureKeyVaultProvider,
    CircuitOpenError,
    ConfigFileSecretProvider,
    EnvironmentSecretProvider,
    Outcome,
    Resilience,
    ResolutionCache,
    RetryPolicy,
    SecretsManager,
    VaultSecretProvider,
)
from abstractcore_secrets.testing import AzureKeyVaultEmulator, FaultProxy

pytestmark = pytest.mark.server


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def azure():
    with AzureKeyVaultEmulator() as emulator:
        yield emulator


@pytest.fixture
def six(openbao, moto_server, aws_admin, azure, config_path, fingerprinter):
    """Keys planted so that each provider is answered by a different tier."""
    vault_path = "chain/abstractcore"
    openbao.put_kv(vault_path, {"anthropic": "from-vault", "openrouter": "vault-or"})
    aws_admin.create_secret(Name="abstractcore/openrouter", SecretString="aws-or")
    aws_admin.create_secret(Name="abstractcore/groq", SecretString="from-aws")
    azure.set_secret("groq", "azure-groq")
    azure.set_secret("mistral", "from-azure")
    config_path.parent.mkdir(parents=True)
    config_path.write_text(
        json.dumps({"api_keys": {"mistral": "config-mistral", "ollama": "from-config"}})
    )
    config_path.chmod(0o600)
    sources = {
        "env": EnvironmentSecretProvider({"OPENAI_API_KEY": "from-env", "ANTHROPIC_API_KEY": ""}),
        "vault": VaultSecretProvider(openbao.address, "root", f"secret/data/{vault_path}"),
        "aws": AWSSecretsProvider(endpoint_url=moto_server),
        "azure": AzureKeyVaultProvider(
            azure.vault_url, credential=azure.credential(), client_options=azure.client_options()
        ),
        "config": ConfigFileSecretProvider(),
    }
    yield sources
    for source in sources.values():
        source.close()


class TestWholeChain:
    def test_each_tier_answers_what_the_higher_ones_lack(self, six, fingerprinter):
        """explicit > env > vault > aws > azure > config, each winning where it should."""
        manager = SecretsManager(list(six.values()), cache=None, fingerprinter=fingerprinter)
        expected = {
            "portkey": ("explicit", "from-explicit"),
            "openai": ("env", "from-env"),
            "anthropic": ("vault", "from-vault"),
            "openrouter": ("vault", "vault-or"),
            "groq": ("aws", "from-aws"),
            "mistral": ("azure", "from-azure"),
            "ollama": ("config", "from-config"),
        }
        for provider, (source, value) in expected.items():
            explicit = "from-explicit" if provider == "portkey" else None
            resolution = manager.resolve(provider, api_key=explicit)
            assert resolution.value is not None
            assert (resolution.source, resolution.value.reveal()) == (source, value), provider
        trail = manager.resolve("ollama").attempts
        assert [(a.source, a.outcome) for a in trail] == [
            ("env", Outcome.NOT_FOUND),
            ("vault", Outcome.NOT_FOUND),
            ("aws", Outcome.NOT_FOUND),
            ("azure", Outcome.NOT_FOUND),
            ("config", Outcome.FOUND),
        ]

    def test_reordered_chain(self, six, fingerprinter):
        """Reversed, the config file and Azure answer first."""
        manager = SecretsManager(
            list(reversed(six.values())), cache=None, fingerprinter=fingerprinter
        )
        assert manager.resolve("mistral").source == "config"
        assert manager.resolve("groq").source == "azure"
        assert manager.resolve("openrouter").source == "aws"

    def test_forbidden_at_a_managed_source_fails_closed(
        self, six, aws_admin, moto_server, fingerprinter
    ):
        """AccessDenied at AWS stops the chain: Azure and the config file are not consulted."""
        body = json.dumps({"__type": "AccessDeniedException", "message": "no"}).encode()
        with FaultProxy(moto_server) as proxy:
            proxy.respond(400, body, {"Content-Type": "application/x-amz-json-1.1"})
            chain = [
                six["env"],
                six["vault"],
                AWSSecretsProvider(endpoint_url=proxy.address),
                six["azure"],
                six["config"],
            ]
            resolution = SecretsManager(chain, cache=None, fingerprinter=fingerprinter).resolve(
                "mistral"
            )
        assert resolution.outcome is Outcome.DENIED
        assert [a.source for a in resolution.attempts] == ["env", "vault", "aws"]


class TestFaultsWhileRunning:
    def test_vault_stopped_mid_run_serves_stale_opens_circuit_and_recovers(
        self, openbao, fingerprinter
    ):
        """Down: stale within max_stale, circuit opens; back: a fresh value, circuit closed."""
        openbao.put_kv("faults/abstractcore", {"openai": "before-outage"})
        clock = Clock()
        with FaultProxy(openbao.address) as proxy:
            vault = VaultSecretProvider(
                proxy.address,
                "root",
                "secret/data/faults/abstractcore",
                timeout=1,
                connect_timeout=0.5,
            )
            resilience = Resilience(
                RetryPolicy(attempts=2, wait_initial=0.01, wait_jitter=0),
                failure_threshold=2,
                reset_timeout=120,
                clock=clock,
            )
            manager = SecretsManager(
                [vault],
                cache=ResolutionCache(
                    60, max_stale=600, stale_retry=5, clock=clock, jitter=lambda: 0.999
                ),
                attempt_middleware=[resilience],
                fingerprinter=fingerprinter,
            )
            assert manager.get_api_key("openai") == "before-outage"
            proxy.stop()
            stale = []
            for _ in range(3):
                clock.now += 60
                stale.append(manager.resolve("openai"))
            assert [(r.outcome, r.stale) for r in stale] == [(Outcome.FOUND, True)] * 3
            assert [r.attempts[0].tries for r in stale] == [2, 2, 0]
            assert isinstance(stale[2].attempts[0].error, CircuitOpenError)
            openbao.put_kv("faults/abstractcore", {"openai": "after-outage"})
            proxy.start()
            clock.now += 120
            recovered = manager.resolve("openai")
            vault.close()
        assert (recovered.stale, recovered.cache_hit) == (False, False)
        assert recovered.value is not None
        assert recovered.value.reveal() == "after-outage"
        assert resilience.breaker("vault").state.name == "CLOSED"

    def test_remembered_misses_do_not_close_an_open_circuit(self, openbao, fingerprinter):
        """A miss answered from memory is not a lookup: the breaker neither counts nor resets."""
        clock = Clock()
        with FaultProxy(openbao.address) as proxy:
            vault = VaultSecretProvider(
                proxy.address, "root", "secret/data/faults/misses", timeout=1, connect_timeout=0.5
            )
            resilience = Resilience(
                RetryPolicy(attempts=1), failure_threshold=2, reset_timeout=60, clock=clock
            )
            manager = SecretsManager(
                [vault],
                cache=ResolutionCache(clock=clock),
                attempt_middleware=[resilience],
                fingerprinter=fingerprinter,
            )
            assert manager.resolve("absent").outcome is Outcome.NOT_FOUND  # remembered
            proxy.stop()
            manager.resolve("openai")
            manager.resolve("openai")
            assert resilience.breaker("vault").state.name == "OPEN"
            remembered = manager.resolve("absent").attempts[0]
            vault.close()
        assert (remembered.outcome, remembered.tries) == (Outcome.NOT_FOUND, 0)
        assert resilience.breaker("vault").state.name == "OPEN"

    def test_stale_ends_at_max_stale(self, openbao, fingerprinter):
        """Past max_stale the outage is an error: an old key is not served forever."""
        openbao.put_kv("faults/maxstale", {"openai": "old"})
        clock = Clock()
        with FaultProxy(openbao.address) as proxy:
            vault = VaultSecretProvider(
                proxy.address, "root", "secret/data/faults/maxstale", timeout=1, connect_timeout=0.5
            )
            manager = SecretsManager(
                [vault],
                cache=ResolutionCache(60, max_stale=100, clock=clock, jitter=lambda: 0.999),
                fingerprinter=fingerprinter,
            )
            manager.resolve("openai")
            proxy.stop()
            clock.now += 60 + 101
            resolution = manager.resolve("openai")
            vault.close()
        assert (resolution.outcome, resolution.stale) == (Outcome.ERROR, False)

    def test_slow_source_fails_over_within_its_deadline(self, openbao, config_path, fingerprinter):
        """A hanging Vault costs at most its timeout; the next source answers."""
        config_path.parent.mkdir(parents=True)
        config_path.write_text(json.dumps({"api_keys": {"openai": "from-config"}}))
        config_path.chmod(0o600)
        with FaultProxy(openbao.address) as proxy:
            vault = VaultSecretProvider(proxy.address, "root", timeout=0.5)
            vault.fetch("openai")
            proxy.delay(10)
            manager = SecretsManager(
                [vault, ConfigFileSecretProvider()],
                cache=None,
                attempt_middleware=[Resilience()],
                fingerprinter=fingerprinter,
            )
            resolution = manager.resolve("openai")
            vault.close()
        assert (resolution.source, resolution.attempts[0].error_type) == ("config", "timeout")
        assert resolution.duration < 2


class TestRotation:
    def test_each_managed_source_serves_a_rotated_key_after_refresh(
        self, six, openbao, aws_admin, azure, fingerprinter
    ):
        """The backend's value changes; the next refresh serves it with a new fingerprint."""
        clock = Clock()
        rotations = {
            "anthropic": lambda: openbao.put_kv(
                "chain/abstractcore", {"anthropic": "vault-rotated"}
            ),
            "groq": lambda: aws_admin.put_secret_value(
                SecretId="abstractcore/groq", SecretString="aws-rotated"
            ),
            "mistral": lambda: azure.set_secret("mistral", "azure-rotated"),
        }
        manager = SecretsManager(
            [six["vault"], six["aws"], six["azure"]],
            cache=ResolutionCache(300, clock=clock, jitter=lambda: 0.999),
            fingerprinter=fingerprinter,
        )
        for provider, rotate in rotations.items():
            before = manager.resolve(provider)
            rotate()
            assert manager.resolve(provider).fingerprint == before.fingerprint  # cached
            clock.now += 300
            after = manager.resolve(provider)
            assert after.value is not None
            assert after.value.reveal().endswith("-rotated"), provider
            assert after.fingerprint != before.fingerprint
            assert after.version != before.version
