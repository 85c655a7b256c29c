"""The config file: AbstractCore's api_keys layout, safe writes, refusals that name the fix."""

from __future__ import annotations

import json
import stat

import pytest

from abstractcore_secrets import (
    ConfigFileSecretProvider,
    InsecureFileError,
    InsecureFilePolicy,
    InvalidSourceError,
    Secret,
)
from abstractcore_secrets._config_file import ConfigFile
from abstractcore_secrets._files import InsecureFileWarning


def _write(path, document, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    path.chmod(mode)


class TestConfigFileSecretProvider:
    def test_reads_abstractcore_api_keys_layout(self, config_path):
        """The file AbstractCore writes today keeps working, at its default location."""
        _write(config_path, {"api_keys": {"openai": "sk-abc123", "anthropic": "sk-ant-xyz"}})
        source = ConfigFileSecretProvider()
        assert source.get_secret("openai") == "sk-abc123"
        assert source.get_secret("anthropic") == "sk-ant-xyz"
        assert source.locator("openai") == f"{config_path}#api_keys.openai"

    def test_location_follows_the_environment(self, tmp_path, monkeypatch):
        """ABSTRACTCORE_CONFIG_FILE moves the file."""
        elsewhere = tmp_path / "elsewhere.json"
        _write(elsewhere, {"api_keys": {"openai": "moved"}})
        monkeypatch.setenv("ABSTRACTCORE_CONFIG_FILE", str(elsewhere))
        assert ConfigFileSecretProvider().get_secret("openai") == "moved"

    def test_missing_file_and_missing_entry_are_not_found(self, config_path):
        """No file, or no entry, means not here."""
        assert ConfigFileSecretProvider().get_secret("openai") is None
        _write(config_path, {"api_keys": {"anthropic": "x"}, "other": 1})
        assert ConfigFileSecretProvider().get_secret("openai") is None

    @pytest.mark.parametrize(
        ("content", "problem"),
        [
            ('{"api_keys": {"openai": "sk-secret-in-broken', "is not valid JSON (line 1"),
            ("[1, 2]", "JSON object at the top level"),
            ('{"api_keys": ["sk-x"]}', "'api_keys' section that is not a JSON object"),
            ('{"api_keys": {"openai": 42}}', "api_keys.openai that is not a string"),
        ],
        ids=["truncated", "array", "keys-not-object", "value-not-string"],
    )
    def test_corrupt_file_is_a_clear_error(self, config_path, content, problem):
        """A corrupt file is an error naming the file and the fix, never silently empty."""
        _write(config_path, content)
        with pytest.raises(InvalidSourceError, match="fix it, or move it aside") as caught:
            ConfigFileSecretProvider().get_secret("openai")
        assert problem in str(caught.value)
        assert "sk-secret" not in str(caught.value)
        # Neither chained nor implicit context: decode errors carry the whole text.
        assert (caught.value.__cause__, caught.value.__context__) == (None, None)

    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660], ids=oct)
    def test_group_or_world_readable_file_is_refused(self, config_path, mode):
        """A key file others can access is refused, naming the chmod that fixes it."""
        _write(config_path, {"api_keys": {"openai": "k"}}, mode=mode)
        with pytest.raises(InsecureFileError, match=f"chmod 600 {config_path}"):
            ConfigFileSecretProvider().get_secret("openai")

    def test_warn_setting_reads_with_a_warning(self, config_path, monkeypatch):
        """ABSTRACTCORE_SECRETS_INSECURE_FILES=warn reads the key and warns."""
        _write(config_path, {"api_keys": {"openai": "k"}}, mode=0o644)
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_INSECURE_FILES", "warn")
        with pytest.warns(InsecureFileWarning):
            assert ConfigFileSecretProvider().get_secret("openai") == "k"
        source = ConfigFileSecretProvider(insecure_files=InsecureFilePolicy.REFUSE)
        with pytest.raises(InsecureFileError):
            source.get_secret("openai")


class TestConfigFile:
    def test_write_is_private_and_keeps_other_sections(self, config_path):
        """A write makes the file 0600 in a 0700 folder and keeps AbstractCore's other settings."""
        config = ConfigFile()
        config.write_api_key("openai", Secret("sk-one"))
        _write(config_path, {**config.load(), "default_model": "gpt-4o"})
        config.write_api_key("anthropic", Secret("sk-two"))
        assert config.load() == {
            "api_keys": {"openai": "sk-one", "anthropic": "sk-two"},
            "default_model": "gpt-4o",
        }
        assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(config_path.parent.stat().st_mode) == 0o700

    def test_write_leaves_no_temporary_files(self, config_path):
        """Atomic replacement cleans up after itself."""
        ConfigFile().write_api_key("openai", Secret("sk-one"))
        assert [p.name for p in config_path.parent.iterdir()] == [config_path.name]
