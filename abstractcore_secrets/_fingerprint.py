"""Keyed fingerprints of secret values: ``hmac-sha256:<hex>``.

A fingerprint identifies a value (which key was served, did it rotate, was this leaked key
ever served) without revealing it: without the installation's key, it cannot be tested
against guesses. The key comes from ``ABSTRACTCORE_SECRETS_FINGERPRINT_KEY`` (set the same
value on hosts whose fingerprints must match) or from a file created once, mode 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import warnings
from pathlib import Path

from . import envvars
from ._files import (
    KEY_FILE_LIMIT,
    InsecureFilePolicy,
    create_private_once,
    home_dir,
    read_small_text,
)
from ._secret import Secret
from .errors import ConfigurationError, FingerprintKeyWarning

# FingerprintKeyWarning is defined in errors.py and stays importable from here.
__all__ = ["PREFIX", "FingerprintKeyWarning", "Fingerprinter", "default_key_path"]

PREFIX = "hmac-sha256:"
_KEY_BYTES = 32


def default_key_path() -> Path:
    """Return where the per-installation fingerprint key lives."""
    return home_dir() / "secrets" / "fingerprint.key"


class Fingerprinter:
    """Compute fingerprints with one installation's key, loaded (or created) on first use.

    Args:
        key: The HMAC key. Default: ``$ABSTRACTCORE_SECRETS_FINGERPRINT_KEY``, else the key
            file, created with a random key if absent.
        key_path: Where the key file is; default :func:`default_key_path`.
    """

    def __init__(self, key: bytes | None = None, *, key_path: Path | None = None) -> None:
        self._key = key
        self._key_path = key_path
        self._lock = threading.Lock()

    def fingerprint(self, secret: Secret | str) -> str:
        """Return ``hmac-sha256:<hex>`` of the value."""
        value = secret.reveal() if isinstance(secret, Secret) else secret
        digest = hmac.new(self._loaded_key(), value.encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest

    def _loaded_key(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = _load_key(self._key_path or default_key_path())
        return self._key


def _load_key(path: Path) -> bytes:
    from_env = os.environ.get(envvars.FINGERPRINT_KEY)
    if from_env is not None:
        if len(from_env) < 16:
            raise ConfigurationError(
                f"{envvars.FINGERPRINT_KEY} is shorter than 16 characters; "
                "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        return from_env.encode()
    try:
        if not path.exists():
            create_private_once(path, secrets.token_hex(_KEY_BYTES).encode())
        # Whoever reads the key can tell which value a fingerprint stands for.
        policy = InsecureFilePolicy.from_environment()
        text = read_small_text(path, limit=KEY_FILE_LIMIT, policy=policy, source="fingerprint")
        key = text.strip().encode()
    except OSError as exc:
        # A read-only home (containers) must not stop resolutions: fingerprints then match
        # within this process only, and the warning says how to make them stable.
        warnings.warn(
            f"cannot store the fingerprint key at {path} ({type(exc).__name__}); using a key "
            f"for this process only: set {envvars.FINGERPRINT_KEY} or {envvars.HOME} to a "
            "writable folder for fingerprints that match across processes",
            FingerprintKeyWarning,
            stacklevel=4,
        )
        return secrets.token_hex(_KEY_BYTES).encode()
    if len(key) < 16:
        raise ConfigurationError(
            f"the fingerprint key in {path} is shorter than 16 bytes; delete the file to make "
            "a new one (past fingerprints will no longer match)"
        )
    return key
