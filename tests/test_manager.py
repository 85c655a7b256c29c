"""SecretsManager: precedence, the failure policy, provenance and the public calls."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from abstractcore_secrets import (
    Action,
    AuthenticationError,
    ConfigFileSecretProvider,
    ConfigurationError,
    EnvironmentSecretProvider,
    ErrorCategory,
    InvalidSourceError,
    Outcome,
    ResolutionDeniedError,
    ResolutionError,
    SecretsManager,
    SourceForbiddenError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
    VaultSecretProvider,
    get_secrets_manager,
)
from abstractcore_secrets.testing import FailingSecretProvider, InMemorySecretProvider


def _config(path, keys):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"api_keys": keys}))
    path.chmod(0o600)


def _manager(*sources, **kwargs):
    return SecretsManager(list(sources), cache=None, **kwargs)


class TestPrecedence:
    """One test per adjacent pair of the default order: explicit > env > vault > config."""

    def test_explicit_beats_env(self, fingerprinter):
        """An explicit api_key wins over the environment, and the env is not consulted."""
        env = EnvironmentSecretProvider({"OPENAI_API_KEY": "env-key"})
        resolution = _manager(env, fingerprinter=fingerprinter).resolve(
            "openai", api_key="explicit-key"
        )
        assert resolution.value is not None
        assert (resolution.value.reveal(), resolution.source, resolution.locator) == (
            "explicit-key",
            "explicit",
            "parameter",
        )
        assert [a.source for a in resolution.attempts] == ["explicit"]

    @pytest.mark.server
    def test_env_beats_vault(self, openbao, fingerprinter):
        """The environment wins over Vault; Vault is not consulted."""
        openbao.put_kv("abstractcore", {"openai": "vault-key"})
        manager = _manager(
            EnvironmentSecretProvider({"OPENAI_API_KEY": "env-key"}),
            VaultSecretProvider(openbao.address, openbao.root_token),
            fingerprinter=fingerprinter,
        )
        resolution = manager.resolve("openai")
        assert (resolution.source, manager.get_api_key("openai")) == ("env", "env-key")
        assert [a.source for a in resolution.attempts] == ["env"]

    @pytest.mark.server
    def test_vault_beats_config(self, openbao, config_path, fingerprinter):
        """Vault wins over the config file, after the environment missed."""
        openbao.put_kv("abstractcore", {"anthropic": "vault-key"})
        _config(config_path, {"anthropic": "config-key"})
        manager = _manager(
            EnvironmentSecretProvider({}),
            VaultSecretProvider(openbao.address, openbao.root_token),
            ConfigFileSecretProvider(),
            fingerprinter=fingerprinter,
        )
        resolution = manager.resolve("anthropic")
        assert resolution.value is not None
        assert (resolution.source, resolution.value.reveal()) == ("vault", "vault-key")
        assert [(a.source, a.outcome) for a in resolution.attempts] == [
            ("env", Outcome.NOT_FOUND),
            ("vault", Outcome.FOUND),
        ]
        assert resolution.version is not None
        assert resolution.request_id is not None

    def test_priority_order(self, config_path, monkeypatch):
        """The proposal's test_priority_order, driven through SecretsManager()."""
        _config(config_path, {"openai": "config-key"})
        manager = SecretsManager(cache=None)
        assert manager.get_api_key("openai", api_key="explicit-key") == "explicit-key"
        monkeypatch.setenv("OPENAI_API_KEY", "env-key")
        assert manager.get_api_key("openai") == "env-key"
        monkeypatch.delenv("OPENAI_API_KEY")
        assert manager.get_api_key("openai") == "config-key"
        assert manager.resolve("openai").source == "config"

    def test_reordered_chain_is_honoured(self, config_path, fingerprinter):
        """Order is data: a chain with the config file first reads it first."""
        _config(config_path, {"openai": "config-key"})
        manager = _manager(
            ConfigFileSecretProvider(),
            EnvironmentSecretProvider({"OPENAI_API_KEY": "env-key"}),
            fingerprinter=fingerprinter,
        )
        assert manager.resolve("openai").source == "config"


