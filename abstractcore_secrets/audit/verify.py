"""Verify audit journals: the hash chain, the sequence, and the checkpoint signatures."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .journal import CHECKPOINT, GENESIS, public_key_id, read_records, record_hash


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
    for path in paths:
        finding = _verify_one(Path(path), public_key, report)
        if finding is not None:
            report.findings.append(finding)
    return report


def _verify_one(path: Path, public_key: Any, report: Report) -> Finding | None:  # noqa: ANN401, PLR0911
    from cryptography.exceptions import InvalidSignature

    expected_key = public_key_id(public_key)
    previous_hash, previous_seq, unsealed = GENESIS, 0, 0
    for line_number, raw in read_records(path):
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            return Finding(
                str(path),
                line_number,
                None,
                "not a JSON record: edited, or torn by a crash before this line",
            )
        if not isinstance(record, dict) or not {"seq", "prev", "hash"} <= set(record):
            return Finding(str(path), line_number, None, "not a journal record")
        seq = record["seq"]
        if record_hash(record) != record["hash"]:
            return Finding(str(path), line_number, seq, "edited: its hash does not match")
        if seq != previous_seq + 1:
            problem = (
                "records deleted before it" if seq > previous_seq + 1 else "reordered or inserted"
            )
            return Finding(
                str(path), line_number, seq, f"{problem}: expected seq {previous_seq + 1}"
            )
        if record["prev"] != previous_hash:
            return Finding(
                str(path),
                line_number,
                seq,
                "inserted or reordered: it does not chain to the record before",
            )
        report.records += 1
        unsealed += 1
        if record.get("type") == CHECKPOINT:
            if record.get("key_id") != expected_key or record.get("head") != previous_hash:
                return Finding(str(path), line_number, seq, "forged checkpoint: wrong key or head")
            try:
                public_key.verify(bytes.fromhex(record["signature"]), bytes.fromhex(previous_hash))
            except (InvalidSignature, ValueError):
                return Finding(str(path), line_number, seq, "forged checkpoint: bad signature")
            report.checkpoints += 1
            unsealed = 0
        previous_hash, previous_seq = record["hash"], seq
    report.unsealed += unsealed
    if unsealed:
        return Finding(
            str(path),
            0,
            previous_seq,
            f"{unsealed} records after the last checkpoint are not sealed: the "
            "writer is still running or crashed, or records after them were cut",
        )
    return None
