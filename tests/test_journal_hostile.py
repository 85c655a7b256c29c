"""Hostile journals: swapped, unsealed, odd and rotated files are located, never fatal.

Each test builds a real journal with :class:`Journal`, tampers with its bytes as an attacker
or a broken tool would, and checks what verification, the exports, the report and the leak
lookup make of it, through the real CLI where an exit code is part of the promise.
"""

from __future__ import annotations

import io
import json

import pytest
from clirun import run_cli

from abstractcore_secrets import SecretsManager
from abstractcore_secrets.audit import AuditMiddleware, principal
from abstractcore_secrets.audit.exports import Skipped, export
from abstractcore_secrets.audit.journal import Journal, load_signing_key
from abstractcore_secrets.audit.report import render_report
from abstractcore_secrets.audit.verify import verify
from abstractcore_secrets.testing import FailingSecretProvider

ODD_LINES = {
    "json-list": b"[1,2]",
    "json-number": b"42",
    "json-string": b'"a string"',
    "bad-time": b'{"event":{"time":"not-a-time","event":"secret.resolved"}}',
    "number-time": b'{"event":{"time":1234,"event":"secret.resolved"}}',
    "event-not-object": b'{"event":[1,2]}',
    "not-utf8": b'{"event":"\xff\xfe"}',
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
}


def _write(path, key, count=10, every=4, **options):
    journal = Journal(path, key, checkpoint_every=every, **options)
    for number in range(count):
        journal(
            {
                "time": f"2026-11-28T10:{number // 60 % 60:02d}:{number % 60:02d}+00:00",
                "event": "secret.resolved",
                "outcome": "found",
                "provider": f"p{number}",
                "pad": "x" * 60,
            }
        )
    journal.close()


def _lines(path):
    return path.read_bytes().splitlines()


def _rewrite(path, lines):
    path.write_bytes(b"\n".join(lines) + b"\n")


def _rotated(tmp_path, key, count=300):
    """A journal rotated into several files; return them in shell-glob order."""
    _write(tmp_path / "audit.jsonl", key, count=count, every=50, max_bytes=8_000)
    files = sorted(tmp_path.glob("audit.jsonl*"))
    assert len(files) > 3
    assert files[0].name == "audit.jsonl"  # what `audit.jsonl*` expands to: live file first
    return files


def _exported(files, fmt="jsonl"):
    out, skipped = io.StringIO(), Skipped()
    export(files, fmt, out, skipped=skipped)
    return out.getvalue().splitlines(), skipped


