"""The audit journal: append-only JSON lines, hash-chained, sealed by signed checkpoints.

Each line is one record, in a canonical encoding (sorted keys, no spaces, UTF-8)::

    {"event": {...}, "hash": "<sha256 hex>", "prev": "<hash of the previous record>", "seq": 7}

``hash`` is SHA-256 of the canonical encoding of the record without ``hash``, so editing,
inserting, deleting or reordering a record breaks the chain at that point. Every
``checkpoint_every`` records, and at close, a checkpoint record seals the chain: its
``signature`` is an Ed25519 signature over the head hash, so rewriting the whole tail is
detected too unless the signing key was stolen.

Several threads and several processes may append to one journal: each append takes an
exclusive ``flock`` on the file and reads the current head from the file itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

GENESIS = "0" * 64
CHECKPOINT = "audit.checkpoint"
ROTATED = "audit.rotated"
_TAIL_BYTES = 1 << 16


def canonical(record: Mapping[str, Any]) -> bytes:
    """Return the canonical encoding of ``record``: what hashes and signatures cover."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    """Return the SHA-256 hex of ``record`` without its ``hash`` field."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def default_signing_key_path() -> Path:
    """Return where the installation's journal signing key lives (created on first use)."""
    from ..files import home_dir

    return home_dir() / "secrets" / "journal.key"


def load_signing_key(path: Path) -> Any:  # noqa: ANN401 - cryptography's Ed25519PrivateKey
    """Return the Ed25519 key at ``path``, creating it (PEM, 0600) if absent."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..files import KEY_FILE_LIMIT, InsecureFilePolicy, create_private_once, read_small_text

    if not path.exists():
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


class Journal:
    """Append audit events to a hash-chained file; an audit sink (``journal(event)``).

    Args:
        path: The journal file (created 0600 in a 0700 folder).
        signing_key: Ed25519 private key for checkpoints.
        checkpoint_every: Records between checkpoints.
        fsync: ``always`` (each record is on disk before the call returns) or ``batch``
            (on disk at each checkpoint and at close; faster, may lose the last records on
            a power cut, never corrupts earlier ones).
        max_bytes: Rotate when the file grows past this size: the file is sealed with a
            checkpoint, kept as ``<name>.<first seq>``, and a new file continues the chain
            (its first record points at the sealed file's last hash). ``None``: never.

    Raises:
        ConfigurationError: An unknown fsync policy.
    """

    name = "journal"
    durable = True
    """Its failure blocks resolutions when the audit failure mode is ``block``."""

    def __init__(
        self,
        path: Path | str,
        signing_key: Any,  # noqa: ANN401 - cryptography's Ed25519PrivateKey
        *,
        checkpoint_every: int = 1000,
        fsync: str = "batch",
        max_bytes: int | None = None,
    ) -> None:
        if fsync not in ("always", "batch"):
            raise ConfigurationError(f"fsync must be 'always' or 'batch', not {fsync!r}")
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._key = signing_key
        self.key_id = public_key_id(signing_key.public_key())
        self.checkpoint_every = checkpoint_every
        self.fsync = fsync
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._file = _open(self.path)

    def __call__(self, event: Mapping[str, Any]) -> None:
        """Append one event; raises ``OSError`` if it could not be written."""
        self.append({"event": dict(event)})

    def append(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Append a record with ``body``'s fields, chained to the head; return it."""
        with self._lock:
            self._lock_current_file()
            try:
                record = self._append_locked(body)
                if record["seq"] % self.checkpoint_every == 0:
                    self._append_locked(self._checkpoint_body(record["hash"]))
                    os.fsync(self._file.fileno())
                if self.max_bytes is not None and self._file.tell() >= self.max_bytes:
                    self._rotate_locked()
                return record
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)

    def _lock_current_file(self) -> None:
        """Lock the file now at ``path``; another process may have rotated it away."""
        while True:
            fcntl.flock(self._file, fcntl.LOCK_EX)
            if os.fstat(self._file.fileno()).st_ino == self.path.stat().st_ino:
                return
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = _open(self.path)

    def _rotate_locked(self) -> None:
        """Seal this file, keep it under its first seq, and continue the chain in a new one."""
        head = _last_record(self._file)
        if head is None:
            return
        if head.get("type") != CHECKPOINT:
            head = self._append_locked(self._checkpoint_body(head["hash"]))
        os.fsync(self._file.fileno())
        self._file.seek(0)
        first = json.loads(self._file.readline())
        archive = self.path.with_name(f"{self.path.name}.{first['seq']:012d}")
        # A crash between the link and the switch below left the archive already linked.
        if not (archive.exists() and archive.samefile(self.path)):
            os.link(self.path, archive)
        # The new file starts with a record that chains to the sealed one, and replaces
        # the name atomically: writers never see a missing or an unchained journal.
        fresh = self.path.with_name(f".{self.path.name}.next")
        fresh.unlink(missing_ok=True)  # a leftover of a crash mid-rotation
        opener = _open(fresh)
        start = {
            "type": ROTATED,
            "previous_file": archive.name,
            "seq": head["seq"] + 1,
            "prev": head["hash"],
        }
        start["hash"] = record_hash(start)
        opener.write(canonical(start) + b"\n")
        opener.flush()
        os.fsync(opener.fileno())
        fresh.replace(self.path)
        opener.close()

    def checkpoint(self) -> None:
        """Seal everything written so far with a signed checkpoint, and fsync."""
        with self._lock:
            self._lock_current_file()
            try:
                head = _last_record(self._file)
                if head is not None and head.get("type") != CHECKPOINT:
                    self._append_locked(self._checkpoint_body(head["hash"]))
                os.fsync(self._file.fileno())
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        """Checkpoint and close."""
        if not self._file.closed:
            try:
                self.checkpoint()
            finally:
                self._file.close()

    def _checkpoint_body(self, head: str) -> dict[str, Any]:
        return {
            "type": CHECKPOINT,
            "head": head,
            "key_id": self.key_id,
            "signature": self._key.sign(bytes.fromhex(head)).hex(),
        }

    def _append_locked(self, body: Mapping[str, Any]) -> dict[str, Any]:
        _drop_torn_tail(self._file)
        head = _last_record(self._file)
        record = {
            **body,
            "seq": 1 if head is None else head["seq"] + 1,
            "prev": GENESIS if head is None else head["hash"],
        }
        record["hash"] = record_hash(record)
        self._file.write(canonical(record) + b"\n")
        self._file.flush()
        if self.fsync == "always":
            os.fsync(self._file.fileno())
        return record


