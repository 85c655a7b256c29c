"""The benchmarks run (smoke runs only: timings are reported, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _quick_run(script: str, *, timeout: int) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.server
def test_cache_hit_benchmark_runs_against_moto():
    """bench_cache_hit.py --quick completes and reports every candidate with a ratio."""
    result = _quick_run("bench_cache_hit.py", timeout=120)
    rows = {line.rsplit(None, 2)[0]: line.split()[-2:] for line in result.stdout.splitlines()[2:]}
    assert set(rows) == {
        "abstractcore-secrets get_api_key (cached)",
        "abstractcore-secrets resolve (cached)",
        "dict lookup",
        "os.environ.get",
        "aws-secretsmanager-caching get_secret_string (hit)",
    }
    assert all(float(nanoseconds) > 0 for nanoseconds, _ in rows.values())


@pytest.mark.server
def test_sources_benchmark_runs_against_the_servers():
    """bench_sources.py --quick measures every source and every fault scenario."""
    result = _quick_run("bench_sources.py", timeout=300)
    for label in (
        "vault (ours)",
        "aws (ours)",
        "azure (ours)",
        "env (ours)",
        "failover",
        "recovery",
        "deadline",
    ):
        assert label in result.stdout
    assert "served by config" in result.stdout


@pytest.mark.server
def test_telemetry_benchmark_runs():
    """bench_telemetry.py --quick measures every candidate, collector up and down."""
    result = _quick_run("bench_telemetry.py", timeout=600)
    for label in (
        "cached, no middleware",
        "cached, full telemetry, collector up",
        "cached, full telemetry, collector down",
        "bare OTel span",
        "aws-secretsmanager-caching hit",
    ):
        assert label in result.stdout


def test_journal_benchmark_runs():
    """bench_journal.py --quick measures appends, verification and exports."""
    result = _quick_run("bench_journal.py", timeout=300)
    for label in ("fsync batched", "fsync every record", "x hashlib", "export ocsf", "export csv"):
        assert label in result.stdout


def test_redaction_learning_benchmark_runs():
    """bench_redaction_learn.py --quick measures learning and scrubbing, before and now."""
    result = _quick_run("bench_redaction_learn.py", timeout=120)
    for label in ("learn value #1", "learn value #256", "scrub 4 KiB"):
        assert label in result.stdout


def test_redaction_scrub_benchmark_runs():
    """bench_redaction_scrub.py --quick scrubs each log text with 0 to 256 values learnt."""
    result = _quick_run("bench_redaction_scrub.py", timeout=300)
    for label in ("INFO, no secret", "10 KB body, no secret", "line with a key", "256 values"):
        assert label in result.stdout


@pytest.mark.server
def test_hot_path_benchmark_runs_every_case():
    """bench_hot_path.py --quick measures every case, the peer and the imports, with targets."""
    result = _quick_run("bench_hot_path.py", timeout=600)
    for case in (
        "os.environ.get",
        "build_secrets_manager(), nothing configured",
        "full telemetry over OTLP, collector down",
        "OpenBao read, uncached, full telemetry",
        "aws-secretsmanager-caching get_secret_string (hit)",
        "import abstractcore_secrets:",
        "sustained 10,000/s for 3 s",
    ):
        assert case in result.stdout
    # A status for each of the six targets of the table, the import time and the sustained
    # rate.
    assert len(re.findall(r"(?:at target|over)$", result.stdout, re.MULTILINE)) == 8
    assert "journal: yes, OTLP audit records: yes, resolutions counter: yes" in result.stdout
