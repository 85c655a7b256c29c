"""EnvironmentSecretProvider: variables, aliases, the generic rule and <VAR>_FILE."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from abstractcore_secrets import (
    EnvironmentSecretProvider,
    InsecureFileError,
    InsecureFilePolicy,
    InvalidSourceError,
    ResolutionError,
    SecretsManager,
)
from abstractcore_secrets._files import InsecureFileWarning


def _key_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "mounted-secret"
    path.write_text(text)
    path.chmod(mode)
    return path


class TestEnvironmentSecretProvider:
    def test_environment_provider(self):
        """The proposal's own example: OPENAI_API_KEY is the openai key."""
        os.environ["OPENAI_API_KEY"] = "test-key-123"
        try:
            provider = EnvironmentSecretProvider()
            assert provider.get_secret("openai") == "test-key-123"
        finally:
            del os.environ["OPENAI_API_KEY"]

    @pytest.mark.parametrize(
        ("provider", "variable"),
        [
            ("openai", "OPENAI_API_KEY"),
            ("anthropic", "ANTHROPIC_API_KEY"),
            ("huggingface", "HUGGINGFACE_TOKEN"),
            ("huggingface", "HF_TOKEN"),
            ("lmstudio", "LMSTUDIO_API_KEY"),
            ("openrouter", "OPENROUTER_API_KEY"),
            ("portkey", "PORTKEY_API_KEY"),
            ("vllm", "VLLM_API_KEY"),
            ("google", "GOOGLE_API_KEY"),
            ("openai-compatible", "OPENAI_COMPATIBLE_API_KEY"),
            ("ollama", "OLLAMA_API_KEY"),
            ("together.ai", "TOGETHER_AI_API_KEY"),
        ],
        ids=lambda value: value,
    )
    def test_reads_each_providers_variable(self, provider, variable):
        """Each known provider has its variable; others follow <PROVIDER>_API_KEY."""
        record = EnvironmentSecretProvider({variable: "k-value"}).fetch(provider)
        assert record is not None
        assert (record.secret.reveal(), record.locator) == ("k-value", f"env:{variable}")

    def test_canonical_name_wins_over_alias(self):
        """HUGGINGFACE_TOKEN is read before its alias HF_TOKEN."""
        source = EnvironmentSecretProvider({"HUGGINGFACE_TOKEN": "canonical", "HF_TOKEN": "alias"})
        assert source.get_secret("huggingface") == "canonical"

    def test_unset_and_empty_are_not_found(self):
        """No variable, or an empty one, means not here."""
        assert EnvironmentSecretProvider({}).get_secret("openai") is None
        assert EnvironmentSecretProvider({"OPENAI_API_KEY": ""}).get_secret("openai") is None

    def test_reads_the_file_named_by_var_file(self, tmp_path):
        """OPENAI_API_KEY_FILE names a mounted file; its trailing newline is dropped."""
        path = _key_file(tmp_path, "from-file\n")
        record = EnvironmentSecretProvider({"OPENAI_API_KEY_FILE": str(path)}).fetch("openai")
        assert record is not None
        assert record.secret.reveal() == "from-file"
        assert record.locator == "env:OPENAI_API_KEY_FILE"

    def test_a_key_pasted_into_var_file_is_never_echoed(self):
        """OPENAI_API_KEY_FILE=<a key> by mistake: the error and locator do not repeat it."""
        with pytest.raises(InvalidSourceError) as caught:
            EnvironmentSecretProvider({"OPENAI_API_KEY_FILE": "gsk_pastedkey123456"}).fetch(
                "openai"
            )
        assert "gsk_pastedkey123456" not in str(caught.value)
        assert caught.value.locator == "env:OPENAI_API_KEY_FILE"

    def test_both_var_and_file_is_an_error(self, tmp_path):
        """Setting both is ambiguous; the message says to unset one."""
        path = _key_file(tmp_path, "from-file")
        source = EnvironmentSecretProvider(
            {"OPENAI_API_KEY": "x", "OPENAI_API_KEY_FILE": str(path)}
        )
        with pytest.raises(InvalidSourceError, match="unset one of them"):
            source.fetch("openai")

    @pytest.mark.parametrize(
        ("setup", "message"),
        [
            ("missing", "cannot be read"),
            ("empty", "an empty file"),
            ("two-lines", "whitespace or control characters"),
        ],
    )
    def test_unusable_files_are_errors_that_name_the_fix(self, tmp_path, setup, message):
        """A _FILE that is missing, empty or holds two lines is an error, never a silent miss."""
        path = tmp_path / "absent"
        if setup != "missing":
            path = _key_file(tmp_path, {"empty": "\n", "two-lines": "line-one\nline-two\n"}[setup])
        source = EnvironmentSecretProvider({"OPENAI_API_KEY_FILE": str(path)})
        error = SecretsManager([source], cache=None).resolve("openai").error
        assert isinstance(error, ResolutionError)
        assert isinstance(error.__cause__, InvalidSourceError)
        assert message in str(error.__cause__)
        assert "line-one" not in str(error)

    def test_a_file_others_can_read_is_refused(self, tmp_path):
        """Mode 0644 is refused, and the message gives the chmod that fixes it."""
        path = _key_file(tmp_path, "k", mode=0o644)
        with pytest.raises(InsecureFileError, match=f"chmod 600 {path}"):
            EnvironmentSecretProvider({"OPENAI_API_KEY_FILE": str(path)}).fetch("openai")

    def test_warn_policy_reads_an_insecure_file_with_a_warning(self, tmp_path):
        """With insecure_files=warn, the key is read and a warning says why that is risky."""
        path = _key_file(tmp_path, "k", mode=0o640)
        source = EnvironmentSecretProvider(
            {"OPENAI_API_KEY_FILE": str(path)}, insecure_files=InsecureFilePolicy.WARN
        )
        with pytest.warns(InsecureFileWarning, match="mode 0640"):
            assert source.get_secret("openai") == "k"

    def test_value_with_whitespace_is_invalid_and_not_echoed(self):
        """A value with a space or newline is refused without showing it."""
        source = EnvironmentSecretProvider({"OPENAI_API_KEY": "sk-half one"})
        resolution = SecretsManager([source], cache=None).resolve("openai")
        assert [a.error_type for a in resolution.attempts] == ["invalid"]
        assert "sk-half" not in str(resolution.error)
