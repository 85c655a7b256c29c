"""Sustained load: 8 processes x 100,000 resolutions, each audited in one shared journal.

The workers (tests/load_worker.py) build their manager as applications do, from a config
file whose ``secrets.audit`` turns the journal on in block mode (a key is served only once
its record is on disk), and all append to one journal file. The mix: keys from the
environment and from the config file, one shadowed by the other, the caller's explicit
keys, misses, and a key rotated in the config file half way. Every key is a canary.

Then: ``audit verify`` (in Python and on the command line) finds the journal intact; it
holds exactly one record per resolution, per worker, provider, source and outcome, and one
rotation event per worker; seqs are contiguous and no record or event appears twice; no
canary appears in the journal nor in anything the workers printed or logged.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from abstractcore_secrets import Fingerprinter
from abstractcore_secrets.audit.journal import CHECKPOINT, load_signing_key
from abstractcore_secrets.audit.verify import verify

WORKERS = 8
RESOLUTIONS = 100_000
"""Per worker; the issue asks for 8 x 100,000."""

WORKER = Path(__file__).with_name("load_worker.py")
ROTATED = "anthropic"
RESOLUTION_EVENTS = {"secret.resolved", "secret.not_found", "secret.denied", "secret.error"}
_ISOLATED_PREFIXES = ("ABSTRACTCORE_", "VAULT_", "AWS_", "AZURE_", "OTEL_")


def _canary(label: str) -> str:
    return f"sk-load-{label}-{secrets.token_hex(16)}"


@dataclass
class LoadRun:
    """What the workers said they did, and what the journal holds."""

    folder: Path
    journal: Path
    key_path: Path
    canaries: dict[str, str]
    fingerprints: dict[str, str]
    reports: list[dict[str, object]]
    outputs: list[Path]
    seconds: float
    records: Counter[tuple[int, str, str | None, str]] = field(default_factory=Counter)
    record_fingerprints: dict[tuple[str, str | None], set[str | None]] = field(default_factory=dict)
    rotations: Counter[tuple[int, str]] = field(default_factory=Counter)
    checkpoints: int = 0
    seqs: list[int] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    gaps_per_pid: dict[int, str] = field(default_factory=dict)
    leaks: list[str] = field(default_factory=list)


def _environment(folder: Path, config: Path, canaries: dict[str, str]) -> dict[str, str]:
    """The workers' environment: this one, minus the machine's keys, plus the planted ones."""
    # No coverage tracer in the workers either (``--cov`` passes it to child processes):
    # this measures the library; the unit tests cover the code the workers run.
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith((*_ISOLATED_PREFIXES, "COVERAGE_"))
        and not name.removesuffix("_FILE").endswith(("_API_KEY", "_TOKEN"))
    }
    return {
        **environ,
        "HOME": str(folder / "home"),
        "ABSTRACTCORE_HOME": str(folder / "home" / ".abstractcore"),
        "ABSTRACTCORE_CONFIG_FILE": str(config),
        "ABSTRACTCORE_SECRETS_FINGERPRINT_KEY": canaries["fingerprint-key"],
        "OPENAI_API_KEY": canaries["openai-env"],
        "HF_TOKEN": canaries["huggingface-env"],
        "GROQ_API_KEY": canaries["groq-env"],
        "LOAD_EXPLICIT_KEY": canaries["openrouter-explicit"],
        "LOAD_SIGNALS": str(folder / "signals"),
        "LOAD_EXPECTED": json.dumps(_expected(canaries)),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _expected(canaries: dict[str, str]) -> dict[str, dict[str, dict[str, str | None]]]:
    """Per phase (before and after the rotation), what each provider must resolve to."""
    before: dict[str, dict[str, str | None]] = {
        "openai": _answer(canaries["openai-env"], "env"),
        "huggingface": _answer(canaries["huggingface-env"], "env"),
        "groq": _answer(canaries["groq-env"], "env"),
        ROTATED: _answer(canaries[f"{ROTATED}-config-old"], "config"),
        "mistral": _answer(canaries["mistral-config"], "config"),
        "together.ai": _answer(None, None),
        "ollama": _answer(None, None),
        "openrouter": _answer(canaries["openrouter-explicit"], "explicit"),
    }
    after = {**before, ROTATED: _answer(canaries[f"{ROTATED}-config-new"], "config")}
    return {"before": before, "after": after}


def _answer(value: str | None, source: str | None) -> dict[str, str | None]:
    return {"value": value, "source": source, "outcome": "not_found" if value is None else "found"}


def _write_config(
    config: Path, journal: Path, canaries: dict[str, str], rotated: str, key_path: Path
) -> None:
    """Write the config file atomically, 0600, as the CLI does."""
    document = {
        "api_keys": {
            "groq": canaries["groq-config"],
            ROTATED: canaries[rotated],
            "mistral": canaries["mistral-config"],
        },
        "secrets": {
            "chain": ["env", "config"],
            "audit": {
                "journal": str(journal),
                "signing_key": str(key_path),
                "failure_mode": "block",
            },
        },
    }
    fresh = config.with_name(config.name + ".new")
    fresh.write_text(json.dumps(document))
    fresh.chmod(0o600)
    fresh.replace(config)


def run_load(folder: Path, workers: int, resolutions: int, profile: Path | None = None) -> LoadRun:
    """Run ``workers`` worker processes of ``resolutions`` each on one journal; read it back.

    Args:
        folder: An empty, private folder for the home, config file, journal and outputs.
        workers: How many worker processes.
        resolutions: Resolutions per worker.
        profile: Where the first worker writes cProfile statistics, if given.
    """
    canaries = {
        label: _canary(label)
        for label in (
            "fingerprint-key",
            "openai-env",
            "huggingface-env",
            "groq-env",
            "groq-config",
            f"{ROTATED}-config-old",
            f"{ROTATED}-config-new",
            "mistral-config",
            "openrouter-explicit",
        )
    }
    (folder / "home").mkdir(mode=0o700)
    (folder / "signals").mkdir()
    config = folder / "config" / "abstractcore.json"
    config.parent.mkdir(mode=0o700)
    journal = folder / "audit" / "audit.jsonl"
    key_path = folder / "keys" / "journal.key"
    key_path.parent.mkdir(mode=0o700)
    load_signing_key(key_path)  # created once here, not raced by the workers
    _write_config(config, journal, canaries, f"{ROTATED}-config-old", key_path)
    environ = _environment(folder, config, canaries)
    reports = [folder / f"report-{n}.json" for n in range(workers)]
    outputs = []
    processes = []
    started = time.perf_counter()
    for number in range(workers):
        command = [sys.executable, str(WORKER), str(resolutions), str(reports[number])]
        if profile is not None and number == 0:
            command += ["--profile", str(profile)]
        stdout, stderr = folder / f"worker-{number}.out", folder / f"worker-{number}.err"
        outputs += [stdout, stderr]
        with stdout.open("wb") as out, stderr.open("wb") as err:
            processes.append(
                subprocess.Popen(
                    command, env={**environ, "LOAD_WORKER": str(number)}, stdout=out, stderr=err
                )
            )
    try:
        signals = folder / "signals"
        while len(list(signals.glob("halfway-*"))) < workers:
            failed = [p.args for p in processes if p.poll() not in (None, 0)]
            assert not failed, _tails(outputs)
            time.sleep(0.01)
        _write_config(config, journal, canaries, f"{ROTATED}-config-new", key_path)
        (signals / "rotated").touch()
        codes = [process.wait(timeout=3600) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    seconds = time.perf_counter() - started
    assert codes == [0] * workers, _tails(outputs)
    fingerprinter = Fingerprinter(canaries["fingerprint-key"].encode())
    run = LoadRun(
        folder=folder,
        journal=journal,
        key_path=key_path,
        canaries=canaries,
        fingerprints={
            label: fingerprinter.fingerprint(value)
            for label, value in canaries.items()
            if label != "fingerprint-key"
        },
        reports=[json.loads(report.read_text()) for report in reports],
        outputs=outputs,
        seconds=seconds,
    )
    _read_journal(run)
    return run


def _tails(outputs: list[Path]) -> str:
    return "\n".join(f"{path.name}: {path.read_bytes()[-2000:]!r}" for path in outputs)


def _secret_parts(canaries: dict[str, str]) -> list[bytes]:
    """Each canary whole, and its random part alone (a leak with its prefix cut)."""
    return [
        part.encode() for value in canaries.values() for part in (value, value.rsplit("-", 1)[1])
    ]


def _read_journal(run: LoadRun) -> None:
    """Read the journal once, line by line: counts, seqs, duplicates, canaries."""
    needles = _secret_parts(run.canaries)
    # As numbers, to hold 800,000 of each in a fraction of the memory of their text.
    event_ids: set[int] = set()
    hashes: set[int] = set()
    event_seqs: dict[int, list[int]] = {}
    with run.journal.open("rb") as stream:
        for line in stream:
            for needle in needles:
                if needle in line:
                    run.leaks.append(f"{run.journal.name}:{len(run.seqs) + 1}")
            record = json.loads(line)
            run.seqs.append(record["seq"])
            digest = int(record["hash"], 16)
            if digest in hashes:
                run.duplicates.append(f"hash of seq {record['seq']}")
            hashes.add(digest)
            if record.get("type") == CHECKPOINT:
                run.checkpoints += 1
                continue
            event = record["event"]
            event_id = uuid.UUID(event["event_id"]).int
            if event_id in event_ids:
                run.duplicates.append(f"event {event['event_id']} (seq {record['seq']})")
            event_ids.add(event_id)
            pid = event["process.pid"]
            event_seqs.setdefault(pid, []).append(event["seq"])
            _count(run, pid, event)
    for pid, seqs in event_seqs.items():
        # Each process numbers its own events: a gap is an event lost, a repeat a duplicate.
        if sorted(seqs) != list(range(1, len(seqs) + 1)):
            run.gaps_per_pid[pid] = f"{len(seqs)} events, seqs {min(seqs)}..{max(seqs)}"
    _scan_outputs(run, needles)


def _count(run: LoadRun, pid: int, event: dict[str, object]) -> None:
    provider, source = str(event["provider"]), event["source"]
    assert source is None or isinstance(source, str)
    if event["event"] == "secret.rotated":
        run.rotations[pid, provider] += 1
    elif event["event"] in RESOLUTION_EVENTS:
        run.records[pid, provider, source, str(event["outcome"])] += 1
        prints = run.record_fingerprints.setdefault((provider, source), set())
        prints.add(event["fingerprint"])


def _scan_outputs(run: LoadRun, needles: list[bytes]) -> None:
    for path in run.outputs:
        with path.open("rb") as stream:
            for number, line in enumerate(stream, start=1):
                if any(needle in line for needle in needles):
                    run.leaks.append(f"{path.name}:{number}")


@pytest.fixture(scope="module")
def load_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadRun]:
    """Run the load once for every test of this module; delete the journal afterwards."""
    folder = tmp_path_factory.mktemp("load")
    folder.chmod(0o700)
    run = run_load(folder, WORKERS, RESOLUTIONS)
    # The figure CI logs keep (with -s); timings are never asserted.
    print(
        f"\nload: {WORKERS} x {RESOLUTIONS:,} resolutions in {run.seconds:.1f} s, "
        f"{WORKERS * RESOLUTIONS / run.seconds:,.0f} audited resolutions/s"
    )
    yield run
    shutil.rmtree(folder, ignore_errors=True)  # about 0.9 kB per record


@pytest.mark.timeout(3600)
class TestSustainedLoad:
    """8 processes x 100,000 resolutions through the real assembly, one journal, block mode."""

    def test_every_worker_did_all_its_resolutions(self, load_run):
        """Each worker resolved 100,000 times, every provider of the mix many times."""
        assert [r["resolutions"] for r in load_run.reports] == [RESOLUTIONS] * WORKERS
        assert len({r["pid"] for r in load_run.reports}) == WORKERS
        providers = Counter(key.split("|")[0] for r in load_run.reports for key in r["counts"])
        assert set(providers) == set(_expected(load_run.canaries)["before"])

    def test_the_journal_is_intact_for_the_python_api(self, load_run):
        """verify() finds every chain link, seq and checkpoint signature correct, all sealed."""
        public_key = load_signing_key(load_run.key_path).public_key()
        report = verify([load_run.journal], public_key)
        assert report.findings == []
        assert (report.intact, report.unsealed) == (True, 0)
        assert (report.records, report.checkpoints) == (len(load_run.seqs), load_run.checkpoints)

    def test_the_journal_is_intact_for_the_command_line(self, load_run):
        """``abstractcore-secrets audit verify --json`` exits 0 and says intact."""
        from cryptography.hazmat.primitives import serialization

        public_pem = load_run.folder / "journal.pub"
        public_pem.write_bytes(
            load_signing_key(load_run.key_path)
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        result = subprocess.run(
            [sys.executable, "-m", "abstractcore_secrets", "audit", "verify",
             str(load_run.journal), "--key", str(public_pem), "--json"],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )  # fmt: skip
        assert (result.returncode, result.stderr) == (0, "")
        said = json.loads(result.stdout)
        assert {
            key: said[key] for key in ("intact", "records", "checkpoints", "unsealed", "findings")
        } == {
            "intact": True,
            "records": len(load_run.seqs),
            "checkpoints": load_run.checkpoints,
            "unsealed": 0,
            "findings": [],
        }

    def test_one_record_per_resolution_by_worker_provider_source_and_outcome(self, load_run):
        """The journal holds exactly the resolutions each worker counted, no more, no fewer."""
        said = Counter()
        for report in load_run.reports:
            for key, count in report["counts"].items():
                provider, source, outcome = key.split("|")
                said[report["pid"], provider, None if source == "None" else source, outcome] += (
                    count
                )
        assert load_run.records == said
        assert _by(load_run.records, 3) == _by(said, 3)  # per outcome
        assert _by(load_run.records, 1) == _by(said, 1)  # per provider
        assert sum(load_run.records.values()) == WORKERS * RESOLUTIONS

    def test_each_worker_recorded_the_rotation_once(self, load_run):
        """Each process saw the config file's key change once and recorded it once."""
        pids = [report["pid"] for report in load_run.reports]
        assert [report["rotations"] for report in load_run.reports] == [1] * WORKERS
        assert load_run.rotations == Counter({(pid, ROTATED): 1 for pid in pids})

    def test_records_carry_the_fingerprints_of_the_served_keys(self, load_run):
        """Each provider and source shows the fingerprint of its canary; misses show none."""
        prints = load_run.fingerprints
        assert load_run.record_fingerprints == {
            ("openai", "env"): {prints["openai-env"]},
            ("huggingface", "env"): {prints["huggingface-env"]},
            ("groq", "env"): {prints["groq-env"]},
            (ROTATED, "config"): {prints[f"{ROTATED}-config-old"], prints[f"{ROTATED}-config-new"]},
            ("mistral", "config"): {prints["mistral-config"]},
            ("together.ai", None): {None},
            ("ollama", None): {None},
            ("openrouter", "explicit"): {prints["openrouter-explicit"]},
        }

    def test_seqs_are_contiguous_from_one(self, load_run):
        """The shared journal's seqs run 1, 2, 3, ... with no gap and no repeat."""
        seqs = load_run.seqs
        first_wrong = next((i for i, seq in enumerate(seqs, start=1) if seq != i), None)
        assert first_wrong is None, f"line {first_wrong}: seq {seqs[first_wrong - 1]}"

    def test_no_record_or_event_is_duplicated_or_lost(self, load_run):
        """No hash or event id appears twice; each process's event seqs run 1..n unbroken."""
        assert load_run.duplicates == []
        assert load_run.gaps_per_pid == {}

    def test_no_canary_in_the_journal_nor_in_what_the_workers_wrote(self, load_run):
        """No key, whole or without its prefix, in the journal, the workers' output or logs."""
        logs = [path for path in load_run.outputs if path.suffix == ".err"]
        # The scan is meaningful: every worker's log holds its audit events.
        assert all(b"secret.resolved" in path.read_bytes()[:100_000] for path in logs)
        assert load_run.leaks == []


def _by(counts: Counter[tuple[int, str, str | None, str]], index: int) -> Counter[object]:
    merged: Counter[object] = Counter()
    for key, count in counts.items():
        merged[key[index]] += count
    return merged
