"""The HTML audit report, rendered in headless Chromium and looked at as a picture."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from clirun import run_cli
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from abstractcore_secrets.audit.journal import Journal

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FOUND_GREEN = (0x59, 0xA1, 0x4F)
DENIED_RED = (0xE1, 0x57, 0x59)


def _event(hour, source, outcome, user, provider="openai", kind=None):
    return {
        "time": f"2026-11-28T{hour:02d}:15:00+00:00",
        "event": kind
        or {"found": "secret.resolved", "denied": "secret.denied", "error": "secret.error"}[
            outcome
        ],
        "provider": provider,
        "source": source,
        "outcome": outcome,
        "user": {"id": user},
    }


@pytest.fixture
def journal(tmp_path):
    path = tmp_path / "audit.jsonl"
    writer = Journal(path, Ed25519PrivateKey.generate())
    for hour in (9, 10, 11):
        for _ in range(hour - 6):
            writer(_event(hour, "vault", "found", "alice"))
        writer(_event(hour, "aws", "found", "bob", provider="groq"))
    writer(_event(10, None, "denied", "mallory"))
    writer(_event(11, None, "error", "bob"))
    writer(_event(11, "vault", "found", "alice", kind="secret.rotated"))
    writer.close()
    return path


def test_report_carries_the_data(journal, tmp_path):
    """Every chart's bars add up to the journal's counts; tables list pairs and rotations."""
    report = tmp_path / "report.html"
    result = run_cli("audit", "report", str(journal), "--output", str(report))
    assert result.returncode == 0, result.stderr
    page = report.read_text()
    sections = page.split("<section>")[1:]
    counts = [sum(int(c) for c in re.findall(r'data-count="(\d+)"', s)) for s in sections]
    assert counts[:4] == [17, 17, 2, 17]  # by source, by outcome, failures, principals
    assert "<td>alice</td><td>openai</td>" in page
    assert "<td>bob</td><td>groq</td>" in page
    assert "secret.rotated" not in page.split("Rotations")[0]
    assert "<td>2026-11-28T11:15:00+00:00</td><td>openai</td><td>vault</td>" in page


def test_report_renders_in_chromium(journal, tmp_path):
    """Headless Chromium draws the page: not blank, and the charts' colours are there."""
    assert CHROMIUM, "needs Debian's chromium: scripts/test.sh installs it (apt-get)"
    report = tmp_path / "report.html"
    run_cli("audit", "report", str(journal), "--output", str(report))
    screenshot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            "--window-size=1000,1400",
            f"file://{report}",
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    with Image.open(screenshot) as image:
        pixels = list(image.convert("RGB").get_flattened_data())
    non_white = sum(1 for p in pixels if p != (255, 255, 255))
    assert non_white > len(pixels) * 0.02
    assert sum(1 for p in pixels if p == FOUND_GREEN) > 200
    assert sum(1 for p in pixels if p == DENIED_RED) > 50
