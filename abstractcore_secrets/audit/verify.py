"""Verify audit journals: the hash chain, the sequence, and the checkpoint signatures."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .journal import (
    CHECKPOINT,
    GENESIS,
    first_seq,
    journal_files,
    public_key_id,
    read_records,
    record_hash,
)


@dataclass
class Finding:
    """One problem found: where, and what it means."""

    path: str
    line: int
    seq: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" + (f" (seq {self.seq})" if self.seq else "")
        return f"{where}: {self.problem}"


@dataclass
class Report:
    """What verification found; ``intact`` only when nothing is wrong."""

    records: int = 0
    checkpoints: int = 0
    findings: list[Finding] = field(default_factory=list)
    unsealed: int = 0
    """Records after the last checkpoint: their truncation could not be told apart."""

    @property
    def intact(self) -> bool:
        """Whether every chain, sequence and signature checked out, and all is sealed."""
        return not self.findings and self.unsealed == 0


def verify(paths: Iterable[Path], public_key: Any) -> Report:  # noqa: ANN401 - Ed25519PublicKey
    """Check each journal file; report the first problem of each, by file, line and seq.

    Args:
        paths: Journal files; each is a chain of its own.
        public_key: The Ed25519 public key that signed the checkpoints.
    """
    report = Report()
    # Each journal (a live file and its rotated files, "audit.jsonl.000000000123") is one
    # chain; several journals (several hosts) are checked each on its own.
    for files in journal_files(paths):
        _verify_chain(files, public_key, report)
    return report


def _verify_chain(ordered: list[Path], public_key: Any, report: Report) -> None:  # noqa: ANN401
    carried: tuple[str, int] | None = None
    for path in ordered:
        start = carried if first_seq(path) > 1 else None
        if first_seq(path) > 1 and carried is None:
            report.findings.append(
                Finding(
                    str(path),
                    1,
                    first_seq(path),
                    "continues a rotated file that was not given: verify it with its predecessors",
                )
            )
            continue
        finding, carried = _verify_one(path, public_key, report, start)
        if finding is not None:
            report.findings.append(finding)
            carried = None


def _verify_one(  # noqa: PLR0911, PLR0912 - one return per kind of tampering reads best
    path: Path,
    public_key: Any,  # noqa: ANN401 - cryptography's Ed25519PublicKey
    report: Report,
    start: tuple[str, int] | None,
) -> tuple[Finding | None, tuple[str, int] | None]:
    expected_key = public_key_id(public_key)
    previous_hash, previous_seq = start or (GENESIS, 0)
    unsealed = 0
    first_unsealed = (0, 0)  # line and seq of the first record no checkpoint seals yet
    for line_number, raw in read_records(path):
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the limit
            return Finding(
                str(path),
                line_number,
                None,
                "not a JSON record: edited, or torn by a crash before this line",
            ), None
        if not _is_record(record):
            return Finding(
                str(path), line_number, None, "not a journal record: inserted or edited"
            ), None
        seq = record["seq"]
        if record_hash(record) != record["hash"]:
            return Finding(str(path), line_number, seq, "edited: its hash does not match"), None
        if seq != previous_seq + 1:
            if seq < previous_seq + 1:
                problem = "reordered or inserted"
            elif _seq_comes_later(path, line_number, previous_seq + 1):
                problem = f"reordered: seq {previous_seq + 1} comes later in the file"
            else:
                problem = "records deleted before it"
            return Finding(
                str(path), line_number, seq, f"{problem}: expected seq {previous_seq + 1}"
            ), None
        if record["prev"] != previous_hash:
            return Finding(
                str(path),
                line_number,
                seq,
                "inserted or reordered: it does not chain to the record before",
            ), None
        report.records += 1
        if not unsealed:
            first_unsealed = (line_number, seq)
        unsealed += 1
        if record.get("type") == CHECKPOINT:
            if record.get("key_id") != expected_key or record.get("head") != previous_hash:
                return Finding(
                    str(path), line_number, seq, "forged checkpoint: wrong key or head"
                ), None
            if not _signed(public_key, record.get("signature"), previous_hash):
                return Finding(
                    str(path), line_number, seq, "forged checkpoint: missing or bad signature"
                ), None
            report.checkpoints += 1
            unsealed = 0
        previous_hash, previous_seq = record["hash"], seq
    report.unsealed += unsealed
    if unsealed:
        line, seq = first_unsealed
        return Finding(
            str(path),
            line,
            seq,
            f"{unsealed} records from this one on are not sealed by a checkpoint: the "
            "writer is still running or crashed, or records after them were cut",
        ), None
    return None, (previous_hash, previous_seq)


def _signed(public_key: Any, signature: object, head: str) -> bool:  # noqa: ANN401
    """Return whether ``signature`` (hex; maybe absent or not text) signs ``head``."""
    from cryptography.exceptions import InvalidSignature

    if not isinstance(signature, str):
        return False
    try:
        public_key.verify(bytes.fromhex(signature), bytes.fromhex(head))
    except (InvalidSignature, ValueError):
        return False
    return True


def _is_record(record: object) -> bool:
    """Return whether ``record`` has a record's shape: an object with an int seq and hashes."""
    if not isinstance(record, dict):
        return False
    seq, prev, digest = record.get("seq"), record.get("prev"), record.get("hash")
    return (
        isinstance(seq, int)
        and not isinstance(seq, bool)
        and isinstance(prev, str)
        and isinstance(digest, str)
    )


def _seq_comes_later(path: Path, after_line: int, seq: int) -> bool:
    """Return whether a record with ``seq`` follows ``after_line``: moved, not deleted."""
    for line_number, raw in read_records(path):
        if line_number <= after_line:
            continue
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and record.get("seq") == seq:
            return True
    return False
