"""Files that hold keys, read as an attacker would leave them: a FIFO, a huge file, bytes
that are not UTF-8 around a key, a folder, a swap of the path. Every reader fails at once
with the path and the reason, never the contents, or reads a legitimate symlinked file."""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path

import pytest

from abstractcore_secrets import EnvironmentSecretProvider, SecretsError
from abstractcore_secrets._config_file import ConfigFile
from abstractcore_secrets._files import (
    KEY_FILE_LIMIT,
    FileTooLargeError,
    NotRegularFileError,
    NotUTF8Error,
    read_small_text,
)
from abstractcore_secrets.errors import ConfigurationError, InsecureFileError
from abstractcore_secrets.sources.vault_auth import TokenAuth
from abstractcore_secrets.testing.canary import canary

pytestmark = pytest.mark.timeout(20)  # a reader that blocks on a FIFO fails here, not hangs


def _fifo(path: Path) -> Path:
    os.mkfifo(path, 0o600)
    return path


def _private(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _everything_said(error: BaseException) -> str:
    """The message, the chain, the traceback and the attributes of ``error``, as text."""
    parts = ["".join(traceback.format_exception(error))]
    seen: BaseException | None = error
    while seen is not None:
        parts.append(repr(vars(seen)))
        parts.append(repr(seen.args))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


class TestReadSmallText:
    """The one reader every key file, credential file and the config file go through."""

    def test_a_fifo_fails_at_once(self, tmp_path):
        """A FIFO is refused without waiting for a writer."""
        with pytest.raises(NotRegularFileError):
            read_small_text(_fifo(tmp_path / "fifo"), limit=KEY_FILE_LIMIT)

    def test_a_folder_is_not_a_file(self, tmp_path):
        """A folder is refused (opening it may succeed; it is checked as opened)."""
        with pytest.raises((NotRegularFileError, IsADirectoryError)):
            read_small_text(tmp_path, limit=KEY_FILE_LIMIT)

    def test_a_huge_file_is_not_read_whole(self, tmp_path):
        """A file over the limit is refused; one at the limit is read."""
        path = _private(tmp_path / "big", b"k" * (KEY_FILE_LIMIT + 1))
        with pytest.raises(FileTooLargeError, match=str(KEY_FILE_LIMIT)):
            read_small_text(path, limit=KEY_FILE_LIMIT)
        path.write_bytes(b"k" * KEY_FILE_LIMIT)
        assert len(read_small_text(path, limit=KEY_FILE_LIMIT)) == KEY_FILE_LIMIT

    def test_non_utf8_keeps_no_byte(self, tmp_path):
        """A key in a file that is not UTF-8 is in no part of the error, chain included."""
        value = canary()
        path = _private(tmp_path / "key", value.encode() + b"\xff\xfe")
        with pytest.raises(NotUTF8Error) as caught:
            read_small_text(path, limit=KEY_FILE_LIMIT)
        assert value not in _everything_said(caught.value)
        assert caught.value.__context__ is None

    def test_mode_is_checked_on_what_was_opened(self, tmp_path):
        """A readable file is refused under refuse, whatever the path points at later."""
        from abstractcore_secrets._files import InsecureFilePolicy

        path = tmp_path / "key"
        path.write_text("a-key-value-123")
        path.chmod(0o644)
        with pytest.raises(InsecureFileError):
            read_small_text(path, limit=KEY_FILE_LIMIT, policy=InsecureFilePolicy.REFUSE)

    def test_a_symlinked_secret_is_read(self, tmp_path):
        """Kubernetes mounts secrets through symlinks: those are followed."""
        target = _private(tmp_path / "..data-key", b"mounted-key-value\n")
        link = tmp_path / "key"
        link.symlink_to(target)
        assert read_small_text(link, limit=KEY_FILE_LIMIT) == "mounted-key-value\n"


class TestReaders:
    """Each reader of the library, given each hostile file."""

    @pytest.fixture(params=["fifo", "huge", "non_utf8", "folder"])
    def hostile(self, request, tmp_path):
        """A path to a hostile file, and the canary it may hold."""
        value = canary()
        path = tmp_path / "hostile"
        if request.param == "fifo":
            _fifo(path)
        elif request.param == "huge":
            _private(path, value.encode() + b"x" * (8 * 1024 * 1024))
        elif request.param == "non_utf8":
            _private(path, value.encode() + b"\n\xff")
        else:
            path.mkdir(mode=0o700)
        return path, value

    def test_env_file_variable(self, hostile, monkeypatch):
        """OPENAI_API_KEY_FILE at a hostile file: an invalid source error naming the variable."""
        path, value = hostile
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(path))
        with pytest.raises(SecretsError, match="OPENAI_API_KEY_FILE") as caught:
            EnvironmentSecretProvider().fetch("openai")
        assert value not in _everything_said(caught.value)

    def test_vault_token_file(self, hostile):
        """A Vault token file: a configuration error naming the path."""
        path, value = hostile
        with pytest.raises(ConfigurationError, match=str(path)) as caught:
            TokenAuth(token_file=path).login(None)
        assert value not in _everything_said(caught.value)

    def test_config_file(self, hostile):
        """The config file: an invalid source error, never a hang or a whole read."""
        path, value = hostile
        with pytest.raises(SecretsError) as caught:
            ConfigFile(path).load()
        assert value not in _everything_said(caught.value)

    def test_config_file_valid_is_read(self, tmp_path):
        """A normal config file still loads."""
        path = _private(tmp_path / "abstractcore.json", json.dumps({"api_keys": {}}).encode())
        assert ConfigFile(path).load() == {"api_keys": {}}
