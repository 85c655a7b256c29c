"""A sustained rate with full telemetry and the journal, and what it leaves: the test's and
the hot-path benchmark's run (tests/test_sustained_load.py, benchmarks/bench_hot_path.py).

:func:`run_sustained` starts a real OTLP receiver, writes a config file, and runs this module
as the application, in a child process (``python -m abstractcore_secrets.testing._sustained``).

It sets up full telemetry over OTLP (``configure_telemetry``) to the receiver the test runs,
builds the manager from the config file the test wrote (the audit journal in batch mode,
hits summarised: the defaults), and resolves at a paced rate for a number of seconds: 100
resolutions every 10 ms. The mix: keys from the environment and from the config file
(cached), misses, the caller's explicit keys, three principals, and one key changed in the
environment half way. Then it closes the manager and the telemetry, and prints (JSON) what
it did: resolutions by provider, source and outcome, the misses that went to the sources,
the rate it kept, and every log record the OpenTelemetry SDK wrote about dropping anything.

The child: ``python -m abstractcore_secrets.testing._sustained SECONDS RATE``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = 0.01
"""Seconds between batches: the rate is kept per tick, not per second."""

MIX = (
    ("openai", None),  # env, changed half way
    ("groq", None),  # env
    ("mistral", None),  # config file
    ("openai", None),
    ("groq", None),
    ("openai", None),
    ("mistral", None),
    ("groq", None),
    ("openai", None),
    ("groq", None),
    ("openai", None),
    ("groq", None),
    ("openai", None),
    ("mistral", None),
    ("openai", None),
    ("groq", None),
    ("openai", None),
    ("groq", None),
    ("together.ai", None),  # nowhere: a miss, an event of its own each time
    ("openrouter", "SUSTAINED_EXPLICIT_KEY"),  # the caller's explicit key: an event each
)
PRINCIPALS = ("alice", "bob", "carol")


class _DropRecorder(logging.Handler):
    """Keep what the SDK says about dropping or failing to export anything."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:200])


def main() -> None:
    """The child: resolve at the rate for the duration; report."""
    seconds, rate = float(sys.argv[1]), int(sys.argv[2])
    sdk_warnings = _DropRecorder()
    logging.getLogger("opentelemetry").addHandler(sdk_warnings)
    logging.getLogger("abstractcore_secrets").addHandler(sdk_warnings)

    from abstractcore_secrets import build_secrets_manager
    from abstractcore_secrets.audit import principal
    from abstractcore_secrets.telemetry import configure_telemetry

    telemetry = configure_telemetry(
        "sustained", protocol="http/protobuf", metric_interval_millis=1000
    )
    manager = build_secrets_manager(telemetry=telemetry)
    per_tick = max(1, round(rate * TICK))
    ticks = round(seconds / TICK)
    done: Counter[str] = Counter()
    fetched = 0
    started = time.monotonic()
    for tick in range(ticks):
        if tick == ticks // 2:
            os.environ["OPENAI_API_KEY"] = os.environ["SUSTAINED_OPENAI_ROTATED"]
        with principal(PRINCIPALS[tick % len(PRINCIPALS)]):
            for index in range(per_tick):
                provider, explicit = MIX[(tick * per_tick + index) % len(MIX)]
                key = os.environ[explicit] if explicit else None
                resolution = manager.resolve(provider, api_key=key)
                done[f"{provider}|{resolution.source}|{resolution.outcome.value}"] += 1
                fetched += not resolution.cache_hit
        lag = started + (tick + 1) * TICK - time.monotonic()
        if lag > 0:
            time.sleep(lag)
    elapsed = time.monotonic() - started
    manager.close()
    telemetry.force_flush()
    telemetry.shutdown()
    print(
        json.dumps(
            {
                "resolutions": sum(done.values()),
                "by_answer": done,
                "through_the_stack": fetched,
                "seconds": elapsed,
                "rate": sum(done.values()) / elapsed,
                "sdk_warnings": sdk_warnings.messages,
            }
        )
    )


_ISOLATED_PREFIXES = ("ABSTRACTCORE_", "VAULT_", "AWS_", "AZURE_", "OTEL_", "COVERAGE_")
CANARIES = ("openai", "openai-rotated", "groq", "mistral", "explicit", "fingerprint")