class TestFailurePolicy:
    @pytest.mark.parametrize(
        ("error", "outcome", "fell_through"),
        [
            (SourceUnavailableError("down"), Outcome.FOUND, True),
            (SourceTimeoutError("slow"), Outcome.FOUND, True),
            (SourceThrottledError("429"), Outcome.FOUND, True),
            (SourceForbiddenError("403"), Outcome.DENIED, False),
            (SourceUnauthenticatedError("401"), Outcome.DENIED, False),
            (InvalidSourceError("corrupt"), Outcome.ERROR, False),
        ],
        ids=["unavailable", "timeout", "throttled", "forbidden", "unauthenticated", "invalid"],
    )
    def test_default_policy_by_category(self, error, outcome, fell_through, fingerprinter):
        """Outages fall through to the next source; denials fail closed; invalid stops."""
        lower = InMemorySecretProvider({"openai": "fallback"}, name="config")
        manager = _manager(
            FailingSecretProvider(error, name="vault"), lower, fingerprinter=fingerprinter
        )
        resolution = manager.resolve("openai")
        assert resolution.outcome is outcome
        assert (lower.fetches == 1) is fell_through
        assert resolution.attempts[0].error is error
        assert resolution.attempts[0].error_type == error.category.value

    def test_every_source_failing_is_an_error_not_a_miss(self, fingerprinter):
        """If a source failed and none found the key, the outcome is error, not not_found."""
        manager = _manager(
            FailingSecretProvider(SourceUnavailableError("down"), name="vault"),
            InMemorySecretProvider(name="config"),
            fingerprinter=fingerprinter,
        )
        resolution = manager.resolve("openai")
        assert resolution.outcome is Outcome.ERROR
        with pytest.raises(ResolutionError, match=r"vault: unavailable; config: not_found"):
            manager.get_api_key("openai")

    def test_policy_is_configurable(self, fingerprinter):
        """A caller may choose to fall through on forbidden (visible in the attempts)."""
        manager = _manager(
            FailingSecretProvider(SourceForbiddenError("403"), name="vault"),
            InMemorySecretProvider({"openai": "fallback"}, name="config"),
            policy={ErrorCategory.FORBIDDEN: Action.CONTINUE},
            fingerprinter=fingerprinter,
        )
        resolution = manager.resolve("openai")
        assert (resolution.outcome, resolution.source) == (Outcome.FOUND, "config")
        assert resolution.attempts[0].outcome is Outcome.DENIED

    def test_policy_accepts_names_and_refuses_unknown_ones(self, fingerprinter):
        """Policies from config files use names; a typo is a ConfigurationError."""
        manager = _manager(
            FailingSecretProvider(SourceForbiddenError("403"), name="vault"),
            InMemorySecretProvider({"openai": "fallback"}, name="config"),
            policy={"forbidden": "continue"},
            fingerprinter=fingerprinter,
        )
        assert manager.resolve("openai").source == "config"
        with pytest.raises(ConfigurationError, match="'forbiden'"):
            _manager(policy={"forbiden": "continue"})

    def test_untyped_exception_is_an_error_without_its_message(self, fingerprinter):
        """A third-party source raising a bare exception does not crash the chain or leak."""

        class Broken(InMemorySecretProvider):
            def fetch(self, key):
                raise RuntimeError("token=hvs.CANARYCANARYCANARY")

        manager = _manager(
            Broken(name="custom"),
            InMemorySecretProvider({"openai": "ok"}),
            fingerprinter=fingerprinter,
        )
        resolution = manager.resolve("openai")
        assert resolution.source == "memory"
        assert "CANARY" not in str(resolution.attempts[0].error)
        assert "RuntimeError" in str(resolution.attempts[0].error)


