"""The hot path: a resolution as applications build it, against the targets of the hot-path work.

Each case runs in a child process of its own (OpenTelemetry's providers and logging are set
once per process), in one run, beside the peer: aws-secretsmanager-caching's cache hit, its
client on a moto server. The parent prints nanoseconds per call, each case as a multiple of
its reference (the peer's hit, ``os.environ.get``, or the same read without telemetry), the
target, and whether the case meets it. Timings are reported, never asserted.

Cases:
- ``os.environ.get``: the floor;
- a bare ``SecretsManager([EnvironmentSecretProvider()])``, the key in the environment;
- ``build_secrets_manager()`` with nothing configured, then after ``logging.basicConfig``;
- ``build_secrets_manager(telemetry=configure_telemetry(...))`` over OTLP/HTTP, to a real
  receiver on loopback, and with nothing listening;
- an uncached OpenBao read through ``build_secrets_manager()``, without and with telemetry,
  and wrapped in the same spans, metric records and log record made with the OTel SDK
  directly (our code aside: the SDK's own cost, the floor of the telemetry read);
- ``import abstractcore_secrets`` against ``import opentelemetry.trace, structlog``;
- 10,000 resolutions a second for 60 s (3 s with ``--quick``) with full telemetry and the
  journal: the rate kept, and whether every resolution is in the journal, in the audit
  records received over OTLP and in the ``resolutions`` counter, with none dropped.

The OTLP receivers run in processes of their own, as a collector does.

Run: ``python benchmarks/bench_hot_path.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

KEY = "sk-bench-hot-path-" + "x" * 32
PEER = "aws-secretsmanager-caching get_secret_string (hit)"


def _write_settings(home: Path, secrets: dict[str, object]) -> None:
    config = home / "config" / "abstractcore.json"
    config.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    config.write_text(json.dumps({"secrets": secrets}))
    config.chmod(0o600)


def _environ_get() -> Callable[[], object]:
    return lambda: os.environ.get("OPENAI_API_KEY")


def _bare_environment() -> Callable[[], object]:
    from abstractcore_secrets import EnvironmentSecretProvider, SecretsManager

    manager = SecretsManager([EnvironmentSecretProvider()])
    return lambda: manager.get_api_key("openai")


def _built(home: Path) -> Callable[[], object]:
    from abstractcore_secrets import build_secrets_manager

    _write_settings(home, {"chain": ["env", "config"]})
    manager = build_secrets_manager()
    return lambda: manager.get_api_key("openai")


def _built_with_logging(home: Path) -> Callable[[], object]:
    import logging

    # Written nowhere, but formatted and written: the cost an application pays.
    logging.basicConfig(level=logging.INFO, stream=Path(os.devnull).open("w"))  # noqa: SIM115 - for the process's life
    return _built(home)


_STOP: list[Callable[[], object]] = []
"""How to stop the servers and receivers this process started, before it ends: left
running, they would weigh on the measures that follow (the import times)."""


def _receiver() -> str:
    """Start a real OTLP receiver in a process of its own, as a collector is; its endpoint.

    Not in this process: its decoding of what it receives would count as our cost.
    """
    code = (
        "import sys, time\n"
        "from abstractcore_secrets.testing.otlp import OTLPReceiver\n"
        "print(OTLPReceiver().start().http_endpoint, flush=True)\n"
        "sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    _STOP.append(process.kill)
    assert process.stdout is not None
    return process.stdout.readline().strip()


def _telemetry(home: Path, collector: str) -> Callable[[], object]:
    from abstractcore_secrets import build_secrets_manager
    from abstractcore_secrets.telemetry import configure_telemetry
    from abstractcore_secrets.testing import free_port

    endpoint = _receiver() if collector == "up" else f"http://127.0.0.1:{free_port()}"
    telemetry = configure_telemetry(
        "bench", protocol="http/protobuf", endpoint=endpoint, metric_interval_millis=1000
    )
    _write_settings(home, {"chain": ["env", "config"]})
    manager = build_secrets_manager(telemetry=telemetry)
    return lambda: manager.get_api_key("openai")


def _openbao(home: Path, telemetry: bool) -> Callable[[], object]:
    from abstractcore_secrets import build_secrets_manager
    from abstractcore_secrets.testing import OpenBaoServer

    bao = OpenBaoServer().start()
    _STOP.append(bao.stop)
    bao.put_kv("abstractcore", {"openai": KEY})
    _write_settings(
        home,
        {
            "chain": ["vault"],
            "cache": {"ttl": 0},
            "sources": {"vault": {"addr": bao.address, "token": bao.root_token}},
        },
    )
    configured = None
    if telemetry:
        from abstractcore_secrets.telemetry import configure_telemetry

        configured = configure_telemetry(
            "bench", protocol="http/protobuf", endpoint=_receiver(), metric_interval_millis=1000
        )
    manager = build_secrets_manager(telemetry=configured)
    return lambda: manager.get_api_key("openai")


def _sdk_floor(home: Path) -> Callable[[], object]:
    """The uncached read without our telemetry, wrapped in the records the reference asks
    for, made with the OTel SDK directly: what the SDK alone costs, our code aside.

    Two spans (``secrets.resolve`` and its ``secrets.lookup``) with their attributes, the
    two duration histograms, the resolutions counter, and one log record of an audit
    event's attributes, exported over OTLP as ``configure_telemetry()`` does.
    """
    from opentelemetry._logs import LogRecord
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    read = _openbao(home, telemetry=False)
    endpoint = _receiver()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"), export_interval_millis=1000
    )
    meter = MeterProvider(metric_readers=[reader]).get_meter("floor")
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{endpoint}/v1/logs"))
    )
    tracer = tracer_provider.get_tracer("floor")
    logger = logger_provider.get_logger("floor")
    resolutions = meter.create_histogram("resolution.duration", unit="s")
    lookups = meter.create_histogram("lookup.duration", unit="s")
    counter = meter.create_counter("resolutions")
    resolved = {
        "secrets.provider": "openai",
        "secrets.source": "vault",
        "secrets.outcome": "found",
        "secrets.cache_hit": False,
        "secrets.stale": False,
        "secrets.degraded": False,
        "secrets.locator": "secret/abstractcore#openai",
        "secrets.version": "1",
    }
    looked_up = {
        "secrets.provider": "openai",
        "secrets.source": "vault",
        "secrets.outcome": "found",
        "secrets.tries": 1,
        "secrets.locator": "secret/abstractcore#openai",
        "server.address": "127.0.0.1",
        "server.port": 8200,
    }
    audited = {  # an audit event's attributes, as the OTel log sink flattens them
        "time": "2026-11-30T06:00:00.000000+00:00",
        "seq": 1,
        "event_id": "6b6f0c2e-8f0e-4e43-9a55-0d5f0c6d8b3a",
        "provider": "openai",
        "source": "vault",
        "outcome": "found",
        "stale": False,
        "degraded": False,
        "cache_hit": False,
        "attempts": '[{"duration_ms":1.5,"error_type":null,"outcome":"found","source":"vault"}]',
        "locator": "secret/abstractcore#openai",
        "version": "1",
        "fingerprint": "hmac-sha256:" + "0" * 64,
        "user.os_user": "app",
        "service.name": "bench",
        "host.name": "host",
        "process.pid": 1,
        "duration_ms": 1.5,
        "count": 1,
    }

    def call() -> object:
        started = time.perf_counter()
        with tracer.start_as_current_span("secrets.resolve") as span:
            with tracer.start_as_current_span("secrets.lookup") as lookup:
                value = read()
                lookup.set_attributes(looked_up)
            lookups.record(time.perf_counter() - started, {"secrets.source": "vault"})
            span.set_attributes(resolved)
            logger.emit(LogRecord(body="secret.resolved", attributes=audited))
        resolutions.record(time.perf_counter() - started, resolved)
        counter.add(1, resolved)
        return value

    return call


def _import_ms(statement: str, repeat: int) -> float:
    """Best wall time of ``python -c statement``, less the interpreter's own start."""

    # Bytecode written, as an installed package has it: without, the best of the repeats
    # would still compile every module changed since the last write.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=environment)
        return time.perf_counter() - started

    bare = min(run("pass") for _ in range(repeat))
    return (min(run(statement) for _ in range(repeat)) - bare) * 1e3


