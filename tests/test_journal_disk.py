"""The journal's file under pressure: a full disk in block mode, and deletion while running.

A full disk is simulated without root: the writer runs in a child process with
``RLIMIT_FSIZE`` just above the journal's size and SIGXFSZ ignored, so that writes past it
fail with EFBIG (after a short write of what fits), as on a full disk; the limit is then
lifted, as when space returns. Deletion is done by another process while the writer runs.
"""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import sys

import pytest

from abstractcore_secrets.audit.journal import (
    CHECKPOINT,
    VANISHED,
    Journal,
    load_signing_key,
)
from abstractcore_secrets.audit.verify import verify


@pytest.fixture
def key_path(tmp_path):
    path = tmp_path / "keys" / "journal.key"
    load_signing_key(path)
    return path


def _records(path):
    return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def _events(path):
    return [r["event"] for r in _records(path) if "event" in r]


class TestFullDiskInBlockMode:
    @pytest.mark.parametrize("room", [0, 100], ids=["nothing-fits", "a-short-write"])
    def test_a_denied_record_never_reaches_the_file_later(self, tmp_path, key_path, room):
        """Denied while the disk is full; when space returns, later records are written and
        the denied resolution never appears as served; the chain stays valid."""
        path = tmp_path / "journal" / "audit.jsonl"
        result = subprocess.run(
            [sys.executable, "-c", _FULL_DISK_WRITER, str(path), str(key_path), str(room)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "while_full": "denied",
            "error": "AuditUnavailableError",
            "size_unchanged": True,
            "after": "found",
        }
        events = _events(path)
        assert [(e["provider"], e["outcome"]) for e in events] == [
            ("groq", "found"),
            ("groq", "found"),
        ]
        report = verify([path], load_signing_key(key_path).public_key())
        assert report.intact, [str(f) for f in report.findings]

    def test_a_failed_append_raises_and_leaves_the_file_as_it_was(self, tmp_path, key_path):
        """The journal alone: EFBIG on append raises OSError and cuts back any partial line."""
        path = tmp_path / "audit.jsonl"
        result = subprocess.run(
            [sys.executable, "-c", _FAILED_APPEND, str(path), str(key_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"errno": "EFBIG", "size_unchanged": True}
        assert [e["provider"] for e in _events(path)] == ["before", "after"]
        assert verify([path], load_signing_key(key_path).public_key()).intact


class TestDeletedWhileRunning:
    @pytest.mark.parametrize("what", ["file", "folder"])
    def test_the_journal_is_recreated_with_a_vanished_record(
        self, tmp_path, key_path, caplog, what
    ):
        """Another process deletes the journal (or its folder): the next append recreates
        it, 0600 in a 0700 folder, starting with a record naming the last seq and hash."""
        folder = tmp_path / "journal"
        path = folder / "audit.jsonl"
        alarms = []
        journal = Journal(
            path, load_signing_key(key_path), checkpoint_every=100, on_alarm=alarms.append
        )
        for number in range(3):
            journal({"event": "secret.resolved", "provider": f"before{number}"})
        last = _records(path)[-1]
        target = path if what == "file" else folder
        _run(_DELETE, str(target))
        with caplog.at_level(logging.ERROR):
            journal({"event": "secret.resolved", "provider": "after"})
        journal.close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        records = _records(path)
        first = {k: v for k, v in records[0].items() if k != "hash"}
        assert first == {
            "type": VANISHED,
            "previous_seq": last["seq"],
            "previous_hash": last["hash"],
            "seq": last["seq"] + 1,
            "prev": last["hash"],
        }
        assert [r.get("type") or r["event"]["provider"] for r in records[1:]] == [
            "after",
            CHECKPOINT,
        ]
        assert [r.levelname for r in caplog.records] == ["ERROR"]
        assert "deleted while this writer ran" in caplog.records[0].getMessage()
        assert [a["event"] for a in alarms] == ["audit.alarm"]
        report = verify([path], load_signing_key(key_path).public_key())
        assert (report.intact, report.alarms, report.records, report.checkpoints) == (
            False,
            1,
            3,
            1,
        )
        assert [f.problem.split(";")[0] for f in report.findings] == [
            "alarm: the journal file was deleted while its writer ran"
        ]

    def test_a_second_writer_follows_the_recreated_file(self, tmp_path, key_path):
        """Two writers: the first to append recreates the file, the other continues it."""
        path = tmp_path / "audit.jsonl"
        key = load_signing_key(key_path)
        first = Journal(path, key, checkpoint_every=100)
        second = Journal(path, key, checkpoint_every=100)
        first({"event": "secret.resolved", "provider": "one"})
        second({"event": "secret.resolved", "provider": "two"})
        _run(_DELETE, str(path))
        first({"event": "secret.resolved", "provider": "three"})
        second({"event": "secret.resolved", "provider": "four"})
        first.close()
        second.close()
        records = _records(path)
        assert [r.get("type") for r in records].count(VANISHED) == 1
        assert [e["provider"] for e in _events(path)] == ["three", "four"]
        report = verify([path], key.public_key())
        assert (report.alarms, report.unsealed) == (1, 0)


def _run(script, *arguments):
    subprocess.run([sys.executable, "-c", script, *arguments], check=True, timeout=60)


_DELETE = """
import shutil, sys
from pathlib import Path
target = Path(sys.argv[1])
shutil.rmtree(target) if target.is_dir() else target.unlink()
"""

_FULL_DISK_WRITER = """
import json, resource, signal, sys, warnings
from pathlib import Path
from abstractcore_secrets import SecretsManager
from abstractcore_secrets.audit import AuditMiddleware
from abstractcore_secrets.audit.journal import Journal, load_signing_key
from abstractcore_secrets._fingerprint import Fingerprinter
from abstractcore_secrets.testing import InMemorySecretProvider

warnings.simplefilter("ignore")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
path, key_path, room = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
fingerprinter = Fingerprinter(b"test-fingerprint-key-0123456789")
journal = Journal(path, load_signing_key(key_path), fsync="always")
manager = SecretsManager(
    [InMemorySecretProvider({"openai": "sk-denied-0123456789", "groq": "gsk-served-012345"})],
    middleware=[AuditMiddleware([journal], failure_mode="block", fingerprinter=fingerprinter)],
    cache=None,
    fingerprinter=fingerprinter,
)
manager.resolve("groq")
size = path.stat().st_size
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + room, hard))  # the disk is full
denied = manager.resolve("openai")
unchanged = path.stat().st_size == size
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space returns
after = manager.resolve("groq")
journal.close()
print(json.dumps({
    "while_full": denied.outcome.value,
    "error": type(denied.error).__name__,
    "size_unchanged": unchanged,
    "after": after.outcome.value,
}))
"""

_FAILED_APPEND = """
import errno, json, resource, signal, sys
from pathlib import Path
from abstractcore_secrets.audit.journal import Journal, load_signing_key

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
path, key_path = Path(sys.argv[1]), Path(sys.argv[2])
journal = Journal(path, load_signing_key(key_path), fsync="always")
journal({"event": "secret.resolved", "provider": "before"})
size = path.stat().st_size
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, hard))
try:
    journal({"event": "secret.resolved", "provider": "lost", "pad": "x" * 200})
except OSError as error:
    code = errno.errorcode[error.errno]
unchanged = path.stat().st_size == size
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
journal({"event": "secret.resolved", "provider": "after"})
journal.close()
print(json.dumps({"errno": code, "size_unchanged": unchanged}))
"""
