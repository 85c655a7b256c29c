"""The audit journal: append-only JSON lines, hash-chained, sealed by signed checkpoints.

Each line is one record, in a canonical encoding (sorted keys, no spaces, UTF-8)::

    {"event": {...}, "hash": "<sha256 hex>", "prev": "<hash of the previous record>", "seq": 7}

``hash`` is SHA-256 of the canonical encoding of the record without ``hash``, so editing,
inserting, deleting or reordering a record breaks the chain at that point. Every
``checkpoint_every`` records, and at close, a checkpoint record seals the chain: its
``signature`` is an Ed25519 signature over the head hash, so rewriting the whole tail is
detected too unless the signing key was stolen.

SHA-256 needs no key: whoever can write the file can delete a record, re-hash what follows
and drop the checkpoints after it. So the writer never signs blindly. Before each checkpoint
it checks that the records since the last checkpoint chain to it, that this checkpoint is
signed by its key, that no record which an honest writer would have sealed at once stands
unsealed, and that nothing it wrote or saw itself is gone; otherwise it refuses to sign,
writes an ``audit.alarm`` record, logs an ERROR and raises :class:`JournalTamperedError`.
What the writer cannot see (a file cut back to before a checkpoint, or replaced whole, by
someone who re-hashed it before the writer started) takes a witness: the checkpoints it
emits through ``on_checkpoint`` and ``audit verify --witness``.

Several threads and several processes may append to one journal: each append takes an
exclusive ``flock`` on the file and reads the current head from the file itself. Records
are written with one unbuffered ``write``; one that fails is cut back, never left in a
buffer to reach the file later.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, JournalTamperedError
from ..sources.spec import shown
from ._keys import default_signing_key_path, load_signing_key, public_key_id, signed_checkpoint
from ._records import (
    ALARM,
    CHECKPOINT,
    CONTROL,
    GENESIS,
    ROTATED,
    VANISHED,
    canonical,
    drop_torn_tail,
    first_seq,
    is_chained,
    journal_files,
    journal_of,
    last_record,
    lines_backwards,
    parse_record,
    read_records,
    record_hash,
)

__all__ = [
    "ALARM",
    "CHECKPOINT",
    "CONTROL",
    "GENESIS",
    "ROTATED",
    "VANISHED",
    "Journal",
    "JournalHook",
    "JournalTamperedError",
    "canonical",
    "default_signing_key_path",
    "first_seq",
    "journal_files",
    "journal_of",
    "load_signing_key",
    "public_key_id",
    "read_records",
    "record_hash",
    "signed_checkpoint",
]

_LOG = logging.getLogger("abstractcore_secrets.audit.journal")

JournalHook = Callable[[dict[str, Any]], None]
"""Receives an audit event from the journal: a signed checkpoint, or an alarm."""


class Journal:
    """Append audit events to a hash-chained file; an audit sink (``journal(event)``).

    Args:
        path: The journal file (created 0600 in a 0700 folder).
        signing_key: Ed25519 private key for checkpoints.
        checkpoint_every: Records between checkpoints. Every writer of one journal must use
            the same value: a record at a multiple of it is sealed in the same write, and a
            multiple found unsealed with records after it is taken for rewritten history.
        fsync: ``always`` (each record is on disk before the call returns) or ``batch``
            (on disk at each checkpoint and at close; faster, may lose the last records on
            a power cut, never corrupts earlier ones).
        max_bytes: Rotate when the file grows past this size: the file is sealed with a
            checkpoint, kept as ``<name>.<first seq>``, and a new file continues the chain
            (its first record points at the sealed file's last hash). ``None``: never.
        on_checkpoint: Called with an ``audit.checkpoint`` event after each signed
            checkpoint is on disk, so that it also leaves the host (connect it to the other
            audit sinks); what it receives is a witness for ``audit verify --witness``.
        on_alarm: Called with an ``audit.alarm`` event when the writer refuses to sign
            (rewritten history) or finds the file deleted under it.

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
        on_checkpoint: JournalHook | None = None,
        on_alarm: JournalHook | None = None,
    ) -> None:
        if fsync not in ("always", "batch"):
            raise ConfigurationError(f"fsync must be 'always' or 'batch', not {shown(fsync)}")
        # Absolute: a process that changes folder later must go on writing the same file.
        self.path = Path(path).absolute()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._key = signing_key
        self.key_id = public_key_id(signing_key.public_key())
        self.checkpoint_every = checkpoint_every
        self.fsync = fsync
        self.max_bytes = max_bytes
        self.on_checkpoint = on_checkpoint
        self.on_alarm = on_alarm
        self._lock = threading.Lock()
        self._file = _open(self.path)
        # What this writer itself wrote or read: the file must still hold it when it signs.
        self._head: tuple[int, str] | None = None
        self._sealed: tuple[int, str] | None = None
        self._refused: str | None = None
        last = last_record(self._file) if self.path.is_file() else None
        if last is not None and is_chained(last):
            self._head = (last["seq"], last["hash"])

    def __call__(self, event: Mapping[str, Any]) -> None:
        """Append one event; raises ``OSError`` if it could not be written."""
        self.append({"event": dict(event)})

    def append(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Append a record with ``body``'s fields, chained to the head; return it.

        A record whose seq is a multiple of ``checkpoint_every`` is written together with
        its checkpoint, in one write.

        Raises:
            JournalTamperedError: The writer refused to sign (now or earlier): nothing
                was written.
            OSError: The record could not be written; nothing of it is left in the file
                (the journal is closed, the disk refused).
        """
        with self._lock:
            if self._file.closed:
                raise OSError(errno.EBADF, "the audit journal is closed", str(self.path))
            self._refuse_if_alarmed()
            self._lock_current_file()
            try:
                drop_torn_tail(self._file)
                head = last_record(self._file)
                records: list[dict[str, Any]] = []
                # A crash between a record and its checkpoint: seal it before going on.
                recover = head is not None and self._unsealed_multiple(head)
                seq = (0 if head is None else head["seq"]) + 1 + recover
                if recover or seq % self.checkpoint_every == 0:
                    self._check_before_signing()  # before writing anything
                if recover and head is not None:
                    head = self._seal(head)
                    records.append(head)
                record = _chained(body, head)
                records.append(record)
                if record["seq"] % self.checkpoint_every == 0:
                    records.append(self._seal(record))
                self._write(records)
                if self.max_bytes is not None and self._size() >= self.max_bytes:
                    self._rotate_locked()
                return record
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)

    def checkpoint(self) -> None:
        """Seal everything written so far with a signed checkpoint, and fsync.

        Raises:
            JournalTamperedError: The records since the last checkpoint do not chain to it,
                or hold what an honest writer never leaves: the writer refuses to sign.
        """
        with self._lock:
            self._refuse_if_alarmed()
            self._lock_current_file()
            try:
                drop_torn_tail(self._file)
                head = last_record(self._file)
                if head is None and self._head is not None:
                    self._check_before_signing()  # an emptied file: alarmed
                if head is not None and head.get("type") != CHECKPOINT:
                    self._check_before_signing()
                    self._write([self._seal(head)])
                os.fsync(self._file.fileno())
            finally:
                fcntl.flock(self._file, fcntl.LOCK_UN)

    def listening(self) -> bool:
        """Always: every event is recorded (the journal is the trail of last resort)."""
        return True

    def flush(self, timeout: float | None = None) -> bool:  # noqa: ARG002 - never waits on others
        """Put what was written on stable storage (``fsync``); no checkpoint is signed.

        Returns:
            ``False`` if the journal is closed or the disk refused.
        """
        with self._lock:
            if self._file.closed:
                return False
            try:
                os.fsync(self._file.fileno())
            except OSError:
                return False
        return True

    def close(self) -> None:
        """Checkpoint and close."""
        if not self._file.closed:
            try:
                self.checkpoint()
            finally:
                with self._lock:  # a flush() meanwhile sees it open or closed, not closing
                    self._file.close()

    def _rotate_locked(self) -> None:
        """Seal this file, keep it under its first seq, and continue the chain in a new one."""
        head = last_record(self._file)
        if head is None:
            return
        if head.get("type") != CHECKPOINT:
            self._check_before_signing()
            head = self._seal(head)
            self._write([head])
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
        start = _chained({"type": ROTATED, "previous_file": archive.name}, head)
        _write_all(opener.fileno(), canonical(start) + b"\n", fsync=True)
        fresh.replace(self.path)
        opener.close()
        self._head = (start["seq"], start["hash"])

    def _lock_current_file(self) -> None:
        """Lock the file now at ``path``: another process may have rotated it away, or
        someone deleted it (then it is recreated, starting with an ``audit.vanished``)."""
        while True:
            fcntl.flock(self._file, fcntl.LOCK_EX)
            mine = os.fstat(self._file.fileno())
            try:
                there: os.stat_result | None = self.path.stat()
            except FileNotFoundError:
                there = None
            if there is not None and (there.st_ino, there.st_dev) == (mine.st_ino, mine.st_dev):
                return
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            # Rotated away: the old file is still linked as an archive, and the name
            # already holds its successor. Otherwise the journal was deleted or moved.
            vanished = there is None or mine.st_nlink == 0
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._file = _open(self.path)
            if vanished:
                fcntl.flock(self._file, fcntl.LOCK_EX)
                try:
                    if os.fstat(self._file.fileno()).st_size == 0:
                        self._start_after_vanishing()
                finally:
                    fcntl.flock(self._file, fcntl.LOCK_UN)

    def _start_after_vanishing(self) -> None:
        """Start a recreated file with a record naming the last seq and hash known here."""
        seq, digest = self._head or (0, GENESIS)
        start = _chained(
            {"type": VANISHED, "previous_seq": seq, "previous_hash": digest},
            {"seq": seq, "hash": digest},
        )
        _write_all(self._file.fileno(), canonical(start) + b"\n", fsync=True)
        self._head = (start["seq"], start["hash"])
        self._raise_alarm(
            f"the journal file was deleted while this writer ran; recreated it after seq {seq}",
            refuse=False,
        )

    def _unsealed_multiple(self, record: Mapping[str, Any]) -> bool:
        return (
            record.get("type") not in CONTROL
            and isinstance(record.get("seq"), int)
            and record["seq"] % self.checkpoint_every == 0
        )

    def _check_before_signing(self) -> None:
        """Refuse to sign, and raise the alarm, when the file's tail betrays tampering."""
        problem = self._tampering()
        if problem is not None:
            self._raise_alarm(problem, refuse=True, write=not problem.startswith(_UNRESOLVED))

    def _seal(self, head: Mapping[str, Any]) -> dict[str, Any]:
        """Return a checkpoint record sealing ``head``: only once the file was checked."""
        checkpoint = {
            "type": CHECKPOINT,
            "head": head["hash"],
            "key_id": self.key_id,
            "signature": self._key.sign(bytes.fromhex(head["hash"])).hex(),
        }
        return _chained(checkpoint, head)

    def _tampering(self) -> str | None:  # noqa: PLR0911
        """Return how the file's unsealed tail betrays rewritten history, or None.

        The file is the attacker's, the key is not: the tail must chain to a checkpoint this
        key signed (or to the file's honest start), hold no record an honest writer would
        have sealed at once, and still hold what this writer wrote or saw.
        """
        public_key = self._key.public_key()
        tail: list[dict[str, Any]] = []
        anchor: tuple[int, str] | None = None
        for raw in lines_backwards(self._file):
            record = parse_record(raw)
            if record is None:
                return "a line after the last checkpoint is not a journal record"
            if record.get("type") == CHECKPOINT:
                if not signed_checkpoint(record, public_key):
                    return f"the last checkpoint (seq {record['seq']}) is not signed by this key"
                anchor = (record["seq"], record["hash"])
                break
            tail.append(record)
        tail.reverse()
        if anchor is None:
            if not tail:
                return (
                    None
                    if self._head is None
                    else (f"the file was emptied: this writer knew it up to seq {self._head[0]}")
                )
            anchor, problem = self._start_of(tail[0])
            if problem is not None:
                return problem
        for record in tail:
            if record.get("type") == ALARM:
                return f"{_UNRESOLVED} at seq {record['seq']}: {record.get('problem')}"
        seq, digest = anchor
        for index, record in enumerate(tail):
            if (record_hash(record), record["seq"], record["prev"]) != (
                record["hash"],
                seq + 1,
                digest,
            ):
                return (
                    f"the records after seq {anchor[0]} do not chain to it (at seq "
                    f"{record['seq']}): sealed records were edited, deleted or reordered"
                )
            if self._unsealed_multiple(record) and index + 1 < len(tail):
                return (
                    f"record seq {record['seq']} is not followed by its checkpoint: the "
                    "checkpoints after it were dropped and the records re-hashed"
                )
            seq, digest = record["seq"], record["hash"]
        return self._forgotten(anchor, tail, seq)

    def _start_of(self, first: Mapping[str, Any]) -> tuple[tuple[int, str], str | None]:
        """Return what a file without a checkpoint must chain to, or why it is suspect."""
        kind, seq = first.get("type"), first["seq"]
        anchor = (seq - 1, first["prev"])
        if kind == VANISHED:
            return anchor, None  # the writer's own alarm; verification reports it always
        if kind == ROTATED:
            previous = self.path.with_name(str(first.get("previous_file")))
            sealed = None
            if previous.is_file() and previous.name != self.path.name:
                with previous.open("rb") as stream:
                    sealed = last_record(stream)
            if (
                sealed is not None
                and sealed.get("hash") == first["prev"]
                and signed_checkpoint(sealed, self._key.public_key())
            ):
                return anchor, None
            return anchor, (
                f"the file begins with a rotation (seq {seq}) whose sealed predecessor "
                "is missing or does not chain to it"
            )
        if seq == 1 and first["prev"] == GENESIS:
            return anchor, None
        return anchor, (
            f"the file begins at seq {seq} without a genesis record and no rotated file "
            "precedes it: earlier records were removed"
        )

    def _forgotten(
        self, anchor: tuple[int, str], tail: list[dict[str, Any]], last: int
    ) -> str | None:
        """Return what this writer wrote or saw that the file no longer holds, or None."""
        if self._sealed is not None:
            seq, digest = self._sealed
            if anchor[0] < seq or (anchor[0] == seq and anchor[1] != digest):
                return (
                    f"the checkpoint at seq {seq} that this writer wrote or saw is gone: "
                    "the file was cut or rewritten before it"
                )
        if self._head is not None:
            seq, digest = self._head
            if last < seq:
                return f"the file ends at seq {last}, this writer knew it up to seq {seq}: cut"
            for record in tail:
                if record["seq"] == seq and record["hash"] != digest:
                    return f"record seq {seq}, which this writer knew, was rewritten"
        return None

    def _raise_alarm(self, problem: str, *, refuse: bool, write: bool = True) -> None:
        """Say loudly what was found; when ``refuse``, never sign again and raise."""
        _LOG.error("audit journal %s: %s", self.path, problem)
        if refuse:
            self._refused = problem
            if write:
                # A marker chained to the head: it blesses nothing, and every verification
                # and every later writer stops at it.
                with contextlib.suppress(OSError):
                    head = last_record(self._file)
                    self._write([_chained({"type": ALARM, "problem": problem}, head)])
                    os.fsync(self._file.fileno())
        _notify(self.on_alarm, self._event(ALARM, {"problem": problem}))
        if refuse:
            raise JournalTamperedError(
                f"the audit journal {self.path} will not be signed: {problem}. Keep the file "
                "as evidence, compare it with a witness (audit verify --witness), and move "
                "it aside to start a new chain"
            )

    def _refuse_if_alarmed(self) -> None:
        if self._refused is not None:
            raise JournalTamperedError(
                f"the audit journal {self.path} will not be signed: {self._refused}"
            )

    def _write(self, records: list[dict[str, Any]]) -> None:
        """Write ``records`` in one write; a failed write leaves nothing of them behind."""
        sealing = any(r.get("type") == CHECKPOINT for r in records)
        data = b"".join(canonical(record) + b"\n" for record in records)
        _write_all(self._file.fileno(), data, fsync=self.fsync == "always" or sealing)
        last = records[-1]
        self._head = (last["seq"], last["hash"])
        for record in records:
            if record.get("type") == CHECKPOINT:
                self._sealed = (record["seq"], record["hash"])
                _notify(
                    self.on_checkpoint,
                    self._event(
                        CHECKPOINT,
                        {
                            "journal.seq": record["seq"],
                            "journal.hash": record["hash"],
                            "journal.prev": record["prev"],
                            "journal.key_id": record["key_id"],
                            "journal.signature": record["signature"],
                        },
                    ),
                )

    def _event(self, name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
            "event": name,
            "journal.file": self.path.name,
            "host.name": socket.gethostname(),
            "process.pid": os.getpid(),
            **fields,
        }

    def _size(self) -> int:
        return os.fstat(self._file.fileno()).st_size


_UNRESOLVED = "an earlier alarm is unresolved"


def _notify(hook: JournalHook | None, event: dict[str, Any]) -> None:
    """Run a hook inside a guard: a broken hook never breaks an append."""
    if hook is None:
        return
    try:
        hook(event)
    except Exception as exc:  # noqa: BLE001 - logged, never raised into the resolution
        # Its type only: the exception's text may quote a credential.
        _LOG.warning("audit journal hook failed on %s (%s)", event.get("event"), type(exc).__name__)


def _chained(body: Mapping[str, Any], head: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``body`` as the record after ``head`` (the genesis when None)."""
    record = {
        **body,
        "seq": 1 if head is None else head["seq"] + 1,
        "prev": GENESIS if head is None else head["hash"],
    }
    record["hash"] = record_hash(record)
    return record


def _write_all(descriptor: int, data: bytes, *, fsync: bool) -> None:
    """Append ``data`` with one unbuffered write; on failure cut the file back, and raise.

    A buffered file keeps what it failed to write and writes it with the next flush: a
    record reported as failed (and its resolution denied) would appear later as served.
    """
    offset = os.lseek(descriptor, 0, os.SEEK_END)
    rest = memoryview(data)
    try:
        while rest:
            # A short write is followed by one more, which says why (ENOSPC, EFBIG).
            written = os.write(descriptor, rest)
            if written == 0:
                raise OSError(errno.ENOSPC, "nothing could be written")  # noqa: TRY301
            rest = rest[written:]
        if fsync:
            os.fsync(descriptor)
    except OSError:
        _cut(descriptor, offset)
        raise


def _cut(descriptor: int, offset: int) -> None:
    with contextlib.suppress(OSError):  # a device (/dev/full) cannot be truncated
        os.ftruncate(descriptor, offset)


def _open(path: Path) -> Any:  # noqa: ANN401 - a binary file
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(descriptor, "a+b", buffering=0)