CASES: dict[str, Callable[[Path], Callable[[], object]]] = {
    "os.environ.get": lambda _home: _environ_get(),
    "SecretsManager([EnvironmentSecretProvider()]), cached": lambda _home: _bare_environment(),
    "build_secrets_manager(), nothing configured": _built,
    "build_secrets_manager(), logging.basicConfig(INFO)": _built_with_logging,
    "full telemetry over OTLP, collector up": lambda home: _telemetry(home, "up"),
    "full telemetry over OTLP, collector down": lambda home: _telemetry(home, "down"),
    "OpenBao read, uncached, no telemetry": lambda home: _openbao(home, telemetry=False),
    "OpenBao read, uncached, full telemetry": lambda home: _openbao(home, telemetry=True),
    "OpenBao read, uncached, OTel SDK alone": _sdk_floor,
}

# Each case: the reference it is a multiple of, and the target multiple.
TARGETS: dict[str, tuple[str, float]] = {
    "SecretsManager([EnvironmentSecretProvider()]), cached": ("os.environ.get", 3.0),
    "build_secrets_manager(), nothing configured": (PEER, 0.05),
    "build_secrets_manager(), logging.basicConfig(INFO)": (PEER, 0.1),
    "full telemetry over OTLP, collector up": (PEER, 0.1),
    "full telemetry over OTLP, collector down": (PEER, 0.1),
    "OpenBao read, uncached, full telemetry": ("OpenBao read, uncached, no telemetry", 1.05),
}