def _open(path: Path) -> Any:  # noqa: ANN401 - a binary file
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(descriptor, "a+b")


def _last_newline(stream: Any, size: int) -> int:  # noqa: ANN401 - a binary file
    """Return the offset of the file's last newline, or -1; reads backwards in chunks."""
    end = size
    while end > 0:
        start = max(0, end - _TAIL_BYTES)
        stream.seek(start)
        cut = stream.read(end - start).rfind(b"\n")
        if cut >= 0:
            return int(start + cut)
        end = start
    return -1


def _drop_torn_tail(stream: Any) -> None:  # noqa: ANN401 - a binary file
    """Cut a last line left incomplete by a crash: it was never a record."""
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    if size == 0:
        return
    stream.seek(size - 1)
    if stream.read(1) == b"\n":
        return
    os.ftruncate(stream.fileno(), _last_newline(stream, size) + 1)


def _last_record(stream: Any) -> dict[str, Any] | None:  # noqa: ANN401 - a binary file
    """Return the last complete record of the file, however long (a torn tail is skipped)."""
    stream.seek(0, os.SEEK_END)
    end = stream.tell()  # exclusive end of the line being looked at
    while end > 0:
        start = _last_newline(stream, end) + 1
        stream.seek(start)
        line = stream.read(end - start)
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None  # a line torn by a crash: look at the one before
            if isinstance(record, dict) and "hash" in record:
                return record
        end = start - 1  # the newline before this line
    return None


def read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, raw line)`` for each non-empty line, streaming."""
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            if line.strip():
                yield number, line.rstrip(b"\n")


def journal_of(path: Path) -> Path:
    """Return the live file's path that ``path`` (live or rotated) belongs to."""
    base, _, suffix = path.name.rpartition(".")
    if base and len(suffix) == _SEQ_DIGITS and suffix.isdigit():
        return path.resolve().with_name(base)
    return path.resolve()


def first_seq(path: Path) -> int:
    """Return the seq of the file's first record, or 0 when it is not a readable record."""
    for _, raw in read_records(path):
        try:
            seq = json.loads(raw).get("seq", 0)
            return seq if isinstance(seq, int) and not isinstance(seq, bool) else 0
        except (ValueError, RecursionError, AttributeError):
            return 0
    return 0


def journal_files(paths: Iterable[Path | str]) -> list[list[Path]]:
    """Group files by journal, each group in chain order, whatever order they were given in.

    A live file (``audit.jsonl``) and its rotated files (``audit.jsonl.<first seq>``) are one
    journal. A shell glob lists the live file first although it continues the rotated ones, so
    files are ordered by their first record's seq, or by their name when that record cannot be
    read (a rotated file by its suffix, the live file last). Journals keep the order in which
    they were first given; a file given twice counts once.

    Args:
        paths: Journal files, live or rotated, of one or several journals.

    Returns:
        One list of resolved paths per journal, oldest file first.
    """
    journals: dict[Path, set[Path]] = {}
    for path in (Path(p) for p in paths):
        journals.setdefault(journal_of(path), set()).add(path.resolve())
    return [sorted(files, key=_chain_position) for files in journals.values()]


def _chain_position(path: Path) -> tuple[int, str]:
    _, _, suffix = path.name.rpartition(".")
    by_name = int(suffix) if len(suffix) == _SEQ_DIGITS and suffix.isdigit() else _LIVE
    return first_seq(path) or by_name, path.name


_SEQ_DIGITS = 12
_LIVE = 10**_SEQ_DIGITS  # after every rotated file's seq
