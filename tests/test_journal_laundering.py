"""Laundering: sealed history rewritten without the key is never signed by the next writer.

SHA-256 needs no key: whoever can write the journal can delete or forge a sealed record,
re-hash everything after it and drop the later checkpoints. Verification then only sees an
unsealed tail, and a writer that signed whatever it found would seal the forgery with a
valid signature. Each test tampers with a real journal as that attacker would (a child
process where the writer is running), and checks that the writer refuses to sign, leaves an
alarm that verification and the CLI report, and logs it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
from clirun import run_cli

from abstractcore_secrets.audit.journal import (
    ALARM,
    CHECKPOINT,
    Journal,
    JournalTamperedError,
    canonical,
    load_signing_key,
    record_hash,
)
from abstractcore_secrets.audit.verify import verify


@pytest.fixture
def key_path(tmp_path, signing_key):
    """Where the journal signing key lives, for tests that load it again."""
    return tmp_path / "keys" / "journal.key"


@pytest.fixture
def key(signing_key):
    return signing_key


def _write(path, key, count=10, every=4):
    """Ten events, every four sealed: seq 1-4, checkpoint 5, 6-8, 9, 10-12, 13 (at close)."""
    journal = Journal(path, key, checkpoint_every=every)
    for number in range(count):
        journal({"event": "secret.resolved", "outcome": "found", "provider": f"p{number}"})
    journal.close()


def _append_four(journal):
    for number in range(4):
        journal({"event": "secret.resolved", "provider": f"later{number}"})


def _records(path):
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _rehash(records):
    """What the attacker does after an edit: renumber and re-hash the chain from the start."""
    previous = "0" * 64
    for seq, record in enumerate(records, start=1):
        record["seq"], record["prev"] = seq, previous
        record["hash"] = previous = record_hash(record)
    return records


def _save(path, records):
    # The canonical encoding, as a careful attacker writes it: the bytes show no edit.
    path.write_bytes(b"".join(canonical(r) + b"\n" for r in records))


def _drop_checkpoints_after(records, seq):
    return [r for r in records if not (r.get("type") == CHECKPOINT and r["seq"] > seq)]


def _delete_sealed(records):
    """Delete seq 7 (sealed by the checkpoint at 9), drop the checkpoints after it, re-hash."""
    kept = [r for r in records if r["seq"] != 7]
    return _rehash(_drop_checkpoints_after(kept, 7))


def _forge_sealed(records):
    """Rewrite seq 7 (sealed), drop the checkpoints after it, re-hash."""
    forged = [dict(r) for r in records]
    forged[6]["event"] = {**forged[6]["event"], "provider": "forged"}
    return _rehash(_drop_checkpoints_after(forged, 7))


def _problems(report):
    return [f.problem for f in report.findings]


class TestTheNextWriterRefusesToSign:
    @pytest.mark.parametrize(
        "tamper", [_delete_sealed, _forge_sealed], ids=["delete-sealed", "forge-sealed"]
    )
    @pytest.mark.parametrize("then", ["append", "close"])
    def test_rewritten_sealed_history_is_never_signed(self, tmp_path, key, tamper, then):
        """A sealed record deleted or forged, re-hashed, later checkpoints dropped: no seal."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        _save(path, tamper(_records(path)))
        forged = path.read_bytes()
        journal = Journal(path, key, checkpoint_every=4)
        act = _append_four if then == "append" else Journal.close
        with pytest.raises(JournalTamperedError, match="not followed by its checkpoint"):
            act(journal)
        if then == "append":
            with pytest.raises(JournalTamperedError):
                journal.close()  # refuses to seal, and closes the file
        added = [json.loads(line) for line in path.read_bytes()[len(forged) :].splitlines()]
        assert [r.get("type") for r in added if r.get("type") in (ALARM, CHECKPOINT)] == [ALARM]
        report = verify([path], key.public_key())
        assert (report.intact, report.alarms) == (False, 1)
        assert any(p.startswith("alarm: the writer refused to sign") for p in _problems(report))

    def test_every_later_writer_refuses_too_and_the_alarm_is_written_once(self, tmp_path, key):
        """After an alarm, a new writer neither signs nor adds a second alarm record."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        _save(path, _delete_sealed(_records(path)))
        with pytest.raises(JournalTamperedError):
            Journal(path, key, checkpoint_every=4).close()
        size = path.stat().st_size
        with pytest.raises(JournalTamperedError, match="an earlier alarm is unresolved"):
            Journal(path, key, checkpoint_every=4).close()
        assert path.stat().st_size == size
        assert sum(1 for r in _records(path) if r.get("type") == CHECKPOINT) == 1

    def test_a_writer_that_refused_writes_nothing_more(self, tmp_path, key):
        """Once it refused, the writer's appends fail before writing (denied in block mode)."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        _save(path, _delete_sealed(_records(path)))
        journal = Journal(path, key, checkpoint_every=4)
        with pytest.raises(JournalTamperedError):
            journal.checkpoint()
        size = path.stat().st_size
        with pytest.raises(JournalTamperedError):
            journal({"event": "secret.resolved", "provider": "after-alarm"})
        with pytest.raises(JournalTamperedError):
            journal.close()
        assert path.stat().st_size == size

    def test_the_alarm_is_logged_and_sent_to_the_hook(self, tmp_path, key, caplog):
        """The refusal is an ERROR log and an audit.alarm event for the other sinks."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        _save(path, _forge_sealed(_records(path)))
        alarms = []
        journal = Journal(path, key, checkpoint_every=4, on_alarm=alarms.append)
        with caplog.at_level(logging.ERROR), pytest.raises(JournalTamperedError):
            journal.close()
        assert [r.levelname for r in caplog.records] == ["ERROR"]
        assert "not followed by its checkpoint" in caplog.records[0].getMessage()
        assert [(a["event"], a["journal.file"]) for a in alarms] == [(ALARM, "audit.jsonl")]
        assert "not followed by its checkpoint" in alarms[0]["problem"]

    def test_the_cli_reports_the_alarm_and_exits_1(self, tmp_path, key, public_key_file):
        """`audit verify` names the alarm and exits 1."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        _save(path, _delete_sealed(_records(path)))
        with pytest.raises(JournalTamperedError):
            Journal(path, key, checkpoint_every=4).close()
        result = run_cli("audit", "verify", str(path), "--key", str(public_key_file), "--json")
        assert result.returncode == 1
        report = json.loads(result.stdout)
        assert (report["intact"], report["alarms"]) == (False, 1)