# Shown as a multiple of a reference, without a target of their own.
REFERENCES: dict[str, str] = {
    "OpenBao read, uncached, OTel SDK alone": "OpenBao read, uncached, no telemetry",
}


def child(case: str, number: int, repeat: int) -> None:
    """Measure one case in this process; print its nanoseconds per call as JSON."""
    from _peers import best_ns_per_call

    home = Path(os.environ["ABSTRACTCORE_HOME"])
    call = CASES[case](home)
    assert call() == KEY or case == "os.environ.get"
    remote = case.startswith("OpenBao")
    calls = max(number // 100, 20) if remote else number
    print(json.dumps({case: best_ns_per_call(call, calls, repeat)}))
    sys.stdout.flush()
    for stop in _STOP:
        stop()
    os._exit(0)  # the servers and exporters started here end with the process


def main() -> None:
    """Run every case in its own process, then the peer; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run")
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    number, repeat = (200, 2) if arguments.quick else (50_000, 5)
    if arguments.case:
        child(arguments.case, number, repeat)
        return
    home = tempfile.mkdtemp(prefix="bench-hot-path-")
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "OPENAI_API_KEY": KEY,
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
    }
    os.environ.update(environment)
    results: dict[str, float] = {}
    try:
        for case in CASES:
            case_home = Path(home) / str(len(results))
            case_home.mkdir(mode=0o700)
            flags = ["--case", case] + (["--quick"] if arguments.quick else [])
            output = subprocess.run(
                [sys.executable, __file__, *flags],
                capture_output=True,
                text=True,
                check=True,
                timeout=900,
                env={**os.environ, "ABSTRACTCORE_HOME": str(case_home)},
            ).stdout
            results.update(json.loads(output.strip().splitlines()[-1]))

        from _peers import aws_caching_hit, best_ns_per_call

        with aws_caching_hit(KEY) as aws_hit:
            results[PEER] = best_ns_per_call(aws_hit, number // 10 or 20, repeat)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    imports = {
        "import abstractcore_secrets": _import_ms("import abstractcore_secrets", repeat),
        "import opentelemetry.trace, structlog": _import_ms(
            "import opentelemetry.trace, structlog", repeat
        ),
    }
    _print(results, imports, number, repeat)
    _print_sustained(3.0 if arguments.quick else 60.0)


SUSTAINED_RATE = 10_000


def _print_sustained(seconds: float) -> None:
    """Run the sustained load (tests/test_sustained_load.py's run) and print its row."""
    from abstractcore_secrets.testing._sustained import run_sustained

    with tempfile.TemporaryDirectory(prefix="bench-sustained-") as folder:
        run = run_sustained(seconds, SUSTAINED_RATE, Path(folder))
        expected = run.expected
        accounted = {
            "journal": run.journal_tally() == expected,
            "OTLP audit records": run.otlp_tally() == expected,
            "resolutions counter": run.counter_tally() == expected,
        }
        results = run.audit_results()
    report = run.report
    lost = sum(count for result, count in results.items() if result != "written")
    kept = report["rate"] >= SUSTAINED_RATE * 0.99
    verdict = "at target" if kept and lost == 0 and all(accounted.values()) else "over"
    print(
        f"sustained {SUSTAINED_RATE:,}/s for {seconds:g} s, full telemetry, journal in batch "
        f"mode: {report['resolutions']:,} resolutions at {report['rate']:,.0f}/s; audit "
        f"records {dict(results)}; every resolution in "
        + ", ".join(f"{where}: {'yes' if ok else 'NO'}" for where, ok in accounted.items())
        + f"; SDK drop warnings: {len(report['sdk_warnings'])}: {verdict}"
    )


def _no_cloud_sdk() -> bool:
    """Whether importing the package leaves every cloud SDK unimported."""
    code = (
        "import sys, abstractcore_secrets\n"
        "sdks = {'boto3', 'botocore', 'hvac', 'azure'}\n"
        "sys.exit(any(name.split('.')[0] in sdks for name in sys.modules))"
    )
    return subprocess.run([sys.executable, "-c", code], check=False, timeout=120).returncode == 0


def _print(results: dict[str, float], imports: dict[str, float], number: int, repeat: int) -> None:
    print(f"python {sys.version.split()[0]}, {number} calls x {repeat} repeats, best repeat")
    width = max(map(len, results))
    print(f"{'case'.ljust(width)}  {'ns/call':>11}  {'ratio':>8}  {'target':>7}  status")
    for case, nanoseconds in results.items():
        reference, target = TARGETS.get(case, (REFERENCES.get(case, PEER), 0.0))
        ratio = nanoseconds / results[reference]
        status = "" if case not in TARGETS else ("at target" if ratio <= target else "over")
        shown_target = f"{target:.2f}" if case in TARGETS else ""
        print(
            f"{case.ljust(width)}  {nanoseconds:11.0f}  {ratio:8.3f}  {shown_target:>7}  {status}"
        )
    print("ratio: a multiple of the peer's hit, except the environment case (of")
    print("os.environ.get) and the reads with telemetry (of the same read without); the SDK")
    print("alone: the records the reference asks for, made with the OTel SDK directly")
    ours, floor = (
        imports["import abstractcore_secrets"],
        imports["import opentelemetry.trace, structlog"],
    )
    verdict = "at target" if ours <= floor + 30 and _no_cloud_sdk() else "over"
    print(f"import abstractcore_secrets: {ours:.0f} ms; opentelemetry.trace + structlog:")
    print(f"{floor:.0f} ms; target <= {floor + 30:.0f} ms, no cloud SDK: {verdict}")


if __name__ == "__main__":
    main()
