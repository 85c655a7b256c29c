"""Exports, verification and the leak lookup, through the real CLI on real journals."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import tracemalloc

import pytest
from clirun import run_cli
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from abstractcore_secrets import SecretsManager, SourceForbiddenError
from abstractcore_secrets.audit import AuditMiddleware, principal
from abstractcore_secrets.audit.exports import OCSF_VERSION, export, to_ocsf
from abstractcore_secrets.audit.journal import Journal
from abstractcore_secrets.testing import FailingSecretProvider

# The 1.3.0 API Activity class's required attributes (base event and class).
OCSF_REQUIRED = (
    "activity_id",
    "actor",
    "api",
    "category_uid",
    "class_uid",
    "metadata",
    "severity_id",
    "src_endpoint",
    "time",
    "type_uid",
)


@pytest.fixture
def journal_setup(tmp_path):
    """A journal of real resolutions: alice and bob, found, not found and denied."""
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "journal.pub"
    key_file.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    path = tmp_path / "audit.jsonl"
    journal = Journal(path, key, checkpoint_every=5)
    audit = AuditMiddleware([journal], service_name="svc")
    vault = FailingSecretProvider(
        None, name="vault", fallback={"openai": "sk-served-key-1", "groq": "sk-other-2"}
    )
    # The installation's fingerprint key, which find-key in the CLI uses too.
    manager = SecretsManager([vault], middleware=[audit], cache=None)
    with principal("alice"):
        manager.resolve("openai")
        manager.resolve("mistral")
    with principal("bob"):
        manager.resolve("openai")
        manager.resolve("groq")
        vault.error = SourceForbiddenError("revoked")
        manager.resolve("openai")
    journal.close()
    return path, key_file


class TestExportsThroughTheCLI:
    def test_jsonl_and_filters(self, journal_setup):
        """JSON lines, one per resolution, filtered by provider, outcome and user."""
        path, _ = journal_setup
        everything = run_cli("audit", "export", str(path), "--format", "jsonl")
        assert everything.returncode == 0, everything.stderr
        events = [json.loads(line) for line in everything.stdout.splitlines()]
        assert [(e["provider"], e["outcome"], e["user"]["id"]) for e in events] == [
            ("openai", "found", "alice"),
            ("mistral", "not_found", "alice"),
            ("openai", "found", "bob"),
            ("groq", "found", "bob"),
            ("openai", "denied", "bob"),
        ]
        bob_openai = run_cli(
            "audit",
            "export",
            str(path),
            "--provider",
            "openai",
            "--user",
            "bob",
            "--outcome",
            "found",
        )
        assert len(bob_openai.stdout.splitlines()) == 1
        future = run_cli("audit", "export", str(path), "--since", "2999-01-01")
        assert future.stdout == ""

    def test_csv(self, journal_setup):
        """CSV with a header and one row per event."""
        path, _ = journal_setup
        rows = list(
            csv.DictReader(
                io.StringIO(run_cli("audit", "export", str(path), "--format", "csv").stdout)
            )
        )
        assert [(r["provider"], r["user_id"]) for r in rows][:2] == [
            ("openai", "alice"),
            ("mistral", "alice"),
        ]
        assert rows[0]["fingerprint"].startswith("hmac-sha256:")

    def test_ocsf_records_carry_the_required_fields(self, journal_setup):
        """OCSF API Activity: every required attribute, the pinned version, the mapping."""
        path, _ = journal_setup
        records = [
            json.loads(line)
            for line in run_cli(
                "audit", "export", str(path), "--format", "ocsf"
            ).stdout.splitlines()
        ]
        for record in records:
            assert all(record.get(field) is not None for field in OCSF_REQUIRED), record
            assert (record["class_uid"], record["type_uid"], record["category_uid"]) == (
                6003,
                600302,
                6,
            )
            assert record["metadata"]["version"] == OCSF_VERSION
            assert record["api"]["operation"] == "resolve_secret"
            assert record["metadata"]["product"]["name"] == "abstractcore-secrets"
        assert [r["status_id"] for r in records] == [1, 2, 1, 1, 2]
        assert records[0]["actor"]["user"]["uid"] == "alice"
        assert records[0]["resources"] == [
            {"type": "secret", "uid": "vault:openai", "name": "openai"}
        ]

    def test_cef(self, journal_setup):
        """CEF:0 lines: seven header fields, key=value extensions, severity by outcome."""
        path, _ = journal_setup
        lines = run_cli("audit", "export", str(path), "--format", "cef").stdout.splitlines()
        header = lines[0].split("|")
        assert header[:4] == ["CEF:0", "abstractcore", "abstractcore-secrets", "0.1.0"]
        assert header[4] == "secret.resolved"
        assert "suser=alice" in lines[0]
        assert lines[-1].split("|")[6] == "8"  # denied

    def test_verify_cli(self, journal_setup):
        """verify exits 0 when intact, 1 with the located finding after an edit."""
        path, key_file = journal_setup
        intact = run_cli("audit", "verify", str(path), "--key", str(key_file))
        assert (intact.returncode, intact.stdout.strip().splitlines()[-1].split(":")[0]) == (
            0,
            "intact",
        )
        lines = path.read_text().splitlines()
        lines[1] = lines[1].replace('"alice"', '"mallory"')
        path.write_text("\n".join(lines) + "\n")
        tampered = run_cli("audit", "verify", str(path), "--key", str(key_file))
        assert tampered.returncode == 1
        assert f"{path}:2 (seq 2): edited" in tampered.stdout

    def test_evidence_bundle(self, journal_setup, tmp_path):
        """--evidence: export, verification, checkpoints, PCI table, and a manifest that checks."""
        path, key_file = journal_setup
        bundle = tmp_path / "evidence"
        result = run_cli(
            "audit",
            "export",
            str(path),
            "--format",
            "ocsf",
            "--evidence",
            str(bundle),
            "--key",
            str(key_file),
        )
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in bundle.iterdir()) == [
            "MANIFEST.sha256",
            "checkpoints.jsonl",
            "export.ocsf.jsonl",
            "pci-dss-10.2.2.csv",
            "verification.json",
        ]
        assert json.loads((bundle / "verification.json").read_text())["intact"] is True
        checked = subprocess.run(
            ["sha256sum", "-c", "MANIFEST.sha256"],
            cwd=bundle,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout
        table = list(csv.DictReader(io.StringIO((bundle / "pci-dss-10.2.2.csv").read_text())))
        assert len(table) == 5
        assert all(row[column] == "yes" for row in table for column in row if column != "event_id")

    def test_find_key_reads_stdin_and_lists_who_was_served(self, journal_setup):
        """The leaked key, from stdin, maps to every resolution that served it."""
        path, _ = journal_setup
        result = run_cli("audit", "find-key", str(path), "--json", stdin="sk-served-key-1\n")
        assert result.returncode == 0, result.stderr
        served = json.loads(result.stdout)
        assert [(s["user"], s["provider"], s["source"]) for s in served] == [
            ("alice", "openai", "vault"),
            ("bob", "openai", "vault"),
        ]
        assert "sk-served-key-1" not in result.stdout + result.stderr
        never = run_cli("audit", "find-key", str(path), stdin="sk-never-served\n")
        assert never.returncode == 1


def test_export_streams_in_bounded_memory(tmp_path):
    """Exporting a 20 MB journal to OCSF keeps peak memory far below the file's size."""
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "big.jsonl"
    journal = Journal(path, key, checkpoint_every=10_000)
    event = {
        "event": "secret.resolved",
        "provider": "openai",
        "source": "vault",
        "outcome": "found",
        "time": "2026-11-28T12:00:00+00:00",
        "user": {"id": "u"},
        "pad": "x" * 400,
    }
    for _ in range(40_000):
        journal(event)
    journal.close()
    assert path.stat().st_size > 20_000_000

    class Discard(io.TextIOBase):
        def write(self, text):
            return len(text)

    tracemalloc.start()
    count = export([path], "ocsf", Discard())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 40_000
    assert peak < 2_000_000, peak
    assert to_ocsf(event)["class_uid"] == 6003


