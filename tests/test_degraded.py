"""Outages never silently swap keys: a higher source's cached value is preferred, a lower
source's answer is marked ``degraded`` (docs/architecture.md, "Outages: one rule")."""

from __future__ import annotations

import json
import logging

import pytest
from clirun import run_cli
from conftest import FROM_CONFIG, ListSink

from abstractcore_secrets import (
    ConfigFileSecretProvider,
    ErrorCategory,
    Outcome,
    Resilience,
    ResolutionCache,
    RetryPolicy,
    SecretsManager,
    SourceForbiddenError,
    SourceUnavailableError,
    VaultSecretProvider,
)
from abstractcore_secrets.audit._middleware import AuditMiddleware
from abstractcore_secrets.audit._sinks import LoggingSink
from abstractcore_secrets.testing import FaultProxy, free_port
from abstractcore_secrets.testing.sources import FailingSecretProvider, InMemorySecretProvider

pytestmark = pytest.mark.server

FROM_VAULT = "sk-vault-primary-0001"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def config_with_key(config_path):
    config_path.parent.mkdir(parents=True)
    config_path.write_text(json.dumps({"api_keys": {"openai": FROM_CONFIG}}))
    config_path.chmod(0o600)
    return config_path


@pytest.fixture
def vault_behind_proxy(openbao, config_with_key):
    openbao.put_kv("degraded/app", {"openai": FROM_VAULT})
    with FaultProxy(openbao.address) as proxy:
        vault = VaultSecretProvider(
            proxy.address, "root", "secret/data/degraded/app", timeout=1, connect_timeout=0.5
        )
        yield proxy, vault
        vault.close()


def _manager(vault, fingerprinter, clock, *, sinks=(), max_stale=600.0):
    return SecretsManager(
        [vault, ConfigFileSecretProvider()],
        cache=ResolutionCache(
            60, max_stale=max_stale, stale_retry=5, clock=clock, jitter=lambda: 0.999
        ),
        attempt_middleware=[Resilience(RetryPolicy(attempts=1))],
        middleware=[AuditMiddleware(list(sinks), fingerprinter=fingerprinter)] if sinks else [],
        fingerprinter=fingerprinter,
    )


class TestOutageRule:
    def test_the_cached_higher_value_is_preferred_to_the_config_files(
        self, vault_behind_proxy, fingerprinter
    ):
        """Vault down after a read: its value is served stale, never the config file's."""
        proxy, vault = vault_behind_proxy
        clock = Clock()
        manager = _manager(vault, fingerprinter, clock)
        assert manager.get_api_key("openai") == FROM_VAULT
        proxy.stop()
        clock.now += 61
        resolution = manager.resolve("openai")
        assert resolution.value is not None
        assert resolution.value.reveal() == FROM_VAULT
        assert (resolution.source, resolution.stale) == ("vault", True)
        assert resolution.degraded_reasons == ("vault: unavailable",)
        assert [(a.source, a.outcome) for a in resolution.attempts] == [
            ("vault", Outcome.ERROR),
            ("config", Outcome.FOUND),
        ]

    def test_with_nothing_cached_the_lower_answer_is_degraded(
        self, vault_behind_proxy, fingerprinter, caplog
    ):
        """Cold start while Vault is down: the config file answers, marked and audited WARN."""
        proxy, vault = vault_behind_proxy
        proxy.stop()
        sink = ListSink()
        manager = _manager(vault, fingerprinter, Clock(), sinks=[sink, LoggingSink()])
        with caplog.at_level(logging.INFO, logger="abstractcore_secrets.audit"):
            resolution = manager.resolve("openai")
        assert resolution.value is not None
        assert resolution.value.reveal() == FROM_CONFIG
        assert (resolution.source, resolution.degraded, resolution.stale) == ("config", True, False)
        assert resolution.degraded_reasons == ("vault: unavailable",)
        [event] = sink.events
        assert {k: event[k] for k in ("outcome", "source", "degraded", "stale", "error.type")} == {
            "outcome": "found",
            "source": "config",
            "degraded": True,
            "stale": False,
            "error.type": "unavailable",
        }
        [logged] = [r for r in caplog.records if r.name == "abstractcore_secrets.audit"]
        assert logged.levelname == "WARNING"
        assert json.loads(logged.getMessage())["degraded"] is True

    def test_past_max_stale_the_lower_answer_is_served_degraded(
        self, vault_behind_proxy, fingerprinter
    ):
        """An old Vault value is not served forever: past max_stale the config file answers."""
        proxy, vault = vault_behind_proxy
        clock = Clock()
        manager = _manager(vault, fingerprinter, clock, max_stale=100)
        manager.resolve("openai")
        proxy.stop()
        clock.now += 60 + 101
        resolution = manager.resolve("openai")
        assert resolution.value is not None
        assert resolution.value.reveal() == FROM_CONFIG
        assert (resolution.degraded, resolution.stale) == (True, False)

    def test_vault_back_is_preferred_again(self, vault_behind_proxy, fingerprinter):
        """After the outage, the higher source answers again and nothing is marked."""
        proxy, vault = vault_behind_proxy
        clock = Clock()
        manager = _manager(vault, fingerprinter, clock)
        proxy.stop()
        assert manager.resolve("openai").degraded
        proxy.start()
        # The config file's answer was cached for stale_retry at most: vault is asked then.
        assert manager.resolve("openai").degraded
        clock.now += 5
        resolution = manager.resolve("openai")
        assert (resolution.source, resolution.degraded, resolution.stale) == (
            "vault",
            False,
            False,
        )


