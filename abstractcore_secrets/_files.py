"""Where the library keeps its files, and how it reads and writes files that hold keys.

Key files are written atomically (a temporary file in the same folder, then ``os.replace``)
with mode 0600 in a 0700 folder. A key file that group or others can read is refused, or
read with a warning where the user chose ``warn``; it is never read silently.
"""

from __future__ import annotations

import contextlib
import enum
import os
import stat
import tempfile
import warnings
from pathlib import Path

from . import envvars
from .errors import (
    ConfigurationError,
    FileTooLargeError,
    InsecureFileError,
    InsecureFileWarning,
    NotRegularFileError,
    NotUTF8Error,
)

# The errors and the warning are defined in errors.py and stay importable from here.
__all__ = [
    "CONFIG_FILE_LIMIT",
    "KEY_FILE_LIMIT",
    "FileTooLargeError",
    "InsecureFilePolicy",
    "InsecureFileWarning",
    "NotRegularFileError",
    "NotUTF8Error",
    "check_permissions",
    "create_private_once",
    "default_config_path",
    "home_dir",
    "read_small_text",
    "write_private",
]


class InsecureFilePolicy(str, enum.Enum):
    """What to do with a key file that group or others can read."""

    REFUSE = "refuse"
    WARN = "warn"

    @classmethod
    def from_environment(cls) -> InsecureFilePolicy:
        """Read the policy from ``ABSTRACTCORE_SECRETS_INSECURE_FILES`` (default ``refuse``).

        Set but empty (or blank) reads as unset, as the chain settings read it.

        Raises:
            ConfigurationError: The variable holds something else than a policy.
        """
        raw = os.environ.get(envvars.INSECURE_FILES, "").strip().lower() or cls.REFUSE.value
        # Looked up, not tried: the enum's ValueError would repeat the value as __context__,
        # and a key pasted into the wrong variable must not travel on with the error.
        policy = {policy.value: policy for policy in cls}.get(raw)
        if policy is None:
            raise ConfigurationError(
                f"{envvars.INSECURE_FILES} is not a policy ({len(raw)} characters); "
                "use 'refuse' or 'warn'"
            )
        return policy


def home_dir() -> Path:
    """Return the library's folder: ``$ABSTRACTCORE_HOME`` or ``~/.abstractcore``."""
    override = os.environ.get(envvars.HOME)
    return Path(override).expanduser() if override else Path.home() / ".abstractcore"


def default_config_path() -> Path:
    """Return the config file's path: ``$ABSTRACTCORE_CONFIG_FILE`` or the AbstractCore one."""
    override = os.environ.get(envvars.CONFIG_FILE)
    if override:
        return Path(override).expanduser()
    return home_dir() / "config" / "abstractcore.json"


def check_permissions(path: Path, policy: InsecureFilePolicy, *, source: str) -> None:
    """Refuse (or warn about) a key file that group or others can read.

    Args:
        path: The file to check; it must exist.
        policy: ``refuse`` raises, ``warn`` warns and lets the caller read.
        source: The name of the source reading it, for the message.

    Raises:
        InsecureFileError: The file is group- or world-accessible and the policy is refuse.
    """
    _check_mode(path, stat.S_IMODE(path.stat().st_mode), policy, source)


KEY_FILE_LIMIT = 64 * 1024
"""Bytes a file holding one key or credential may have: keys are far shorter."""

CONFIG_FILE_LIMIT = 4 * 1024 * 1024
"""Bytes the config file may have."""


def read_small_text(
    path: Path, *, limit: int, policy: InsecureFilePolicy | None = None, source: str = ""
) -> str:
    """Read a small UTF-8 file safely: never blocking, never whole if huge, checked as opened.

    The file is opened without blocking (a FIFO does not hang), then its descriptor is
    checked: a regular file, at most ``limit`` bytes, and with ``policy``, not readable by
    group or others. Checking what was opened, not the path, leaves no window in which the
    path could be swapped. Symbolic links are followed (Kubernetes mounts secrets through
    them).

    Args:
        path: The file.
        limit: Most bytes it may hold.
        policy: For key files: what to do when group or others can read it.
        source: The reading source's name, for messages.

    Returns:
        Its text.

    Raises:
        OSError: It cannot be opened (``FileNotFoundError``, ...), or is a
            ``NotRegularFileError``, a ``FileTooLargeError`` or a ``NotUTF8Error``; messages
            hold the path, never the contents.
        InsecureFileError: Others can read it and ``policy`` is refuse.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as stream:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise NotRegularFileError(f"{path} is not a regular file")
        if policy is not None:
            _check_mode(path, stat.S_IMODE(status.st_mode), policy, source)
        if status.st_size > limit:
            raise FileTooLargeError(f"{path} is larger than {limit} bytes")
        data = stream.read(limit + 1)  # it may have grown since
    if len(data) > limit:
        raise FileTooLargeError(f"{path} is larger than {limit} bytes")
    text = None
    with contextlib.suppress(UnicodeDecodeError):
        text = data.decode("utf-8")
    if text is None:
        # Raised here, not in an except block: the decode error holds the bytes.
        raise NotUTF8Error(f"{path} is not UTF-8 text")
    return text


def _check_mode(path: Path, mode: int, policy: InsecureFilePolicy, source: str) -> None:
    if not mode & 0o077:
        return
    message = (
        f"{path} holds keys and has mode {mode:04o}, so others on this machine can read it; "
        f"fix it with: chmod 600 {path} (a Docker secret: mode 0400 in the compose file's "
        "secrets entry; a Kubernetes secret volume: defaultMode 0400)"
    )
    if policy is InsecureFilePolicy.WARN:
        warnings.warn(message, InsecureFileWarning, stacklevel=4)
        return
    raise InsecureFileError(
        f"{message} (or set {envvars.INSECURE_FILES}=warn to read it anyway)",
        source=source,
        locator=str(path),
    )


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600, in a folder made 0700 if new.

    A reader sees the old file or the new one, never a partial one.

    Args:
        path: Destination.
        data: Full new contents.
    """
    _publish(path, data, exclusive=False)


def create_private_once(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` (0600) unless it exists; whole or not at all.

    Of several processes racing to create it, exactly one wins and all see its contents.
    """
    with contextlib.suppress(FileExistsError):
        _publish(path, data, exclusive=True)


def _publish(path: Path, data: bytes, *, exclusive: bool) -> None:
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp creates 0600 already; chmod guards against an unusual umask-ignoring FS.
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if exclusive:
            path.hardlink_to(temporary)  # fails if path exists: create-if-absent, whole
        else:
            Path(temporary).replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
