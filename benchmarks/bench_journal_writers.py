"""Audit journal: appends per second when several processes share one journal.

Each process appends the same event to one journal file with ``fsync="always"`` (what
block mode requires); the figure is the total of all processes. A second row does the same
with raw ``os.write`` + ``os.fsync`` under an exclusive ``flock``, and a third with the
``fsync`` after the ``flock`` is released (group commit): the disk's ceilings for each way
of locking, with no journal code.

Run: ``python benchmarks/bench_journal_writers.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import fcntl
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

EVENT = {
    "time": "2026-11-28T12:00:00.000000+00:00",
    "event": "secret.resolved",
    "provider": "openai",
    "source": "env",
    "outcome": "found",
    "stale": False,
    "cache_hit": False,
    "attempts": [
        {"source": "env", "outcome": "found", "error_type": None, "tries": 1, "duration_ms": 0.03}
    ],
    "locator": "env:OPENAI_API_KEY",
    "version": None,
    "fingerprint": "hmac-sha256:" + "a" * 64,
    "user": {"id": None, "os_user": "svc"},
    "service.name": "bench",
    "host.name": "host-1",
    "process.pid": 4242,
    "trace_id": None,
    "span_id": None,
    "source_request_id": None,
    "duration_ms": 0.3,
    "error.type": None,
    "error.message": None,
}
LINE = b"x" * 900 + b"\n"  # about one record


def _journal_writer(count: int, start: object, path: str, key_path: str) -> None:
    from abstractcore_secrets.audit.journal import Journal, load_signing_key

    journal = Journal(path, load_signing_key(Path(key_path)), fsync="always")
    start.wait()  # type: ignore[attr-defined]
    for _ in range(count):
        journal(EVENT)
    journal.close()


def _raw_writer(count: int, start: object, path: str, sync_outside: bool) -> None:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    start.wait()  # type: ignore[attr-defined]
    for _ in range(count):
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.write(descriptor, LINE)
        if not sync_outside:
            os.fsync(descriptor)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        if sync_outside:
            os.fsync(descriptor)
    os.close(descriptor)


def _rate(target: object, processes: int, count: int, *args: object) -> float:
    """Start ``processes`` writers, release them together; return appends per second."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=target, args=(count, start, *args)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # let every writer import and open the journal
    started = time.perf_counter()
    start.set()
    for worker in workers:
        worker.join()
    assert all(worker.exitcode == 0 for worker in workers)
    return processes * count / (time.perf_counter() - started)


def main() -> None:
    """Measure and print."""
    from abstractcore_secrets.audit.journal import load_signing_key

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    quick = parser.parse_args().quick
    count = 100 if quick else 2_000
    folder = Path(tempfile.mkdtemp(prefix="bench-journal-writers-"))
    key_path = folder / "keys" / "journal.key"
    key_path.parent.mkdir(mode=0o700)
    load_signing_key(key_path)
    try:
        print(f"{'writers':>7} {'Journal':>12} {'raw, in lock':>12} {'raw, after':>12}")
        for processes in (1, 2, 4, 8):
            journal = str(folder / f"journal-{processes}.jsonl")
            rates = [
                _rate(_journal_writer, processes, count, journal, str(key_path)),
                _rate(_raw_writer, processes, count, str(folder / f"in-{processes}"), False),
                _rate(_raw_writer, processes, count, str(folder / f"out-{processes}"), True),
            ]
            print(f"{processes:>7} " + " ".join(f"{rate:>10,.0f}/s" for rate in rates))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
