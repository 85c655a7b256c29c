"""Verify audit journals: the hash chain, the sequence, and the checkpoint signatures.

A journal alone cannot show that it was cut after its last checkpoint, emptied, or replaced
whole by someone who re-hashed it: a witness can. A witness is what left the host: the
``audit.checkpoint`` events the writer emits (as JSON lines, as the OTLP archive holds them)
or a last known head (``seq`` and ``hash``); every seq it names must be in the journal
with the same hash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._keys import signature_valid
from .journal import (
    ALARM,
    CHECKPOINT,
    GENESIS,
    VANISHED,
    canonical,
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
    truncated: bool = False
    """The witness names a checkpoint or head the journal lacks."""
    alarms: int = 0
    """Alarms the writer left: rewritten history it refused to sign, a file deleted under it."""
    witnessed: int | None = None
    """Witness entries found in the journal; None without a witness."""

    @property
    def intact(self) -> bool:
        """Whether every chain, sequence and signature checked out, and all is sealed."""
        return not self.findings and self.unsealed == 0


@dataclass(frozen=True)
class WitnessEntry:
    """A record the journal held when it left the host: a checkpoint, or the head."""

    seq: int
    hash: str
    kind: str = "head"


def verify(
    paths: Iterable[Path],
    public_key: Any,  # noqa: ANN401 - Ed25519PublicKey
    witness: Iterable[WitnessEntry] | None = None,
) -> Report:
    """Check each journal file; report the first problem of each, by file, line and seq.

    Args:
        paths: Journal files; each is a chain of its own. A path that does not exist (a
            deleted journal) is a finding.
        public_key: The Ed25519 public key that signed the checkpoints.
        witness: Records the journal must still hold (see :func:`load_witness`); without
            one, a journal of 0 records is a finding: its emptying cannot be ruled out.
    """
    report = Report()
    given = [Path(p) for p in paths]
    existing = [p for p in given if p.exists()]
    for path in given:
        if not path.exists():
            report.findings.append(
                Finding(str(path), 0, None, "missing: the journal file does not exist (deleted?)")
            )
    # Each journal (a live file and its rotated files, "audit.jsonl.000000000123") is one
    # chain; several journals (several hosts) are checked each on its own.
    for files in journal_files(existing):
        _verify_chain(files, public_key, report)
    if witness is not None:
        _check_witness(existing, list(witness), report)
    elif report.records == 0 and existing:
        report.findings.append(
            Finding(
                str(existing[0]),
                0,
                None,
                "0 records, no witness: truncation or emptying cannot be ruled out "
                "(verify with --witness)",
            )
        )
    return report


def load_witness(path: Path) -> list[WitnessEntry]:
    """Read a witness file: checkpoint events or records as JSON lines, or ``SEQ HASH`` lines.

    A JSON line may be a journal record, an ``audit.checkpoint`` event as the journal emits
    it (``journal.seq``, ``journal.hash``), or an OTLP JSON export of log records holding
    such events (their ``attributes``), as the collector's archive keeps them; whatever else
    a line holds is ignored.

    Raises:
        ValueError: The file names no record at all.
    """
    entries: list[WitnessEntry] = []
    with path.open("rb") as stream:
        for raw in stream:
            line = raw.strip()
            if not line:
                continue
            try:
                data = json.loads(line)
            except (ValueError, RecursionError):
                entries.extend(_head_line(line))
                continue
            entries.extend(_witnessed(data))
    if not entries:
        raise ValueError(f"{path} names no checkpoint or head (seq and hash)")
    return entries


def _head_line(line: bytes) -> list[WitnessEntry]:
    parts = line.decode(errors="replace").replace(":", " ").split()
    if len(parts) == 2 and parts[0].isdigit() and _is_hash(parts[1]):
        return [WitnessEntry(int(parts[0]), parts[1].lower())]
    return []


def _witnessed(data: object) -> list[WitnessEntry]:
    """Return the records named anywhere in a JSON value, depth first."""
    found: list[WitnessEntry] = []
    if isinstance(data, list):
        if data and all(isinstance(v, dict) and "key" in v for v in data):
            data = {v["key"]: _otlp_value(v.get("value")) for v in data}
        else:
            for value in data:
                found.extend(_witnessed(value))
            return found
    if not isinstance(data, dict):
        return found
    seq = data.get("journal.seq", data.get("seq"))
    digest = data.get("journal.hash", data.get("hash"))
    if isinstance(seq, str) and seq.isdigit():
        seq = int(seq)
    if isinstance(seq, int) and not isinstance(seq, bool) and _is_hash(digest):
        kind = data.get("event", data.get("type"))
        return [WitnessEntry(seq, str(digest).lower(), str(kind or "head"))]
    for value in data.values():
        if isinstance(value, (dict, list)):
            found.extend(_witnessed(value))
    return found


def _otlp_value(value: object) -> object:
    """Return an OTLP JSON ``AnyValue``'s scalar (``{"intValue": "12"}`` is 12)."""
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind == "intValue" and isinstance(inner, (str, int)):
            return int(inner)
        return inner
    return value