class TestVerifyLocatesTampering:
    def test_a_swap_of_two_records_is_reported_as_reordered(self, tmp_path, signing_key):
        """Swapping lines 2 and 3 is a reordering at line 2, not a deletion."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        lines = _lines(path)
        lines[1], lines[2] = lines[2], lines[1]
        _rewrite(path, lines)
        report = verify([path], signing_key.public_key())
        assert [(f.line, f.seq) for f in report.findings] == [(2, 3)]
        assert report.findings[0].problem.startswith("reordered: seq 2 comes later")
        assert "deleted" not in report.findings[0].problem

    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            (
                lambda lines: [lines[0], lines[1].replace(b'"event":{', b'"event": {', 1)],
                "edited: its bytes are not the record's canonical encoding",
            ),
            (
                lambda lines: [lines[0], lines[1].replace(b'{"event"', b'{"seq":0,"event"', 1)],
                "edited: its bytes are not the record's canonical encoding",
            ),
            (lambda lines: [lines[0], b"", lines[1]], "inserted: a blank line"),
        ],
        ids=["blank-between-tokens", "duplicated-key", "blank-line"],
    )
    def test_the_bytes_are_protected_not_only_the_parsed_record(
        self, tmp_path, signing_key, change, problem
    ):
        """A blank, a duplicated key (JSON keeps the last), a blank line: each is an edit."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        lines = _lines(path)
        _rewrite(path, change(lines[:2]) + lines[2:])
        report = verify([path], signing_key.public_key())
        assert not report.intact
        assert report.findings[0].line == 2
        assert report.findings[0].problem.startswith(problem)

    def test_a_last_line_without_its_newline_is_torn(self, tmp_path, signing_key):
        """The next writer would cut such a line as torn: verify reports it first."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        path.write_bytes(path.read_bytes()[:-1])
        report = verify([path], signing_key.public_key())
        assert [(f.line, f.problem) for f in report.findings] == [
            (len(_lines(path)), "torn or edited: the last line has no newline")
        ]

    def test_a_deletion_is_still_reported_as_a_deletion(self, tmp_path, signing_key):
        """Removing line 2 is reported as records deleted before line 2."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        lines = _lines(path)
        del lines[1]
        _rewrite(path, lines)
        finding = verify([path], signing_key.public_key()).findings[0]
        assert (finding.line, finding.seq) == (2, 3)
        assert finding.problem.startswith("records deleted before it")

    def test_an_unsealed_tail_is_located_at_its_first_record(self, tmp_path, signing_key):
        """Cutting the closing checkpoint: the finding names the first unsealed line."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)  # 1-4, seal 5, 6-8, seal 9, 10-12, seal 13
        _rewrite(path, _lines(path)[:-1])
        report = verify([path], signing_key.public_key())
        assert (report.intact, report.unsealed) == (False, 3)
        assert [(f.line, f.seq) for f in report.findings] == [(10, 10)]
        assert "3 records from this one on are not sealed" in report.findings[0].problem
        assert str(report.findings[0]).startswith(f"{path}:10 (seq 10): ")

    @pytest.mark.parametrize(
        "signature", [None, 42, "not hex", ""], ids=["absent", "number", "not-hex", "empty"]
    )
    def test_a_checkpoint_without_a_usable_signature_is_forged(
        self, tmp_path, signing_key, signature
    ):
        """The closing checkpoint's signature dropped or garbled: reported, not a crash."""
        from abstractcore_secrets.audit.journal import canonical, record_hash

        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        lines = _lines(path)
        checkpoint = json.loads(lines[-1])
        if signature is None:
            del checkpoint["signature"]
        else:
            checkpoint["signature"] = signature
        checkpoint["hash"] = record_hash(checkpoint)
        lines[-1] = canonical(checkpoint)
        _rewrite(path, lines)
        report = verify([path], signing_key.public_key())
        assert [(f.line, f.seq) for f in report.findings] == [(13, 13)]
        assert report.findings[0].problem == "forged checkpoint: missing or bad signature"

    @pytest.mark.parametrize("odd", list(ODD_LINES.values()), ids=list(ODD_LINES))
    def test_an_odd_line_is_a_broken_record_at_its_line(self, tmp_path, signing_key, odd):
        """A line that is not a journal record is reported at its own line."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        lines = _lines(path)
        lines.insert(6, odd)
        _rewrite(path, lines)
        report = verify([path], signing_key.public_key())
        assert [(f.line, f.seq) for f in report.findings] == [(7, None)]
        assert report.findings[0].problem.startswith(("not a JSON record", "not a journal record"))

    def test_rotated_files_in_glob_order_verify_intact(self, tmp_path, signing_key):
        """The documented glob's order (live file first) is one intact chain."""
        files = _rotated(tmp_path, signing_key)
        report = verify(files, signing_key.public_key())
        assert report.intact, [str(f) for f in report.findings]


