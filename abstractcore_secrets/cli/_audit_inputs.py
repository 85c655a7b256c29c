"""The files the audit commands are given: checked up front, and their failures told.

A journal that is a folder, a device or a pipe (which would block the command forever),
a file the user may not read, a ``--key`` that holds no Ed25519 key, an output that
cannot be written: each is a usage error (exit 2) naming the file and the fix, never an
internal error. A path shaped like a key is not echoed.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from ..sources.spec import shown_path
from . import _console as console

PUBLIC_KEY_FIX = (
    "give the journal's Ed25519 public key in PEM: 'abstractcore-secrets audit public-key' "
    "prints it on the host that writes the journal"
)


def check_journals(paths: tuple[Path, ...]) -> None:
    """Exit 2 when a journal given exists but cannot be read as a file.

    A missing journal is let through: ``verify`` reports it as a finding (a deleted
    journal), the other commands have had it refused by click already.
    """
    for path in paths:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            _unusable(path, exc.strerror or type(exc).__name__)
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe or device)"
            _unusable(path, kind)
        if not os.access(path, os.R_OK):
            _unusable(path, "you may not read it")


def _unusable(path: Path, why: str) -> None:
    console.fail(
        f"the journal {shown_path(path)} cannot be read: {why}; give the journal's files "
        "(e.g. audit.jsonl*)",
        console.Exit.USAGE,
    )


def public_key(path: Path) -> object:
    """Return the Ed25519 public key in the PEM file ``path`` (or of the private key in it).

    Exits 2 when the file cannot be read or holds no Ed25519 key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    problem: str | None = None
    key: object = None
    data = b""
    try:
        if not path.is_file():
            problem = "is not a file"
        else:
            data = path.read_bytes()[: 64 * 1024]
            key = _load_pem(serialization, data)
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or type(exc).__name__})"
    if problem is None and key is None:
        encrypted = b"ENCRYPTED" in data
        problem = "holds an encrypted private key" if encrypted else "holds no key in PEM"
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    if problem is None and not isinstance(key, Ed25519PublicKey):
        kind = re.sub(r"(Public|Private)Key$", "", type(key).__name__.lstrip("_"))
        problem = f"holds a key of type {kind}, not Ed25519"
    if problem is not None:
        console.fail(f"--key {shown_path(path)} {problem}; {PUBLIC_KEY_FIX}", console.Exit.USAGE)
    return key


def _load_pem(serialization: object, data: bytes) -> object:
    """Return the public or unencrypted private key in ``data``, or ``None``."""
    for load in ("load_pem_public_key", "load_pem_private_key"):
        arguments: dict[str, object] = {} if load == "load_pem_public_key" else {"password": None}
        with contextlib.suppress(ValueError, TypeError):
            # TypeError: an encrypted private key; cryptography's UnsupportedAlgorithm is a
            # ValueError subclass.
            return getattr(serialization, load)(data, **arguments)
    return None


def check_output_file(path: Path, what: str) -> None:
    """Exit 2 when the file ``path`` cannot be written: its folder is missing or read-only."""
    folder = path.absolute().parent
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        console.fail(
            f"cannot write {what} {shown_path(path)}: it is a folder, or its folder does not "
            "exist or cannot be written into; give a file in a folder you can write",
            console.Exit.USAGE,
        )


def check_output_folder(path: Path, what: str) -> None:
    """Exit 2 when the folder ``path`` can be neither used nor created (missing parents are)."""
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        console.fail(
            f"cannot write {what} {shown_path(path)}: it, or the folder it would be made in, "
            "is not a folder you can write",
            console.Exit.USAGE,
        )


@contextlib.contextmanager
def told_failures(doing: str) -> Iterator[None]:
    """Turn an ``OSError`` while ``doing`` (reading journals, writing output) into exit 2."""
    failure: OSError | None = None
    try:
        yield
    except BrokenPipeError:
        raise  # the reader of standard output left: main() ends quietly
    except OSError as exc:
        failure = exc
    if failure is not None:
        where = "" if failure.filename is None else f" {shown_path(failure.filename)}"
        console.fail(
            f"{doing} failed on{where or ' a file'}: {failure.strerror or type(failure).__name__}",
            console.Exit.USAGE,
        )