class TestWhatTheRunningWriterKnows:
    def test_a_cut_back_to_before_a_checkpoint_and_rehashed_is_caught(self, tmp_path, key_path):
        """A child process cuts the file to before the last checkpoint and adds a forged,
        re-hashed record: the running writer remembers its head and checkpoint."""
        path = tmp_path / "audit.jsonl"
        key = load_signing_key(key_path)
        journal = Journal(path, key, checkpoint_every=4)
        for number in range(10):
            journal({"event": "secret.resolved", "provider": f"p{number}"})
        _attack(path, _CUT_AND_FORGE)
        with pytest.raises(JournalTamperedError, match="this writer"):
            journal.close()
        assert not verify([path], key.public_key()).intact
        assert _records(path)[-1]["type"] == ALARM

    def test_a_whole_file_replaced_by_a_fresh_chain_is_caught(self, tmp_path, key_path):
        """A child process replaces the file by a freshly hashed chain without checkpoints."""
        path = tmp_path / "audit.jsonl"
        key = load_signing_key(key_path)
        journal = Journal(path, key, checkpoint_every=100)
        for number in range(6):
            journal({"event": "secret.resolved", "provider": f"p{number}"})
        journal.checkpoint()
        _attack(path, _REPLACE_WHOLE)
        with pytest.raises(JournalTamperedError, match="this writer"):
            journal.close()
        assert _records(path)[-1]["type"] == ALARM

    def test_an_emptied_file_is_not_signed(self, tmp_path, key_path):
        """A child process empties the file under a running writer: alarm, no seal."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, load_signing_key(key_path), checkpoint_every=100)
        journal({"event": "secret.resolved", "provider": "p0"})
        _attack(path, _ATTACKER + "save([])\n")
        with pytest.raises(JournalTamperedError, match="emptied"):
            journal.close()
        assert [r["type"] for r in _records(path)] == [ALARM]

    def test_an_edit_in_the_unsealed_tail_is_not_signed(self, tmp_path, key):
        """A record after the last checkpoint edited without re-hashing: no seal."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        records = _records(path)[:-1]  # the closing seal cut
        records[-2]["event"]["provider"] = "edited"
        _save(path, records)
        with pytest.raises(JournalTamperedError, match="do not chain"):
            Journal(path, key, checkpoint_every=4).close()


