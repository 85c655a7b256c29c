"""A key passed where a provider name belongs is refused, and never echoed or recorded."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import run_cli
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from abstractcore_secrets import SecretsManager
from abstractcore_secrets.audit._middleware import AuditMiddleware
from abstractcore_secrets.audit.journal import Journal
from abstractcore_secrets.errors import ConfigurationError
from abstractcore_secrets.llm_providers import KNOWN_ENV_VARS, validate_provider
from abstractcore_secrets.testing import InMemorySecretProvider
from abstractcore_secrets.testing.canary import canary, exception_texts, find_leaks

CUSTOM_NAMES = ["my-llm", "my-compatible", "azure_openai", "vllm", "lm-studio", "llama-3.1"]


def _hex_key() -> str:
    """32 hex digits, the shape of some providers' prefix-less keys (a canary's own)."""
    return canary().rsplit("-", 1)[1]


def _alnum_key() -> str:
    """32 mixed-case letters and digits, the shape of other prefix-less keys."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def _fireworks_key() -> str:
    return "fw_" + _alnum_key()[:24]


def _short_hex_key() -> str:
    return _hex_key()[:16]


KEY_SHAPES = {
    "32-hex": _hex_key,
    "32-alnum": _alnum_key,
    "fw_": _fireworks_key,
    "16-hex": _short_hex_key,
    "upper-hex": lambda: _hex_key().upper(),
    "canary": canary,
}


@pytest.fixture(params=list(KEY_SHAPES), ids=list(KEY_SHAPES))
def key_shaped(request: pytest.FixtureRequest) -> str:
    """A fresh key-shaped value, distinct each time."""
    return KEY_SHAPES[request.param]()


@pytest.fixture
def journaled(tmp_path: Path) -> Iterator[tuple[SecretsManager, Path]]:
    """A manager auditing to a journal, which is closed after the test."""
    path = tmp_path / "audit" / "journal.jsonl"
    journal = Journal(path, Ed25519PrivateKey.generate(), checkpoint_every=1)
    sources = [InMemorySecretProvider({"openai": "sk-" + secrets.token_hex(20)})]
    yield SecretsManager(sources, middleware=[AuditMiddleware([journal])]), path
    journal.close()


class TestValidateProvider:
    @pytest.mark.parametrize("name", [*KNOWN_ENV_VARS, *CUSTOM_NAMES])
    def test_accepts_names(self, name: str) -> None:
        """Every known provider and plausible custom names are accepted as they are."""
        assert validate_provider(name) == name

    def test_normalises_case(self) -> None:
        """A name in capitals is the same provider."""
        assert validate_provider(" OpenAI ") == "openai"

    def test_normalises_a_former_spelling(self) -> None:
        """openai-compatible is AbstractCore's openai_compatible."""
        assert validate_provider("openai-compatible") == "openai_compatible"

    def test_refuses_key_shapes_without_echo(self, key_shaped: str) -> None:
        """A key-shaped name raises a ConfigurationError that does not hold it."""
        with pytest.raises(ConfigurationError) as raised:
            validate_provider(key_shaped)
        assert find_leaks(exception_texts(raised.value, frame_locals=False), [key_shaped]) == []


class TestManager:
    def test_resolve_refuses_and_records_nothing(
        self, journaled: tuple[SecretsManager, Path], key_shaped: str
    ) -> None:
        """resolve() refuses a key as provider before any source, cache or journal sees it."""
        manager, journal = journaled
        with pytest.raises(ConfigurationError) as raised:
            manager.resolve(key_shaped)
        manager.resolve("openai")  # the journal does record a real resolution
        assert journal.read_text().count('"provider"') >= 1
        texts = [*exception_texts(raised.value, frame_locals=False), journal.read_text()]
        assert find_leaks(texts, [key_shaped]) == []

    def test_get_api_key_refuses(
        self, journaled: tuple[SecretsManager, Path], key_shaped: str
    ) -> None:
        """get_api_key() refuses it the same way, never returning another provider's key."""
        manager, journal = journaled
        with pytest.raises(ConfigurationError) as raised:
            manager.get_api_key(key_shaped, required=True)
        texts = exception_texts(raised.value, frame_locals=False)
        assert find_leaks(texts, [key_shaped]) == []
        assert not journal.exists() or find_leaks([journal.read_text()], [key_shaped]) == []


class TestCommandLine:
    @pytest.fixture
    def journal_env(self, tmp_path: Path) -> dict[str, str]:
        return {"ABSTRACTCORE_SECRETS_AUDIT_JOURNAL": str(tmp_path / "journal.jsonl")}

    @pytest.mark.parametrize("command", ["get", "status"])
    def test_read_commands_refuse(
        self, command: str, key_shaped: str, journal_env: dict[str, str], tmp_path: Path
    ) -> None:
        """get and status exit 3 with a message that names the fix and not the value."""
        result = run_cli(command, key_shaped, env={**journal_env, "OPENAI_API_KEY": "sk-x1"})
        assert result.returncode == 3
        assert "provider name" in result.stderr
        journal = tmp_path / "journal.jsonl"
        texts = [result.stdout, result.stderr]
        if journal.exists():
            texts.append(journal.read_text())
        assert find_leaks(texts, [key_shaped]) == []

    def test_set_key_refuses_and_writes_nothing(
        self, key_shaped: str, config_path: Path, journal_env: dict[str, str]
    ) -> None:
        """set-key with a key as provider stores nothing and shows neither value."""
        typed = canary("sk")
        result = run_cli("set-key", key_shaped, stdin=typed + "\n", env=journal_env)
        assert result.returncode == 3
        assert not config_path.exists()
        assert find_leaks([result.stdout, result.stderr], [key_shaped, typed]) == []
