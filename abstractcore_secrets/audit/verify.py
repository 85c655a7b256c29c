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
    # Each journal (a live file and its rotated files, "audit.jsonl.000000000123") is one
    # chain; several journals (several hosts) are checked each on its own.
    journals: dict[Path, set[Path]] = {}
    for path in (Path(p) for p in paths):
        journals.setdefault(_journal_of(path), set()).add(path.resolve())
    for files in journals.values():
        _verify_chain(sorted(files, key=_first_seq), public_key, report)
    return report


def _journal_of(path: Path) -> Path:
    """Return the live file's path that ``path`` (live or rotated) belongs to."""
    base, _, suffix = path.name.rpartition(".")
    if base and len(suffix) == 12 and suffix.isdigit():
        return path.resolve().with_name(base)
    return path.resolve()


def _verify_chain(ordered: list[Path], public_key: Any, report: Report) -> None:  # noqa: ANN401
    carried: tuple[str, int] | None = None
    for path in ordered:
        start = carried if _first_seq(path) > 1 else None
        if _first_seq(path) > 1 and carried is None:
            report.findings.append(
                Finding(
                    str(path),
                    1,
                    _first_seq(path),
                    "continues a rotated file that was not given: verify it with its predecessors",
                )
            )
            continue
        finding, carried = _verify_one(path, public_key, report, start)
        if finding is not None:
            report.findings.append(finding)
            carried = None


def _first_seq(path: Path) -> int:
    for _, raw in read_records(path):
        try:
            return int(json.loads(raw).get("seq", 0))
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
            return 0
    return 0


def _verify_one(  # noqa: PLR0911 - one return per kind of tampering reads best
    path: Path,
    public_key: Any,  # noqa: ANN401 - cryptography's Ed25519PublicKey
    report: Report,
    start: tuple[str, int] | None,
) -> tuple[Finding | None, tuple[str, int] | None]:
    from cryptography.exceptions import InvalidSignature

    expected_key = public_key_id(public_key)
    previous_hash, previous_seq = start or (GENESIS, 0)
    unsealed = 0
    for line_number, raw in read_records(path):
        try:
            record = json.loads(raw)
        except json.JSONDecodeError:
            return Finding(
                str(path),
                line_number,
                None,
                "not a JSON record: edited, or torn by a crash before this line",
            ), None
        if not isinstance(record, dict) or not {"seq", "prev", "hash"} <= set(record):
            return Finding(str(path), line_number, None, "not a journal record"), None
        seq = record["seq"]
        if record_hash(record) != record["hash"]:
            return Finding(str(path), line_number, seq, "edited: its hash does not match"), None
        if seq != previous_seq + 1:
            problem = (
                "records deleted before it" if seq > previous_seq + 1 else "reordered or inserted"
            )
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
        unsealed += 1
        if record.get("type") == CHECKPOINT:
            if record.get("key_id") != expected_key or record.get("head") != previous_hash:
                return Finding(
                    str(path), line_number, seq, "forged checkpoint: wrong key or head"
                ), None
            try:
                public_key.verify(bytes.fromhex(record["signature"]), bytes.fromhex(previous_hash))
            except (InvalidSignature, ValueError):
                return Finding(
                    str(path), line_number, seq, "forged checkpoint: bad signature"
                ), None
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
        ), None
    return None, (previous_hash, previous_seq)
