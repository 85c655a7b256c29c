"""The audit journal: every kind of tampering is found and located; crashes leave it valid."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from abstractcore_secrets.audit.journal import Journal, canonical, load_signing_key, record_hash
from abstractcore_secrets.audit.verify import verify


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


def _write(path, key, count=10, every=4):
    journal = Journal(path, key, checkpoint_every=every)
    for number in range(count):
        journal({"event": "secret.resolved", "provider": f"p{number}"})
    journal.close()


def _lines(path):
    return path.read_bytes().splitlines()


def _rewrite(path, lines):
    path.write_bytes(b"\n".join(lines) + b"\n")


class TestJournal:
    def test_intact_journal_verifies(self, tmp_path, key):
        """Ten events, checkpoints every four records and at close: intact."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        report = verify([path], key.public_key())
        assert (report.intact, report.records, report.checkpoints) == (True, 13, 3)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        first = json.loads(_lines(path)[0])
        assert first["prev"] == "0" * 64
        assert first["hash"] == record_hash(first)

    @pytest.mark.parametrize(
        ("tamper", "line", "problem"),
        [
            ("edit", 3, "edited"),
            ("delete", 3, "records deleted before it"),
            ("reorder", 2, "expected seq 2"),
            ("insert", 3, "does not chain"),
            ("forge-checkpoint", 5, "forged checkpoint"),
            ("rehash-edit", 3, "does not chain"),
        ],
    )
    def test_tampering_is_found_and_located(self, tmp_path, key, tamper, line, problem):
        """Each kind of tampering is reported at the first record it touches."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        lines = _lines(path)
        records = [json.loads(raw) for raw in lines]
        if tamper == "edit":
            lines[2] = lines[2].replace(b"p2", b"px")
        elif tamper == "delete":
            del lines[2]
        elif tamper == "reorder":
            lines[1], lines[2] = lines[2], lines[1]
        elif tamper == "insert":
            forged = {**records[1], "seq": 3}
            forged["hash"] = record_hash(forged)
            lines.insert(2, canonical(forged))
        elif tamper == "forge-checkpoint":
            other = Ed25519PrivateKey.generate()
            checkpoint = records[4]
            checkpoint["signature"] = other.sign(bytes.fromhex(checkpoint["head"])).hex()
            checkpoint["hash"] = record_hash(checkpoint)
            lines[4] = canonical(checkpoint)
        else:  # an edit whose hash was recomputed: the next record no longer chains
            edited = {**records[2], "event": {"event": "secret.resolved", "provider": "px"}}
            edited["hash"] = record_hash(edited)
            lines[2] = canonical(edited)
        _rewrite(path, lines)
        report = verify([path], key.public_key())
        assert not report.intact
        finding = report.findings[0]
        assert finding.line == line + (1 if tamper == "rehash-edit" else 0)
        assert problem in finding.problem

    def test_truncation_after_the_last_checkpoint_is_reported(self, tmp_path, key):
        """Cutting the final checkpoint leaves unsealed records: not intact, and said so."""
        path = tmp_path / "audit.jsonl"
        _write(path, key)
        _rewrite(path, _lines(path)[:-1])
        report = verify([path], key.public_key())
        assert (report.intact, report.unsealed) == (False, 3)
        assert "not sealed" in report.findings[0].problem

    @pytest.mark.parametrize("max_bytes", [None, 15_000], ids=["one-file", "rotating"])
    def test_threads_and_processes_share_one_chain(self, tmp_path, key, max_bytes):
        """Four processes of four threads append to one journal; one intact chain results."""
        path = tmp_path / "audit.jsonl"
        key_path = tmp_path / "journal.key"
        load_signing_key(key_path)
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(target=_append_many, args=(str(path), str(key_path), n, max_bytes))
            for n in range(4)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        assert [p.exitcode for p in processes] == [0, 0, 0, 0]
        files = sorted(tmp_path.glob("audit.jsonl*"))
        report = verify(files, load_signing_key(key_path).public_key())
        assert report.intact, [str(f) for f in report.findings]
        events = [json.loads(line) for f in files for line in _lines(f)]
        assert sum(1 for e in events if "event" in e) == 4 * 4 * 25
        assert (len(files) > 2) is (max_bytes is not None)

    def test_kill_9_mid_write_leaves_a_journal_valid_to_its_last_record(self, tmp_path):
        """A writer killed while appending: every complete record still verifies."""
        path = tmp_path / "audit.jsonl"
        key_path = tmp_path / "journal.key"
        writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path), str(key_path)])
        deadline = time.monotonic() + 30
        while (not path.exists() or path.stat().st_size < 200_000) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        report = verify([path], load_signing_key(key_path).public_key())
        problems = [f.problem for f in report.findings]
        assert report.records > 100
        assert all("not sealed" in p or "torn" in p for p in problems), problems
        # The next writer cuts a torn last line and chains on from the last whole record.
        journal = Journal(path, load_signing_key(key_path))
        journal({"event": "after-crash"})
        journal.close()
        assert verify([path], load_signing_key(key_path).public_key()).intact


_KILLED_WRITER = """
import sys
from pathlib import Path
from abstractcore_secrets.audit.journal import Journal, load_signing_key
journal = Journal(sys.argv[1], load_signing_key(Path(sys.argv[2])), checkpoint_every=50)
while True:
    journal({"event": "secret.resolved", "provider": "openai", "pad": "x" * 200})