def _is_hash(value: object) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 64
        and all(c in "0123456789abcdefABCDEF" for c in value)
    )


def _check_witness(paths: list[Path], witness: list[WitnessEntry], report: Report) -> None:
    """Report each witnessed record the journal lacks (truncated) or holds otherwise."""
    wanted = {entry.seq for entry in witness}
    held: dict[int, str] = {}
    for path in paths:
        for _, raw in read_records(path):
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if _is_record(record) and record["seq"] in wanted:
                held.setdefault(record["seq"], record["hash"])
    report.witnessed = 0
    where = str(paths[0]) if paths else "(no journal file)"
    for entry in sorted(set(witness), key=lambda e: e.seq):
        digest = held.get(entry.seq)
        if digest == entry.hash:
            report.witnessed += 1
        elif digest is None:
            report.truncated = True
            report.findings.append(
                Finding(
                    where,
                    0,
                    entry.seq,
                    f"truncated: the witness has {entry.kind} seq {entry.seq} "
                    f"({entry.hash[:16]}…), the journal does not (cut, emptied, deleted, "
                    "or a rotated file was not given)",
                )
            )
        else:
            report.findings.append(
                Finding(
                    where,
                    0,
                    entry.seq,
                    f"rewritten: the witness has {entry.kind} seq {entry.seq} with hash "
                    f"{entry.hash[:16]}…, the journal holds another record there",
                )
            )


def _verify_chain(ordered: list[Path], public_key: Any, report: Report) -> None:  # noqa: ANN401
    carried: tuple[str, int] | None = None
    for path in ordered:
        start = carried if first_seq(path) > 1 else None
        if start is None and _first_type(path) == VANISHED:
            start = None  # the file says where it continues from: checked in _verify_one
        elif first_seq(path) > 1 and carried is None:
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
    for line_number, raw, layout in _lines(path):
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the limit
            return Finding(
                str(path),
                line_number,
                None,
                layout or "not a JSON record: edited, or torn by a crash before this line",
            ), None
        if not _is_record(record):
            return Finding(
                str(path), line_number, None, "not a journal record: inserted or edited"
            ), None
        seq = record["seq"]
        if record_hash(record) != record["hash"]:
            return Finding(str(path), line_number, seq, "edited: its hash does not match"), None
        if layout is not None:
            return Finding(str(path), line_number, seq, layout), None
        if raw != canonical(record):
            # The hash covers the parsed record; the bytes must be its one encoding too, so
            # that added blanks, a duplicated key or reordered keys are found as edits.
            return Finding(
                str(path),
                line_number,
                seq,
                "edited: its bytes are not the record's canonical encoding (blanks, "
                "key order or a duplicated key changed)",
            ), None
        if record.get("type") == VANISHED and record_hash(record) == record["hash"]:
            report.alarms += 1
            report.findings.append(
                Finding(
                    str(path),
                    line_number,
                    seq,
                    "alarm: the journal file was deleted while its writer ran; this one was "
                    f"recreated after seq {seq - 1}: records after that in the deleted file "
                    "are lost",
                )
            )
            if start is None and line_number == 1:
                previous_hash, previous_seq = record["prev"], seq - 1
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
            if not signature_valid(public_key, record.get("signature"), previous_hash):
                return Finding(
                    str(path), line_number, seq, "forged checkpoint: missing or bad signature"
                ), None
            report.checkpoints += 1
            unsealed = 0
        if record.get("type") == ALARM:
            report.alarms += 1
            return Finding(
                str(path),
                line_number,
                seq,
                f"alarm: the writer refused to sign from here: {record.get('problem')}",
            ), None
        previous_hash, previous_seq = record["hash"], seq
    report.unsealed += unsealed
    if unsealed:
        line, seq = first_unsealed
        return Finding(
            str(path),
            line,
            seq,
            f"missing closing seal: {unsealed} records from this one on are not sealed by a "
            "checkpoint: the writer is still running or crashed, or records after them "
            "were cut",
        ), None
    return None, (previous_hash, previous_seq)


def _lines(path: Path) -> Iterator[tuple[int, bytes, str | None]]:
    """Yield ``(line number, line without its newline, layout problem or None)``.

    The writer ends every record with exactly one newline and writes no blank line: a
    blank line, or a last line without its newline (which the next writer would cut as
    torn), is a change to the file even when every record still parses and chains.
    """
    with path.open("rb") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.endswith(b"\n"):
                yield number, line, "torn or edited: the last line has no newline"
            elif not line.strip():
                yield number, line.rstrip(b"\n"), "inserted: a blank line"
            else:
                yield number, line[:-1], None


def _first_type(path: Path) -> object:
    for _, raw in read_records(path):
        try:
            record = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        return record.get("type") if isinstance(record, dict) else None
    return None


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
