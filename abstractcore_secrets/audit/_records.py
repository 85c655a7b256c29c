"""Journal records on disk: their canonical encoding, hashes, and reading files of them.

Each line is one record, in a canonical encoding (sorted keys, no spaces, UTF-8), ending
in one newline. A live file (``audit.jsonl``) and its rotated files
(``audit.jsonl.<first seq>``) are one journal.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
CHECKPOINT = "audit.checkpoint"
ROTATED = "audit.rotated"
VANISHED = "audit.vanished"
"""First record of a file the writer recreated after the journal was deleted under it."""
ALARM = "audit.alarm"
"""A record saying the writer found sealed history rewritten and refused to sign."""
CONTROL = (CHECKPOINT, ROTATED, VANISHED, ALARM)
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


def parse_record(raw: bytes) -> dict[str, Any] | None:
    """Return the record on a line, or None when it is not a chained record."""
    try:
        record = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return record if is_chained(record) else None


def is_chained(record: object) -> bool:
    if not isinstance(record, dict):
        return False
    seq = record.get("seq")
    return (
        isinstance(seq, int)
        and not isinstance(seq, bool)
        and isinstance(record.get("prev"), str)
        and isinstance(record.get("hash"), str)
    )


def lines_backwards(stream: Any) -> Iterator[bytes]:  # noqa: ANN401 - a binary file
    """Yield the file's non-empty lines, last first, reading backwards in chunks."""
    stream.seek(0, os.SEEK_END)
    position = stream.tell()
    rest = b""
    while position > 0:
        start = max(0, position - _TAIL_BYTES)
        stream.seek(start)
        lines = (stream.read(position - start) + rest).split(b"\n")
        position = start
        rest = lines.pop(0)
        for line in reversed(lines):
            if line.strip():
                yield line
    if rest.strip():
        yield rest


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


def drop_torn_tail(stream: Any) -> None:  # noqa: ANN401 - a binary file
    """Cut a last line left incomplete by a crash: it was never a record."""
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    if size == 0:
        return
    stream.seek(size - 1)
    if stream.read(1) == b"\n":
        return
    os.ftruncate(stream.fileno(), _last_newline(stream, size) + 1)


def last_record(stream: Any) -> dict[str, Any] | None:  # noqa: ANN401 - a binary file
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