class TestVerifyThroughTheCLI:
    def test_exit_codes(self, tmp_path, signing_key, public_key_file):
        """Intact exits 0; a dropped signature or an odd line exits 1 with its place, never 70."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        key = str(public_key_file)
        assert run_cli("audit", "verify", str(path), "--key", key).returncode == 0
        lines = _lines(path)
        checkpoint = json.loads(lines[4])
        del checkpoint["signature"]
        lines[4] = json.dumps(checkpoint).encode()
        _rewrite(path, lines)
        result = run_cli("audit", "verify", str(path), "--key", key, "--json")
        assert result.returncode == 1, result.stderr
        assert json.loads(result.stdout)["findings"] == [
            f"{path}:5 (seq 5): edited: its hash does not match"
        ]
        _rewrite(path, [b"[1,2]", *_lines(path)])
        result = run_cli("audit", "verify", str(path), "--key", key)
        assert result.returncode == 1, result.stderr
        assert f"{path}:1: not a journal record" in result.stdout

    def test_a_forged_unsigned_checkpoint_exits_1(self, tmp_path, signing_key, public_key_file):
        """A re-hashed checkpoint with no signature field: exit 1 and the line, not exit 70."""
        from abstractcore_secrets.audit.journal import canonical, record_hash

        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        lines = _lines(path)
        checkpoint = json.loads(lines[-1])
        del checkpoint["signature"]
        checkpoint["hash"] = record_hash(checkpoint)
        lines[-1] = canonical(checkpoint)
        _rewrite(path, lines)
        result = run_cli("audit", "verify", str(path), "--key", str(public_key_file))
        assert (result.returncode, result.stderr) == (1, "")
        assert f"{path}:13 (seq 13): forged checkpoint" in result.stdout


class TestExportsSkipOddLines:
    @pytest.mark.parametrize("odd", list(ODD_LINES.values()), ids=list(ODD_LINES))
    @pytest.mark.parametrize("fmt", ["jsonl", "csv", "ocsf", "cef"])
    def test_every_later_event_is_exported_and_the_line_counted(
        self, tmp_path, signing_key, odd, fmt
    ):
        """An odd line at line 3 is skipped and counted; all ten events are exported."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        lines = _lines(path)
        lines.insert(2, odd)
        _rewrite(path, lines)
        rows, skipped = _exported([path], fmt)
        assert len(rows) == 10 + (fmt == "csv")
        assert skipped.count == 1
        assert [(where, line) for where, line, _ in skipped.where] == [(str(path), 3)]
        if fmt == "jsonl":
            assert [json.loads(row)["provider"] for row in rows] == [f"p{n}" for n in range(10)]

    def test_the_cli_exports_everything_and_says_so_on_stderr(self, tmp_path, signing_key):
        """Three odd lines: exit 0, every event on stdout, the count and places on stderr."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        lines = _lines(path)
        for position, odd in ((1, b"[1,2]"), (4, b"42"), (8, b'{"event":{"time":"not-a-time"}}')):
            lines.insert(position, odd)
        _rewrite(path, lines)
        result = run_cli("audit", "export", str(path), "--format", "csv")
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == 11
        assert result.stderr.startswith("warning: skipped 3 line(s) that are not audit events")
        for line in (2, 5, 9):
            assert f"{path}:{line} (" in result.stderr
        clean = run_cli("audit", "export", str(path), "--since", "2026-11-28T10:00:05")
        assert clean.returncode == 0, clean.stderr
        assert [json.loads(row)["provider"] for row in clean.stdout.splitlines()] == [
            f"p{n}" for n in range(5, 10)
        ]

    def test_the_report_counts_odd_lines_and_keeps_later_events(self, tmp_path, signing_key):
        """The report names the skipped line and counts every event after it."""
        path = tmp_path / "audit.jsonl"
        _write(path, signing_key)
        lines = _lines(path)
        lines.insert(1, b'{"event":{"time":"not-a-time"}}')
        lines.insert(3, b"[1,2]")
        _rewrite(path, lines)
        skipped = Skipped()
        page = render_report([path], skipped=skipped)
        assert skipped.count == 2
        assert "<p>10 resolutions from 1 principals.</p>" in page
        assert "skipped 2 line(s) that are not audit events" in page
        output = tmp_path / "report.html"
        result = run_cli("audit", "report", str(path), "--output", str(output))
        assert result.returncode == 0, result.stderr
        assert "skipped 2 line(s)" in result.stderr
        assert "10 resolutions" in output.read_text()


class TestRotatedFilesInGlobOrder:
    def test_export_reads_files_in_chain_order(self, tmp_path, signing_key):
        """`audit.jsonl*` lists the live file first; events still come out in order."""
        files = _rotated(tmp_path, signing_key)
        rows, skipped = _exported(files)
        assert [json.loads(row)["provider"] for row in rows] == [f"p{n}" for n in range(300)]
        assert skipped.count == 0
        rows_reversed, _ = _exported(list(reversed(files)) + files[:1])
        assert rows_reversed == rows

    def test_the_cli_exports_and_reports_in_chain_order(self, tmp_path, signing_key):
        """Through the CLI, in glob order: 300 events in seq order; first-seen times right."""
        files = _rotated(tmp_path, signing_key)
        result = run_cli("audit", "export", *map(str, files))
        assert result.returncode == 0, result.stderr
        events = [json.loads(row) for row in result.stdout.splitlines()]
        assert [e["provider"] for e in events] == [f"p{n}" for n in range(300)]
        assert result.stderr == ""

    def test_a_corrupt_first_line_falls_back_to_the_rotation_name(self, tmp_path, signing_key):
        """A rotated file whose first line is broken is still placed by its name."""
        files = _rotated(tmp_path, signing_key)
        second = sorted(files[1:])[1]  # starts with its audit.rotated record
        _rewrite(second, [b"[1,2]", *_lines(second)[1:]])
        rows, skipped = _exported(files)
        providers = [json.loads(row)["provider"] for row in rows]
        assert providers == sorted(providers, key=lambda name: int(name[1:]))
        assert (skipped.count, len(providers)) == (1, 300)  # it was the rotation record


class TestFindKey:
    def test_a_rotation_record_does_not_list_a_resolution_twice(self, tmp_path):
        """Resolve, rotate, resolve again: find-key lists each served resolution once."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, load_signing_key(tmp_path / "journal.key"), max_bytes=2_000)
        vault = FailingSecretProvider(None, name="vault", fallback={"openai": "sk-old-key-1"})
        manager = SecretsManager([vault], middleware=[AuditMiddleware([journal])], cache=None)
        with principal("alice"):
            manager.resolve("openai")
            vault.fallback["openai"] = "sk-new-key-2"
            manager.resolve("openai")  # a resolution, then a secret.rotated record
            manager.resolve("openai")
        journal.close()
        files = sorted(tmp_path.glob("audit.jsonl*"))
        assert len(files) > 1
        result = run_cli("audit", "find-key", *map(str, files), "--json", stdin="sk-new-key-2\n")
        assert result.returncode == 0, result.stderr
        served = json.loads(result.stdout)
        assert [(s["user"], s["provider"], s["source"]) for s in served] == [
            ("alice", "openai", "vault"),
            ("alice", "openai", "vault"),
        ]
        assert len({s["event_id"] for s in served}) == 2
        old = run_cli("audit", "find-key", *map(str, files), "--json", stdin="sk-old-key-1\n")
        assert len(json.loads(old.stdout)) == 1

    def test_odd_lines_are_skipped_and_said(self, tmp_path, signing_key):
        """An odd line before a match: the match is still found, the line counted on stderr."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, signing_key)
        vault = FailingSecretProvider(None, name="vault", fallback={"groq": "sk-groq-key-3"})
        manager = SecretsManager([vault], middleware=[AuditMiddleware([journal])], cache=None)
        manager.resolve("groq")
        journal.close()
        _rewrite(path, [b"42", b'{"event":{"time":"x"}}', *_lines(path)])
        result = run_cli("audit", "find-key", str(path), "--json", stdin="sk-groq-key-3\n")
        assert result.returncode == 0, result.stderr
        assert len(json.loads(result.stdout)) == 1
        assert "skipped 2 line(s)" in result.stderr


class TestPublicKeyNeverCreatesAKey:
    KEY_SHAPED = "sk-proj-" + "Zq8xW2vLp4Rt6Yb9Nc3Md5Kf" * 2

    def test_a_key_shaped_argument_is_neither_created_nor_echoed(self, tmp_path, monkeypatch):
        """`--signing-key sk-...` (a key pasted by mistake): usage error, no file, no echo."""
        work = tmp_path / "work"
        work.mkdir()
        monkeypatch.chdir(work)
        result = run_cli("audit", "public-key", "--signing-key", self.KEY_SHAPED)
        assert result.returncode == 2
        assert self.KEY_SHAPED not in result.stdout + result.stderr
        assert "does not exist or cannot be used" in result.stderr
        assert list(work.iterdir()) == []

    def test_a_missing_default_key_is_not_created(self, isolated_environment):
        """No installation key yet: a usage error naming the fix; none is made."""
        result = run_cli("audit", "public-key")
        assert result.returncode == 2
        assert "the journal creates it when it first writes" in result.stderr
        assert not list(isolated_environment.rglob("journal.key"))

    def test_an_existing_key_prints_its_public_half(self, tmp_path, signing_key, public_key_file):
        """The key the journal made: its public key in PEM, as `audit verify --key` takes."""
        result = run_cli(
            "audit", "public-key", "--signing-key", str(tmp_path / "keys" / "journal.key")
        )
        assert result.returncode == 0
        assert result.stdout == public_key_file.read_text()