class TestGetApiKey:
    def test_not_found_returns_none_or_raises_authentication_error(self, fingerprinter):
        """The proposal's contract: None when absent; AuthenticationError when required."""
        manager = _manager(EnvironmentSecretProvider({}), fingerprinter=fingerprinter)
        assert manager.get_api_key("openai") is None
        with pytest.raises(AuthenticationError, match="openai: No API key found") as caught:
            manager.get_api_key("openai", required=True)
        assert caught.value.provider == "openai"
        assert "env:OPENAI_API_KEY" in str(caught.value)

    def test_denied_raises_a_permission_error(self, fingerprinter):
        """A fail-closed denial surfaces as ResolutionDeniedError, a PermissionError."""
        manager = _manager(
            FailingSecretProvider(SourceForbiddenError("403 at vault")), fingerprinter=fingerprinter
        )
        with pytest.raises(PermissionError) as caught:
            manager.get_api_key("openai")
        assert isinstance(caught.value, ResolutionDeniedError)
        assert caught.value.resolution.outcome is Outcome.DENIED

    def test_invalid_provider_name_is_refused_without_echo(self, fingerprinter):
        """Provider names are checked before they reach paths; the input is not repeated."""
        with pytest.raises(ValueError, match="not a provider name") as caught:
            _manager(fingerprinter=fingerprinter).resolve("../../etc/passwd")
        assert "passwd" not in str(caught.value)

    @pytest.mark.parametrize(
        "key",
        ["sk-proj-T3BlbkFJabc123", "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "AKIAABCDEFGHIJKLMNOP"],
        ids=["openai", "huggingface", "aws"],
    )
    def test_a_key_passed_as_provider_name_is_refused_unseen(self, fingerprinter, key):
        """A key in the provider slot is refused, and never shows in the error."""
        with pytest.raises(ConfigurationError, match="pass the key as api_key=") as caught:
            _manager(fingerprinter=fingerprinter).get_api_key(key)
        assert key.lower() not in str(caught.value).lower()

    def test_provider_names_are_case_insensitive(self, fingerprinter):
        """'OpenAI' resolves like 'openai'."""
        manager = _manager(InMemorySecretProvider({"openai": "k"}), fingerprinter=fingerprinter)
        assert manager.get_api_key("OpenAI") == "k"


class TestProposalSurface:
    def test_add_provider_goes_before_the_config_file(self, fingerprinter):
        """As in the proposal: added managed sources outrank the config-file fallback."""
        manager = SecretsManager(fingerprinter=fingerprinter)
        managed = InMemorySecretProvider(name="vault")
        manager.add_provider(managed)
        assert [s.name for s in manager.providers] == ["env", "vault", "config"]

    def test_get_secrets_manager_is_a_process_singleton(self, monkeypatch):
        """get_secrets_manager() builds once from config and environment, then reuses it."""
        monkeypatch.setenv("OPENAI_API_KEY", "env-key")
        manager = get_secrets_manager()
        assert manager is get_secrets_manager()
        assert manager.get_api_key("openai") == "env-key"
        assert [s.name for s in manager.sources] == ["env", "config"]


class TestAsync:
    def test_aget_api_key_does_not_block_the_event_loop(self, fingerprinter):
        """While a slow source answers, the loop keeps running other tasks."""
        slow = InMemorySecretProvider({"openai": "k"}, delay=0.3)
        manager = _manager(slow, fingerprinter=fingerprinter)

        async def scenario():
            ticks = 0

            async def ticker():
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            task = asyncio.create_task(ticker())
            values = await asyncio.gather(*(manager.aget_api_key("openai") for _ in range(3)))
            task.cancel()
            return values, ticks

        started = time.perf_counter()
        values, ticks = asyncio.run(scenario())
        assert values == ["k", "k", "k"]
        assert ticks >= 10  # the loop ran ~30 ticks during the 0.3 s fetches
        assert time.perf_counter() - started < 0.9  # the three fetches overlapped

    def test_aresolve_returns_provenance(self, fingerprinter):
        """The async twin returns the same Resolution."""
        manager = _manager(
            EnvironmentSecretProvider({"OPENAI_API_KEY": "k"}), fingerprinter=fingerprinter
        )
        resolution = asyncio.run(manager.aresolve("openai"))
        assert (resolution.source, resolution.locator) == ("env", "env:OPENAI_API_KEY")


def test_environment_is_isolated_per_test():
    """The autouse fixture removed the machine's keys, so tests cannot read real ones."""
    assert "OPENAI_API_KEY" not in os.environ
