"""The demo convinces only if what it says is what happened: each step's rows are checked
here against its proof, the output fits 100 columns, no key shows, and the script that runs
it installs nothing when nothing changed."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from clirun import run_cli

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def demo() -> str:
    result = run_cli("demo", timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warning, no stray log line
    return result.stdout


def _step(output: str, title: str) -> str:
    """The text of the step whose heading holds ``title``, up to the next heading."""
    match = re.search(rf"^-- \d+\. {re.escape(title)}.*?(?=^-- \d+\. |\Z)", output, re.S | re.M)
    assert match, f"no step {title!r}"
    return match.group(0)


def test_every_line_fits_100_columns(demo: str) -> None:
    too_long = [line for line in demo.splitlines() if len(line) > 100]
    assert too_long == []


def test_every_step_says_what_it_does_and_why_its_rows_prove_it(demo: str) -> None:
    steps = re.split(r"^-- \d+\. ", demo, flags=re.M)[1:]
    assert len(steps) == 10
    for step in steps:
        assert "\nProof: " in step, step.splitlines()[0]


def test_no_key_and_no_token_ever_shows(demo: str) -> None:
    # Every key and token the demo makes starts with one of these; fingerprints stand in.
    assert "demokey-" not in demo
    assert "demo-vault-token-" not in demo


def test_precedence_rows(demo: str) -> None:
    rows = _step(demo, "Precedence and provenance")
    for provider, source in (
        ("portkey", "explicit"),
        ("openai", "env"),
        ("huggingface", "env"),
        ("openrouter", "vault"),
        ("anthropic", "config"),
    ):
        assert re.search(rf"^{provider} +found +{source} ", rows, re.M), provider
    assert re.search(r"^mistral +not_found", rows, re.M)


def test_rotation_rows_change_fingerprint_only_after_invalidation(demo: str) -> None:
    rows = re.findall(r"^openrouter +found +vault +\S+ +([0-9a-f]{12}) +(yes|no)$", demo, re.M)
    first, cached, fetched = rows[:3]
    assert first[0] == cached[0] != fetched[0]
    assert (cached[1], fetched[1]) == ("yes", "no")


def test_outage_serves_the_last_key_marked_stale(demo: str) -> None:
    step = _step(demo, "An outage")
    stale = re.search(r"^openrouter +found +vault +\S+ +([0-9a-f]{12}) +yes +yes$", step, re.M)
    assert stale
    rotation = _step(demo, "Caching and rotation")
    assert stale.group(1) in rotation  # the rotated key, cached before the outage


def test_the_circuit_breaker_stops_calling_the_dead_source(demo: str) -> None:
    step = _step(demo, "Retries and the circuit breaker")
    assert "flaky source: found after 3 tries" in step
    calls = [int(c) for c in re.findall(r"^\d +error +unavailable +(\d+)$", step, re.M)]
    assert calls == [1, 2, 3, 3, 3]


def test_fail_closed_and_the_insecure_file(demo: str) -> None:
    assert re.search(r"^anthropic +denied", _step(demo, "Fail closed"), re.M)
    step = _step(demo, "A key file others can read")
    assert "has mode 0644" in step
    assert "chmod 600" in step
    assert re.search(r"^anthropic +found +config", step, re.M)


def test_a_rotated_key_reaches_the_running_client(demo: str) -> None:
    step = _step(demo, "A rotated key reaches a running client")
    requests = re.findall(r"^(\d) +/v1/chat/completions +(\d{3}) +([0-9a-f]{12})$", step, re.M)
    assert [(number, status) for number, status, _ in requests] == [
        ("1", "200"),
        ("2", "401"),
        ("3", "200"),
    ]
    assert requests[0][2] == requests[1][2] != requests[2][2]


def test_telemetry_is_received_with_no_key_in_it(demo: str) -> None:
    step = _step(demo, "Traces, metrics and audit events")
    assert len(re.findall(r"^secrets\.resolve +", step, re.M)) == 2
    assert len(re.findall(r"^secrets\.lookup +", step, re.M)) == 2
    assert "audit events received: secret.resolved, secret.resolved, secret.accessed" in step
    assert "resolutions counted by the metric: 3" in step
    assert re.search(r"bytes received hold the resolved keys 0 times", step)


def test_the_commands_show_the_failure_and_its_fix(demo: str) -> None:
    step = _step(demo, "The command line, with Vault down")
    assert "$ abstractcore-secrets status openai anthropic" in step
    assert "$ abstractcore-secrets doctor" in step
    assert step.count("degraded") >= 3
    assert "connection refused" in step
    assert "fix:" in step
    exits = re.findall(r"^\(exit code (\d+)\)$", step, re.M)
    assert exits[-1] != "0"  # doctor


def test_the_journal_detects_the_edit(demo: str) -> None:
    step = _step(demo, "The audit journal")
    assert re.search(r"^alice +openrouter +found +vault", step, re.M)
    assert "verify: intact=True" in step
    assert "after the edit: intact=False: edited" in step


def test_the_demo_script_installs_nothing_when_nothing_changed(tmp_path: Path) -> None:
    """A copy of the clone's script and metadata, with a venv stand-in: the second run
    finds its stamp and goes straight to the demo (here: the stand-in's command)."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    shutil.copy(ROOT / "scripts" / "demo.sh", scripts / "demo.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bin_folder = tmp_path / ".venv" / "bin"
    bin_folder.mkdir(parents=True)
    # The stand-in venv: "pip install" leaves a trace; the demo command prints its name.
    (bin_folder / "python").write_text('#!/bin/sh\necho "installing: $*" >> "$0.log"\n')
    (bin_folder / "abstractcore-secrets").write_text('#!/bin/sh\necho "demo ran: $*"\n')
    # The system's python3, which would make the venv: a stand-in too.
    system = tmp_path / "system"
    system.mkdir()
    (system / "python3").write_text(f'#!/bin/sh\necho "venv: $*" >> "{bin_folder}/python.log"\n')
    for command in (*bin_folder.iterdir(), system / "python3"):
        command.chmod(0o755)
    environment = {"PATH": f"{system}:/usr/bin:/bin"}

    def run() -> str:
        done = subprocess.run(
            ["bash", str(scripts / "demo.sh")],
            capture_output=True,
            text=True,
            env=environment,
            timeout=60,
            check=True,
        )
        return done.stdout

    # What the script stamps: the hash of pyproject.toml and itself, one after the other.
    files = (tmp_path / "pyproject.toml", scripts / "demo.sh")
    wanted = hashlib.sha256(b"".join(path.read_bytes() for path in files)).hexdigest()
    (tmp_path / ".venv" / ".demo-installed").write_text(wanted + "\n")
    assert run() == "demo ran: demo\n"
    assert not (bin_folder / "python.log").exists()  # nothing installed
    # pyproject.toml changed: the script installs again.
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + "\n# x\n")
    run()
    log = (bin_folder / "python.log").read_text()
    assert "venv: -m venv .venv" in log
    assert "installing: -m pip install" in log
    # Stamped again: the run after installs nothing more.
    (bin_folder / "python.log").unlink()
    run()
    assert not (bin_folder / "python.log").exists()