"""


def _append_many(path, key_path, number, max_bytes=None):
    import threading
    from pathlib import Path

    journal = Journal(
        path, load_signing_key(Path(key_path)), checkpoint_every=30, max_bytes=max_bytes
    )

    def work():
        for index in range(25):
            journal({"event": "secret.resolved", "provider": f"w{number}-{index}"})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()


class TestFailClosed:
    def _manager(self, journal, mode, fingerprinter):
        from abstractcore_secrets import SecretsManager
        from abstractcore_secrets.audit import AuditMiddleware
        from abstractcore_secrets.testing import InMemorySecretProvider

        audit = AuditMiddleware([journal], failure_mode=mode, fingerprinter=fingerprinter)
        return SecretsManager(
            [InMemorySecretProvider({"openai": "sk-journaled"})],
            middleware=[audit],
            cache=None,
            fingerprinter=fingerprinter,
        )

    def test_full_destination_blocks_resolutions(self, key, fingerprinter):
        """Journal on a full device (/dev/full): block mode denies, naming the fix."""
        from abstractcore_secrets.audit._middleware import (
            AuditFailureWarning,
            AuditUnavailableError,
        )

        journal = Journal("/dev/full", key, fsync="always")
        manager = self._manager(journal, "block", fingerprinter)
        with pytest.warns(AuditFailureWarning, match="'journal' failed \\(OSError\\)"):
            resolution = manager.resolve("openai")
        assert (resolution.outcome.value, resolution.value) == ("denied", None)
        assert isinstance(resolution.error, AuditUnavailableError)
        assert "audit_failure_mode='warn'" in str(resolution.error)
        with pytest.warns(AuditFailureWarning), pytest.raises(PermissionError):
            manager.get_api_key("openai")
        with contextlib.suppress(OSError):
            journal.close()

    def test_warn_mode_proceeds_and_says_so(self, key, fingerprinter):
        """Warn mode serves the key and warns: never a silent drop."""
        from abstractcore_secrets.audit._middleware import AuditFailureWarning

        journal = Journal("/dev/full", key)
        manager = self._manager(journal, "warn", fingerprinter)
        with pytest.warns(AuditFailureWarning):
            assert manager.get_api_key("openai") == "sk-journaled"
        with contextlib.suppress(OSError):
            journal.close()

    def test_block_mode_needs_a_journal_that_syncs_each_record(self, tmp_path, key):
        """Block without a journal, or with batched fsync, is refused: it cannot keep its word."""
        from abstractcore_secrets import ConfigurationError
        from abstractcore_secrets.audit import AuditMiddleware

        with pytest.raises(ConfigurationError, match="needs a durable sink"):
            AuditMiddleware([], failure_mode="block")
        batched = Journal(tmp_path / "a.jsonl", key)
        with pytest.raises(ConfigurationError, match="needs fsync='always'"):
            AuditMiddleware([batched], failure_mode="block")
        batched.close()

    def test_unwritable_destination_fails_at_open(self, tmp_path, key):
        """A journal folder that cannot be written is an error at construction."""
        blocked = tmp_path / "a-file"
        blocked.write_text("")
        with pytest.raises(OSError, match=r"Not a directory|File exists"):
            Journal(blocked / "audit.jsonl", key)


class TestRotation:
    def test_rotation_carries_the_chain_across_files(self, tmp_path, key):
        """Size rotation: sealed files plus the live one verify as one chain, in any order."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, key, checkpoint_every=50, max_bytes=20_000)
        for number in range(400):
            journal({"event": "secret.resolved", "provider": f"p{number}", "pad": "x" * 60})
        journal.close()
        files = sorted(tmp_path.glob("audit.jsonl*"))
        assert len(files) > 3
        report = verify(list(reversed(files)), key.public_key())
        assert report.intact, [str(f) for f in report.findings]
        events = sum(1 for f in files for line in _lines(f) if b'"event":{' in line)
        assert events == 400

    def test_a_missing_rotated_file_is_found(self, tmp_path, key):
        """Removing a sealed file in the middle breaks the chain where the next one starts."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, key, checkpoint_every=50, max_bytes=20_000)
        for number in range(400):
            journal({"event": "secret.resolved", "provider": f"p{number}", "pad": "x" * 60})
        journal.close()
        archives = sorted(tmp_path.glob("audit.jsonl.*"))
        archives[1].unlink()
        report = verify(sorted(tmp_path.glob("audit.jsonl*")), key.public_key())
        assert not report.intact
        assert "deleted" in report.findings[0].problem


class TestRecovery:
    def test_records_longer_than_the_tail_window_keep_the_chain(self, tmp_path, key):
        """A 200 KB record (a long error message) does not restart the chain at seq 1."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, key)
        journal({"event": "secret.error", "error.message": "x" * 200_000})
        journal({"event": "secret.resolved"})
        journal.close()
        assert verify([path], key.public_key()).intact
        assert [json.loads(line)["seq"] for line in _lines(path)] == [1, 2, 3]

    def test_a_long_torn_line_is_cut_alone(self, tmp_path, key):
        """A torn line longer than the tail window: only it is cut, not the journal."""
        path = tmp_path / "audit.jsonl"
        _write(path, key, count=20)
        size = path.stat().st_size
        with path.open("ab") as stream:
            stream.write(b'{"event":' + b"y" * 100_000)  # torn by a crash
        journal = Journal(path, key)
        journal({"event": "after"})
        journal.close()
        assert path.stat().st_size > size
        assert verify([path], key.public_key()).intact

    def test_rotation_recovers_from_a_crash_between_link_and_switch(self, tmp_path, key):
        """An archive already linked and a leftover .next file do not stop rotation."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, key, max_bytes=5_000)
        journal({"event": "first"})
        os.link(path, tmp_path / "audit.jsonl.000000000001")  # what the crashed rotation did
        (tmp_path / ".audit.jsonl.next").write_bytes(b"half written")
        for number in range(100):
            journal({"event": "secret.resolved", "n": number, "pad": "z" * 80})
        journal.close()
        files = sorted(tmp_path.glob("audit.jsonl*"))
        assert len(files) > 2
        assert verify(files, key.public_key()).intact

    def test_several_journals_are_verified_each_on_its_own(self, tmp_path, key):
        """Two hosts' rotated journals verified together: each chain on its own, all intact."""
        for host in ("host-a", "host-b"):
            folder = tmp_path / host
            folder.mkdir()
            journal = Journal(folder / "audit.jsonl", key, max_bytes=5_000)
            for number in range(60):
                journal({"event": "secret.resolved", "n": number, "pad": "h" * 80})
            journal.close()
        files = sorted(tmp_path.glob("*/audit.jsonl*"))
        report = verify(files + files[:1], key.public_key())  # one file given twice too
        assert report.intact, [str(f) for f in report.findings]


class TestSigningKeyMode:
    """Whoever reads the signing key can forge checkpoints: it is refused like a key file."""

    def test_a_readable_signing_key_is_refused(self, tmp_path):
        """A group-readable key stops the journal with the chmod that fixes it."""
        from abstractcore_secrets.errors import InsecureFileError

        path = tmp_path / "journal.key"
        load_signing_key(path)  # created 0600
        path.chmod(0o640)
        with pytest.raises(InsecureFileError, match=f"chmod 600 {path}"):
            load_signing_key(path)

    def test_a_created_key_is_private(self, tmp_path):
        """A key the journal creates is 0600, and so loads again."""
        path = tmp_path / "fresh" / "journal.key"
        load_signing_key(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_signing_key(path) is not None