@dataclass
class SustainedRun:
    """What a sustained run did and left.

    Attributes:
        report: The application's own account (``resolutions``, ``by_answer``,
            ``through_the_stack``, ``seconds``, ``rate``, ``sdk_warnings``).
        canaries: The keys planted, by label (every one a canary).
        journal: The audit journal it wrote.
        key_path: The journal's signing key.
        stderr: What the application wrote to stderr.
        logs, metrics, spans, raw: What the OTLP receiver got (decoded; raw bodies).
    """

    report: dict[str, Any]
    canaries: dict[str, str]
    journal: Path
    key_path: Path
    stderr: str
    logs: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    @property
    def expected(self) -> Counter[str]:
        """Resolutions by ``provider|source|outcome``, as the application counted them."""
        return Counter(self.report["by_answer"])

    def journal_tally(self) -> Counter[str]:
        """Resolutions the journal accounts for, by ``provider|source|outcome``."""
        records = [json.loads(line) for line in self.journal.read_text().splitlines()]
        return tally(record["event"] for record in records if "event" in record)

    def otlp_tally(self) -> Counter[str]:
        """Resolutions the audit records received over OTLP account for."""
        return tally(
            {**record["attributes"], "event": record["event_name"]} for record in self.logs
        )

    def counter_tally(self) -> Counter[str]:
        """Resolutions the ``resolutions`` counter accounts for (its last totals)."""
        counted: Counter[str] = Counter()
        for attributes, value in last_totals(self.metrics, "abstractcore.secrets.resolutions"):
            source = attributes["secrets.source"]
            answer = (
                f"{attributes['secrets.provider']}|{None if source == 'none' else source}|"
                f"{attributes['secrets.outcome']}"
            )
            counted[answer] += value
        return counted

    def audit_results(self) -> Counter[str]:
        """``audit.records`` totals by result (written, failed, dropped), all sinks."""
        results: Counter[str] = Counter()
        for attributes, value in last_totals(self.metrics, "abstractcore.secrets.audit.records"):
            results[str(attributes["result"])] += value
        return results


def tally(events: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Sum the ``count`` of resolution events (summaries count their hits) by answer."""
    counted: Counter[str] = Counter()
    for event in events:
        if "provider" not in event or event.get("event") == "secret.rotated":
            continue
        answer = f"{event['provider']}|{event.get('source')}|{event['outcome']}"
        counted[answer] += int(event.get("count", 1))
    return counted


def last_totals(points: Iterable[Mapping[str, Any]], name: str) -> list[tuple[dict[str, Any], int]]:
    """A cumulative counter's last total per attribute set."""
    totals: dict[tuple[tuple[str, Any], ...], int] = {}
    for point in points:
        if point["name"] == name:
            totals[tuple(sorted(point["attributes"].items()))] = point["value"]
    return [(dict(key), value) for key, value in totals.items()]


def run_sustained(seconds: float, rate: int, folder: Path) -> SustainedRun:
    """Run the application at ``rate`` resolutions a second for ``seconds``, in ``folder``.

    Raises:
        AssertionError: The application failed (its stderr's end is in the message).
    """
    from .otlp import OTLPReceiver

    canaries = {label: f"sk-sustained-{label}-{secrets.token_hex(16)}" for label in CANARIES}
    journal, key_path = folder / "journal.jsonl", folder / "journal.key"
    config = folder / "abstractcore.json"
    config.write_text(
        json.dumps(
            {
                "api_keys": {"mistral": canaries["mistral"]},
                "secrets": {
                    "chain": ["env", "config"],
                    "audit": {"journal": str(journal), "signing_key": str(key_path)},
                },
            }
        )
    )
    config.chmod(0o600)
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_ISOLATED_PREFIXES)
        and not name.removesuffix("_FILE").endswith(("_API_KEY", "_TOKEN"))
    }
    with OTLPReceiver() as receiver:
        completed = subprocess.run(  # noqa: S603 - fixed argument list
            [sys.executable, "-m", __name__, str(seconds), str(rate)],
            capture_output=True,
            text=True,
            timeout=seconds * 4 + 120,
            check=False,
            env={
                **environ,
                "HOME": str(folder),
                "ABSTRACTCORE_HOME": str(folder / ".abstractcore"),
                "ABSTRACTCORE_CONFIG_FILE": str(config),
                "ABSTRACTCORE_SECRETS_FINGERPRINT_KEY": canaries["fingerprint"],
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint,
                "OPENAI_API_KEY": canaries["openai"],
                "SUSTAINED_OPENAI_ROTATED": canaries["openai-rotated"],
                "GROQ_API_KEY": canaries["groq"],
                "SUSTAINED_EXPLICIT_KEY": canaries["explicit"],
            },
        )
        if completed.returncode != 0:
            raise AssertionError(f"the application failed: {completed.stderr[-3000:]}")
        return SustainedRun(
            report=json.loads(completed.stdout.strip().splitlines()[-1]),
            canaries=canaries,
            journal=journal,
            key_path=key_path,
            stderr=completed.stderr,
            logs=receiver.logs(),
            metrics=receiver.metrics(),
            spans=receiver.spans(),
            raw=receiver.raw(),
        )


if __name__ == "__main__":
    main()