class TestSuspiciousStarts:
    def test_a_file_without_genesis_or_rotated_predecessor_is_not_signed(self, tmp_path, key):
        """The first records cut away (no re-hash): the file starts at seq 6, nothing before."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        _save(path, _records(path)[5:8])  # seq 6-8: what came before is gone
        with pytest.raises(JournalTamperedError, match="without a genesis record"):
            Journal(path, key, checkpoint_every=4).close()

    def test_a_rotation_record_without_its_sealed_file_is_not_signed(self, tmp_path, key):
        """A file that claims to continue a rotated file that is not there."""
        path = tmp_path / "audit.jsonl"
        start = {"type": "audit.rotated", "previous_file": "audit.jsonl.000000000001"}
        start.update(seq=14, prev="a" * 64)
        start["hash"] = record_hash(start)
        event = {"event": {"event": "secret.resolved"}, "seq": 15, "prev": start["hash"]}
        event["hash"] = record_hash(event)
        _save(path, [start, event])
        with pytest.raises(JournalTamperedError, match="sealed predecessor"):
            Journal(path, key, checkpoint_every=4).close()

    def test_a_checkpoint_of_another_key_is_not_built_upon(self, tmp_path, key):
        """A tail that ends in a checkpoint another key signed is not sealed by ours."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path = tmp_path / "audit.jsonl"
        _write(path, Ed25519PrivateKey.generate())
        journal = Journal(path, key, checkpoint_every=4)
        journal({"event": "secret.resolved"})
        with pytest.raises(JournalTamperedError, match="not signed by this key"):
            journal.close()


class TestHonestJournalsAreStillSealed:
    def test_a_crash_between_a_record_and_its_checkpoint_is_sealed_on(self, tmp_path, key):
        """The last record at a multiple of checkpoint_every without its checkpoint (a crash
        of an older writer): the next writer seals it first, and the journal is intact."""
        path = tmp_path / "audit.jsonl"
        _write(path, key, count=4)
        records = _records(path)
        assert records[-1]["type"] == CHECKPOINT
        _save(path, records[:-1])
        journal = Journal(path, key, checkpoint_every=4)
        journal({"event": "secret.resolved", "provider": "after"})
        journal.close()
        report = verify([path], key.public_key())
        assert report.intact, _problems(report)
        assert [r.get("type") for r in _records(path)][4:] == [CHECKPOINT, None, CHECKPOINT]

    def test_several_writers_after_each_other_stay_intact(self, tmp_path, key):
        """Reopening, rotating and sealing many times never raises a false alarm."""
        path = tmp_path / "audit.jsonl"
        for round_ in range(5):
            journal = Journal(path, key, checkpoint_every=3, max_bytes=2_000)
            for number in range(7):
                journal({"event": "secret.resolved", "provider": f"r{round_}-{number}"})
            journal.close()
        files = sorted(tmp_path.glob("audit.jsonl*"))
        report = verify(files, key.public_key())
        assert report.intact, _problems(report)
        assert len(files) > 2


def _attack(path, script):
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)


_ATTACKER = """
import json, sys
from pathlib import Path
from abstractcore_secrets.audit.journal import canonical, record_hash
path = Path(sys.argv[1])
records = [json.loads(line) for line in path.read_bytes().splitlines()]
def rehash(records):
    previous = "0" * 64
    for seq, record in enumerate(records, start=1):
        record["seq"], record["prev"] = seq, previous
        record["hash"] = previous = record_hash(record)
    return records
def save(records):
    path.write_bytes(b"".join(canonical(r) + b"\\n" for r in records))
"""

# Ten events every four: seq 1-4, 5 (checkpoint), 6-8, 9 (checkpoint), 10-12, 13 (checkpoint).
# Cut to seq 7 (before the checkpoint at 9) and add one forged record after it.
_CUT_AND_FORGE = (
    _ATTACKER
    + """
kept = records[:7]
kept.append({"event": {"event": "secret.resolved", "provider": "forged"}})
save(rehash(kept))
"""
)

_REPLACE_WHOLE = (
    _ATTACKER
    + """
save(rehash([{"event": {"event": "secret.resolved", "provider": f"f{n}"}} for n in range(3)]))
"""
)
