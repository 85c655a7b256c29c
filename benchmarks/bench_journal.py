"""Audit journal: append throughput, verification speed, and export speed.

- appends per second with batched fsync and with an fsync per record;
- verification time as a multiple of SHA-256 over the same bytes with hashlib (the floor);
- export of a journal of 1,000,000 records to OCSF and to CSV, records per second.

Run: ``python benchmarks/bench_journal.py`` (``--quick`` for a smoke run: 10,000 records).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import tempfile
import time
from pathlib import Path

EVENT = {
    "time": "2026-11-28T12:00:00.000000+00:00",
    "event": "secret.resolved",
    "provider": "openai",
    "source": "vault",
    "outcome": "found",
    "stale": False,
    "cache_hit": True,
    "attempts": [],
    "locator": "vault:secret/abstractcore#openai",
    "version": "3",
    "fingerprint": "hmac-sha256:" + "a" * 64,
    "user": {"id": "alice", "os_user": "svc"},
    "service.name": "bench",
    "host.name": "host-1",
    "process.pid": 4242,
    "trace_id": "b" * 32,
    "span_id": "c" * 16,
    "source_request_id": "d" * 36,
    "duration_ms": 0.004,
    "error.type": None,
    "error.message": None,
}


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def main() -> None:
    """Measure and print."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from abstractcore_secrets.audit.exports import export
    from abstractcore_secrets.audit.journal import Journal
    from abstractcore_secrets.audit.verify import verify

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    quick = parser.parse_args().quick
    batched_n, synced_n, export_n = (2_000, 200, 10_000) if quick else (50_000, 2_000, 1_000_000)
    folder = Path(tempfile.mkdtemp(prefix="bench-journal-"))
    key = Ed25519PrivateKey.generate()
    try:
        rates = {}
        for fsync, count in (("batch", batched_n), ("always", synced_n)):
            journal = Journal(folder / f"{fsync}.jsonl", key, fsync=fsync)
            started = time.perf_counter()
            for _ in range(count):
                journal(EVENT)
            journal.close()
            rates[fsync] = count / (time.perf_counter() - started)
        print(f"append, fsync batched (checkpoint every 1000): {rates['batch']:10,.0f} records/s")
        print(f"append, fsync every record:                    {rates['always']:10,.0f} records/s")

        big = folder / "big.jsonl"
        journal = Journal(big, key, checkpoint_every=10_000)
        for _ in range(export_n):
            journal(EVENT)
        journal.close()
        size = big.stat().st_size
        started = time.perf_counter()
        report = verify([big], key.public_key())
        verifying = time.perf_counter() - started
        assert report.intact
        started = time.perf_counter()
        digest = hashlib.sha256()
        with big.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        hashing = time.perf_counter() - started
        print(f"journal: {export_n:,} records, {size / 1e6:,.0f} MB")
        print(
            f"verify: {verifying:7.2f} s, {export_n / verifying:10,.0f} records/s, "
            f"{verifying / hashing:6.1f} x hashlib SHA-256 of the same bytes ({hashing:.2f} s)"
        )
        for fmt in ("ocsf", "csv"):
            started = time.perf_counter()
            count = export([big], fmt, _Discard())
            elapsed = time.perf_counter() - started
            print(f"export {fmt:4}: {elapsed:7.2f} s, {count / elapsed:10,.0f} records/s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