class TestDegradedCaching:
    def test_a_degraded_answer_is_cached_for_stale_retry_at_most(self, fingerprinter):
        """A cacheable lower answer is kept briefly: the failed source is asked again soon."""
        clock = Clock()
        higher = FailingSecretProvider(
            SourceUnavailableError("primary is down", source="primary"), name="primary"
        )
        lower = InMemorySecretProvider({"openai": "sk-lower-0000000001"}, name="secondary")
        manager = SecretsManager(
            [higher, lower],
            cache=ResolutionCache(300, stale_retry=5, clock=clock, jitter=lambda: 0.999),
            fingerprinter=fingerprinter,
        )
        first = manager.resolve("openai")
        assert (first.source, first.degraded) == ("secondary", True)
        clock.now += 4
        assert manager.resolve("openai").cache_hit
        higher.error = None
        higher.fallback["openai"] = "sk-primary-000000001"
        clock.now += 2
        back = manager.resolve("openai")
        assert (back.source, back.degraded, back.cache_hit) == ("primary", False, False)

    def test_a_denial_above_still_drops_the_cached_value(self, fingerprinter):
        """Under a policy that lets the chain go on after a denial, no stale value is served."""
        clock = Clock()
        higher = FailingSecretProvider(None, name="primary", fallback={"openai": "sk-old-0000001"})
        lower = InMemorySecretProvider({"openai": "sk-lower-0000000001"}, name="secondary")
        manager = SecretsManager(
            [higher, lower],
            cache=ResolutionCache(60, clock=clock, jitter=lambda: 0.999),
            policy={ErrorCategory.FORBIDDEN: "continue"},
            fingerprinter=fingerprinter,
        )
        assert manager.resolve("openai").source == "primary"
        higher.error = SourceForbiddenError("revoked", source="primary")
        clock.now += 61
        resolution = manager.resolve("openai")
        assert (resolution.source, resolution.stale, resolution.degraded) == (
            "secondary",
            False,
            True,
        )
        assert resolution.degraded_reasons == ("primary: forbidden",)


class TestCLI:
    def test_get_and_status_warn_about_a_degraded_answer(self, config_with_key):
        """Vault unreachable: the CLI answers from the config file and says why on stderr."""
        dead = f"http://127.0.0.1:{free_port()}"
        configured = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            dead,
            "--no-verify",  # nothing listens there: that is the point
            "--vault-token",
            "--vault-path",
            "secret/data/abstractcore",
            stdin="hvs.CLI-DEGRADED-TOKEN-000000\n",
        )
        assert configured.returncode == 0, configured.stderr
        got = run_cli("get", "openai")
        assert got.returncode == 0, got.stderr
        assert "config" in got.stdout
        assert "warning: openai: degraded, answered by config (vault: unavailable)" in got.stderr
        status = run_cli("status", "openai", "--json")
        assert json.loads(status.stdout)["providers"][0]["degraded"] is True
        assert "degraded, answered by config" in status.stderr
        for output in (got.stdout, got.stderr, status.stdout, status.stderr):
            assert FROM_CONFIG not in output
            assert "CLI-DEGRADED-TOKEN" not in output
