"""The journal's signing key: made once, kept private, and what a checkpoint's signature
must match."""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ._records import CHECKPOINT, record_hash


def default_signing_key_path() -> Path:
    """Return where the installation's journal signing key lives (created on first use)."""
    from .._files import home_dir

    return home_dir() / "secrets" / "journal.key"


def load_signing_key(path: Path, *, create: bool = True) -> Any:  # noqa: ANN401 - Ed25519PrivateKey
    """Return the Ed25519 key at ``path``, creating it (PEM, 0600) if absent.

    Args:
        path: The key file.
        create: Create the key when ``path`` does not exist; ``False`` raises instead
            (whoever only reads the key, as ``audit public-key``, must never make one).

    Raises:
        FileNotFoundError: ``path`` does not exist and ``create`` is false.
        ConfigurationError: ``path`` holds no Ed25519 private key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from .._files import KEY_FILE_LIMIT, InsecureFilePolicy, create_private_once, read_small_text

    if not path.exists():
        if not create:
            raise FileNotFoundError(errno.ENOENT, "no journal signing key there", str(path))
        created = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        create_private_once(path, created)
    # Whoever reads the signing key can forge checkpoints: refused like any key file.
    policy = InsecureFilePolicy.from_environment()
    pem = read_small_text(path, limit=KEY_FILE_LIMIT, policy=policy, source="journal")
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path} does not hold an Ed25519 private key")
    return key


def public_key_id(public_key: Any) -> str:  # noqa: ANN401 - Ed25519PublicKey
    """Return a short id of a public key: the first 16 hex digits of its SHA-256."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signed_checkpoint(record: Mapping[str, Any], public_key: Any) -> bool:  # noqa: ANN401
    """Return whether ``record`` is a checkpoint of ``public_key`` sealing the record before it.

    Its own hash must match, its ``head`` must be its ``prev``, its ``key_id`` the key's,
    and its ``signature`` (hex) must sign ``head``.
    """
    head, signature = record.get("head"), record.get("signature")
    if (
        record.get("type") != CHECKPOINT
        or record.get("hash") != record_hash(record)
        or record.get("key_id") != public_key_id(public_key)
        or not isinstance(head, str)
        or head != record.get("prev")
    ):
        return False
    return signature_valid(public_key, signature, head)


def signature_valid(public_key: Any, signature: object, head: str) -> bool:  # noqa: ANN401
    """Return whether ``signature`` (hex; maybe absent or not text) signs ``head``."""
    from cryptography.exceptions import InvalidSignature

    if not isinstance(signature, str):
        return False
    try:
        public_key.verify(bytes.fromhex(signature), bytes.fromhex(head))
    except (InvalidSignature, ValueError):
        return False
    return True
