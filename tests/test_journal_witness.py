"""Truncation and emptying: found with a witness, never called intact without a caveat.

A journal cut back to one of its checkpoints (the closing seal included), emptied or deleted
looks like a journal that had not been written further. Checkpoints therefore leave the
host: the journal hands each one to ``on_checkpoint``, which the assembly connects to the
other audit sinks (the OTel log sink ships it over OTLP), and ``audit verify --witness``
checks that the journal still holds every checkpoint or head the witness names.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from clirun import run_cli
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

from abstractcore_secrets.audit._sinks import OTelLogSink, fan_out
from abstractcore_secrets.audit.journal import (
    CHECKPOINT,
    Journal,
    canonical,
    record_hash,
)
from abstractcore_secrets.audit.verify import WitnessEntry, load_witness, verify
from abstractcore_secrets.testing.otlp import OTLPReceiver


@pytest.fixture
def key(signing_key):
    return signing_key


def _write(path, key, count=10, every=4, **options):
    """Ten events every four: seq 1-4, checkpoint 5, 6-8, 9, 10-12, 13 (the closing seal)."""
    journal = Journal(path, key, checkpoint_every=every, **options)
    for number in range(count):
        journal({"event": "secret.resolved", "outcome": "found", "provider": f"p{number}"})
    journal.close()


def _witnessed(path, key, **options):
    """Write a journal; return the checkpoint events it emitted, as JSON lines in a file."""
    emitted = []
    _write(path, key, on_checkpoint=emitted.append, **options)
    witness = path.with_name("witness.jsonl")
    witness.write_text("".join(json.dumps(event) + "\n" for event in emitted))
    return witness, emitted


def _lines(path):
    return path.read_bytes().splitlines(keepends=True)


def _cut_to(path, seq):
    """Keep the records up to ``seq``: a cut that ends on a checkpoint looks finished."""
    path.write_bytes(b"".join(line for line in _lines(path) if json.loads(line)["seq"] <= seq))


def _verify_cli(*arguments):
    result = run_cli("audit", "verify", *arguments, "--json")
    return result.returncode, json.loads(result.stdout) if result.stdout else result.stderr


class TestCheckpointsLeaveTheHost:
    def test_each_signed_checkpoint_is_handed_to_the_hook(self, tmp_path, key):
        """One audit.checkpoint event per checkpoint record, naming its seq and hash."""
        path = tmp_path / "audit.jsonl"
        _, emitted = _witnessed(path, key)
        records = [json.loads(line) for line in _lines(path)]
        checkpoints = [r for r in records if r.get("type") == CHECKPOINT]
        assert [
            {k: e[k] for k in ("event", "journal.seq", "journal.hash", "journal.signature")}
            for e in emitted
        ] == [
            {
                "event": CHECKPOINT,
                "journal.seq": c["seq"],
                "journal.hash": c["hash"],
                "journal.signature": c["signature"],
            }
            for c in checkpoints
        ]
        assert [c["seq"] for c in checkpoints] == [5, 9, 13]

    def test_checkpoints_reach_a_real_otlp_receiver_and_serve_as_witness(self, tmp_path, key):
        """Through the OTel log sink to an OTLP receiver; its OTLP JSON is a witness."""
        path = tmp_path / "audit.jsonl"
        with OTLPReceiver() as receiver:
            provider = LoggerProvider()
            provider.add_log_record_processor(
                SimpleLogRecordProcessor(
                    OTLPLogExporter(endpoint=f"{receiver.http_endpoint}/v1/logs")
                )
            )
            _write(path, key, on_checkpoint=fan_out([OTelLogSink(provider)]))
            provider.force_flush()
            assert receiver.wait_for(lambda: len(receiver.logs()) == 3)
            shipped = receiver.logs()
            archive = [
                MessageToJson(ExportLogsServiceRequest.FromString(payload), indent=None)
                for protocol, signal, payload in receiver.received
                if signal == "logs"
            ]
            provider.shutdown()
        assert [(r["event_name"], r["attributes"]["journal.seq"]) for r in shipped] == [
            (CHECKPOINT, 5),
            (CHECKPOINT, 9),
            (CHECKPOINT, 13),
        ]
        witness = tmp_path / "audit-otlp.jsonl"  # the collector's archive: OTLP JSON lines
        witness.write_text("\n".join(archive) + "\n")
        assert [e.seq for e in load_witness(witness)] == [5, 9, 13]
        assert verify([path], key.public_key(), load_witness(witness)).intact
        _cut_to(path, 9)
        report = verify([path], key.public_key(), load_witness(witness))
        assert (report.intact, report.truncated) == (False, True)

    def test_the_assembly_sends_checkpoints_to_the_other_sinks(self, tmp_path):
        """The default manager with a journal: its closing seal reaches the audit logger."""
        path = tmp_path / "audit.jsonl"
        result = subprocess.run(
            [sys.executable, "-c", _APP],
            env={
                **_environment(),
                "ABSTRACTCORE_SECRETS_AUDIT_JOURNAL": str(path),
                "OPENAI_API_KEY": "sk-proj-" + "a1B2c3D4" * 6,
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        sealed = [json.loads(line) for line in _lines(path)][-1]
        assert sealed["type"] == CHECKPOINT
        assert [
            (e["journal.seq"], e["journal.hash"]) for e in events if e["event"] == CHECKPOINT
        ] == [(sealed["seq"], sealed["hash"])]


class TestVerifyWithAWitness:
    def test_an_untouched_journal_matches_its_witness(self, tmp_path, key, public_key_file):
        """Every witnessed checkpoint is there: intact, exit 0."""
        path = tmp_path / "audit.jsonl"
        witness, _ = _witnessed(path, key)
        code, report = _verify_cli(
            str(path), "--key", str(public_key_file), "--witness", str(witness)
        )
        assert (code, report["intact"], report["witnessed"], report["truncated"]) == (
            0,
            True,
            3,
            False,
        )

    @pytest.mark.parametrize("seq", [9, 5], ids=["closing-seal-cut", "two-checkpoints-cut"])
    def test_a_cut_back_to_a_checkpoint_is_truncated(self, tmp_path, key, public_key_file, seq):
        """Cut back to a checkpoint: intact alone (nothing shows), truncated with the witness."""
        path = tmp_path / "audit.jsonl"
        witness, _ = _witnessed(path, key)
        _cut_to(path, seq)
        assert verify([path], key.public_key()).intact  # what the file alone can show
        code, report = _verify_cli(
            str(path), "--key", str(public_key_file), "--witness", str(witness)
        )
        assert (code, report["intact"], report["truncated"]) == (1, False, True)
        assert any(
            "truncated: the witness has audit.checkpoint seq 13" in f for f in report["findings"]
        )

    def test_a_cut_closing_seal_is_a_missing_seal(self, tmp_path, key, public_key_file):
        """The closing seal cut and the records before it kept: missing closing seal."""
        path = tmp_path / "audit.jsonl"
        witness, _ = _witnessed(path, key)
        _cut_to(path, 12)
        code, report = _verify_cli(
            str(path), "--key", str(public_key_file), "--witness", str(witness)
        )
        assert (code, report["truncated"]) == (1, True)
        assert any("missing closing seal" in f for f in report["findings"])

    def test_an_emptied_journal_is_truncated(self, tmp_path, key, public_key_file):
        """Emptied: with the witness, truncated; exit 1."""
        path = tmp_path / "audit.jsonl"
        witness, _ = _witnessed(path, key)
        path.write_bytes(b"")
        code, report = _verify_cli(
            str(path), "--key", str(public_key_file), "--witness", str(witness)
        )
        assert (code, report["records"], report["truncated"]) == (1, 0, True)

    def test_a_deleted_journal_is_not_intact(self, tmp_path, key, public_key_file):
        """A journal file that no longer exists: a finding (exit 1), not a usage error."""
        path = tmp_path / "audit.jsonl"
        witness, _ = _witnessed(path, key)
        path.unlink()
        code, report = _verify_cli(str(path), "--key", str(public_key_file))
        assert (code, report["intact"]) == (1, False)
        assert any("missing: the journal file does not exist" in f for f in report["findings"])
        code, report = _verify_cli(
            str(path), "--key", str(public_key_file), "--witness", str(witness)
        )
        assert (code, report["truncated"]) == (1, True)

    def test_a_last_known_head_is_a_witness(self, tmp_path, key, public_key_file):
        """A ``SEQ HASH`` line, noted elsewhere: the journal must still hold that record."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        last = json.loads(_lines(path)[-1])
        witness = tmp_path / "head.txt"
        witness.write_text(f"{last['seq']} {last['hash']}\n")
        assert load_witness(witness) == [WitnessEntry(13, last["hash"])]
        _cut_to(path, 9)
        code, report = _verify_cli(
            str(path), "--key", str(public_key_file), "--witness", str(witness)
        )
        assert (code, report["truncated"]) == (1, True)

    def test_a_replaced_journal_signed_by_a_fresh_writer_is_rewritten(self, tmp_path, key):
        """The whole file replaced by a fresh chain before any writer ran: the next writer
        cannot tell and seals it; only the witness shows that seq 5 was another record."""
        path = tmp_path / "audit.jsonl"
        witness, _ = _witnessed(path, key)
        fresh, previous = [], "0" * 64
        for seq in range(1, 4):  # shorter than checkpoint_every: nothing shows
            record = {"event": {"event": "secret.resolved", "provider": f"f{seq}"}}
            record.update(seq=seq, prev=previous)
            record["hash"] = previous = record_hash(record)
            fresh.append(canonical(record) + b"\n")
        path.write_bytes(b"".join(fresh))
        journal = Journal(path, key, checkpoint_every=4)
        journal({"event": "secret.resolved", "provider": "after"})  # seq 4, sealed by 5
        journal.close()
        assert verify([path], key.public_key()).intact  # the limit of the file alone
        report = verify([path], key.public_key(), load_witness(witness))
        assert not report.intact
        assert any(
            "rewritten: the witness has audit.checkpoint seq 5" in f.problem
            for f in report.findings
        )


class TestVerifyWithoutAWitness:
    def test_an_empty_journal_is_not_called_intact(self, tmp_path, key, public_key_file):
        """0 records and no witness: the caveat is said, and the exit code is 1."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        path.write_bytes(b"")
        report = verify([path], key.public_key())
        assert not report.intact
        assert [f.problem for f in report.findings] == [
            "0 records, no witness: truncation or emptying cannot be ruled out "
            "(verify with --witness)"
        ]
        result = run_cli("audit", "verify", str(path), "--key", str(public_key_file))
        assert result.returncode == 1
        assert "NOT intact: 0 records, 0 checkpoints, no witness" in result.stdout

    def test_an_unusable_witness_is_a_usage_error(self, tmp_path, key, public_key_file):
        """A witness file naming no record: exit 2, nothing verified against nothing."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        witness = tmp_path / "witness.jsonl"
        witness.write_text('{"something": "else"}\n')
        result = run_cli(
            "audit", "verify", str(path), "--key", str(public_key_file), "--witness", str(witness)
        )
        assert result.returncode == 2
        assert "names no checkpoint or head" in result.stderr


def _environment():
    import os

    return {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}


_APP = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
from abstractcore_secrets import get_secrets_manager
get_secrets_manager().resolve("openai")
"""