class TestJournalFromConfiguration:
    def test_configured_journal_records_and_verifies(self, config_path, tmp_path, monkeypatch):
        """secrets.audit.journal: resolutions land in the journal, sealed at exit, verified."""
        journal = tmp_path / "audit" / "audit.jsonl"
        config_path.parent.mkdir(parents=True)
        config_path.write_text(
            json.dumps({"secrets": {"audit": {"journal": str(journal), "checkpoint_every": 2}}})
        )
        config_path.chmod(0o600)
        assert run_cli("get", "openai", env={"OPENAI_API_KEY": "sk-journal-cli"}).returncode == 0
        assert run_cli("get", "mistral").returncode == 1
        key_file = tmp_path / "journal.pub"
        key_file.write_text(run_cli("audit", "public-key").stdout)
        result = run_cli("audit", "verify", str(journal), "--key", str(key_file), "--json")
        report = json.loads(result.stdout)
        assert (result.returncode, report["intact"]) == (0, True), report
        events = [
            json.loads(line)
            for line in run_cli("audit", "export", str(journal)).stdout.splitlines()
        ]
        assert [(e["provider"], e["outcome"]) for e in events] == [
            ("openai", "found"),
            ("mistral", "not_found"),
        ]

    def test_unwritable_journal_stops_the_start_with_the_fix(self, tmp_path):
        """A journal that cannot be opened: no manager (exit 3) rather than an unaudited one."""
        blocked = tmp_path / "a-file"
        blocked.write_text("")
        result = run_cli(
            "get",
            "openai",
            env={
                "OPENAI_API_KEY": "sk-x",
                "ABSTRACTCORE_SECRETS_AUDIT_JOURNAL": str(blocked / "j"),
            },
        )
        assert result.returncode == 3
        assert "cannot open the audit journal" in result.stderr
        assert "make the folder writable" in result.stderr

    def test_block_mode_from_the_environment(self, config_path):
        """ABSTRACTCORE_SECRETS_AUDIT_FAILURE_MODE=block with a full journal: denied, exit 4."""
        result = run_cli(
            "get",
            "openai",
            env={
                "OPENAI_API_KEY": "sk-blocked",
                "ABSTRACTCORE_SECRETS_AUDIT_JOURNAL": "/dev/full",
                "ABSTRACTCORE_SECRETS_AUDIT_FAILURE_MODE": "block",
            },
        )
        assert result.returncode == 4
        assert "audit record could not be made durable" in result.stderr
        assert "sk-blocked" not in result.stdout + result.stderr


def test_exports_resist_injection_and_accept_any_time_zone():
    """CEF escapes CR/LF and '=', CSV neutralises formulas, filters read naive times as UTC."""
    import datetime as dt

    from abstractcore_secrets.audit.exports import Filters, to_cef, to_csv

    event = {
        "time": "2026-11-28T10:00:00+00:00",
        "event": "secret.error",
        "outcome": "error",
        "provider": "openai",
        "error.message": "bad\rCEF:0|forged|x=1\n=cmd",
        "user": {"id": "=HYPERLINK(1)"},
    }
    line = to_cef(event)
    assert "\r" not in line
    assert "\n" not in line
    assert "msg=bad\\rCEF:0|forged|x\\=1\\n\\=cmd" in line
    assert "'=HYPERLINK(1)" in to_csv(event)
    naive = Filters(since=dt.datetime(2026, 11, 28, 9), until=dt.datetime(2026, 11, 28, 11))
    assert naive(event)
    assert not naive({**event, "time": "2026-11-28T12:00:00"})
