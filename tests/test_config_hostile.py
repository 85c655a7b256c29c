"""A config file someone else could write must not decide where credentials go."""

from __future__ import annotations

import json
import stat

import pytest

from abstractcore_secrets import ConfigurationError, build_secrets_manager
from abstractcore_secrets._files import InsecureFileWarning
from abstractcore_secrets.config import load_settings
from abstractcore_secrets.testing import FaultProxy


def _write(path, settings, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"secrets": settings}))
    path.chmod(mode)
    return path


class TestWritableSettings:
    """``secrets`` settings from a file or folder that group or others can write."""

    @pytest.mark.parametrize("mode", [0o620, 0o602, 0o666], ids=["group", "others", "both"])
    def test_a_writable_file_is_refused(self, tmp_path, mode):
        """The error names the file, its mode and the chmod that fixes it."""
        path = _write(tmp_path / "cfg" / "abstractcore.json", {"chain": ["env"]}, mode)
        path.parent.chmod(0o700)
        with pytest.raises(ConfigurationError, match=f"chmod go-w {path}"):
            load_settings(path, environ={})

    def test_a_writable_folder_is_refused(self, tmp_path):
        """Whoever can write the folder can replace the file."""
        path = _write(tmp_path / "cfg" / "abstractcore.json", {"chain": ["env"]})
        path.parent.chmod(0o777)
        try:
            with pytest.raises(ConfigurationError, match=f"chmod go-w {path.parent}"):
                load_settings(path, environ={})
        finally:
            path.parent.chmod(0o700)

    def test_a_sticky_shared_folder_is_fine(self, tmp_path):
        """In a sticky folder (/tmp-like) others cannot replace our file."""
        path = _write(tmp_path / "cfg" / "abstractcore.json", {"chain": ["env"]})
        path.parent.chmod(0o777 | stat.S_ISVTX)
        try:
            assert load_settings(path, environ={}).chain == ("env",)
        finally:
            path.parent.chmod(0o700)

    def test_the_files_own_setting_cannot_relax_it(self, tmp_path):
        """``insecure_files: warn`` written in the file is the writer's word: not taken."""
        path = _write(
            tmp_path / "cfg" / "abstractcore.json",
            {"chain": ["env"], "insecure_files": "warn"},
            0o666,
        )
        with pytest.raises(ConfigurationError):
            load_settings(path, environ={})

    def test_the_environment_can(self, tmp_path):
        """ABSTRACTCORE_SECRETS_INSECURE_FILES=warn uses it, with a warning."""
        path = _write(tmp_path / "cfg" / "abstractcore.json", {"chain": ["env"]}, 0o664)
        with pytest.warns(InsecureFileWarning, match="where credentials are sent"):
            settings = load_settings(path, environ={"ABSTRACTCORE_SECRETS_INSECURE_FILES": "warn"})
        assert settings.chain == ("env",)

    def test_a_file_without_settings_is_not_concerned(self, tmp_path):
        """AbstractCore's own file with api_keys only (often 0644) loads as before."""
        path = tmp_path / "cfg" / "abstractcore.json"
        path.parent.mkdir()
        path.write_text(json.dumps({"api_keys": {}}))
        path.chmod(0o664)
        assert load_settings(path, environ={}).chain == ("env", "config")


@pytest.mark.server
def test_no_token_reaches_the_server_a_writable_file_names(openbao, tmp_path, monkeypatch):
    """A Vault address planted in a group-writable file gets no request, no token."""
    listener = FaultProxy(openbao.address).start()
    try:
        token = "s.plantedCanaryToken0123456"
        monkeypatch.setenv("VAULT_TOKEN", token)
        path = _write(
            tmp_path / "cfg" / "abstractcore.json",
            {"chain": ["vault"], "sources": {"vault": {"addr": listener.address}}},
            0o666,
        )
        monkeypatch.setenv("ABSTRACTCORE_CONFIG_FILE", str(path))
        with pytest.raises(ConfigurationError) as caught:
            build_secrets_manager().resolve("openai")
        assert token not in str(caught.value)
        assert listener.requests == 0
    finally:
        listener.stop()


class TestSourceOptionsNeverEchoAKey:
    KEY = "sk-proj-" + "Q" * 40

    def test_an_unknown_option_shaped_like_a_key_is_not_repeated(self, config_path):
        """A key pasted as an option name is refused by its length, never by its text."""
        _write(config_path, {"sources": {"vault": {self.KEY: "x"}}})
        with pytest.raises(ConfigurationError) as raised:
            build_secrets_manager(load_settings(config_path=config_path))
        assert "unknown options [(a text of 48 characters)]" in str(raised.value)
        assert self.KEY not in repr(raised.value)

    @pytest.mark.parametrize("number", [float("inf"), float("nan"), 10**400])
    def test_a_number_past_a_floats_range_is_a_configuration_error(self, config_path, number):
        """Infinity, NaN or a 400-digit timeout is refused with the option's name."""
        # JSON's encoder writes these as Infinity, NaN and a 401-digit integer.
        _write(config_path, {"sources": {"aws": {"region": "eu-west-1", "read_timeout": number}}})
        with pytest.raises(ConfigurationError, match=r"sources.aws.read_timeout must be a finite"):
            build_secrets_manager(load_settings(config_path=config_path))
