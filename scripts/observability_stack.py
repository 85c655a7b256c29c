"""Run the observability stack on loopback with a workload, until Ctrl-C.

Started by ``scripts/observability.sh``: OpenBao (the workload's Vault), our collector with
the shipped ``collector.yaml``, Prometheus with the shipped rules, Alertmanager with the
shipped routing, and ``observability_workload.py`` resolving keys through them. Every few
minutes OpenBao is stopped for a while, so that stale serving, the circuit breaker and the
burn-rate alerts have something to show. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from abstractcore_secrets.testing import OpenBaoServer
from abstractcore_secrets.testing.collector import CollectorProcess
from abstractcore_secrets.testing.otlp import OTLPReceiver
from abstractcore_secrets.testing.prometheus import AlertmanagerServer, PrometheusServer

ROOT = Path(__file__).resolve().parent.parent
OUTAGE_EVERY, OUTAGE_FOR = 300.0, 90.0
APP_TOKEN = "demo-app-token"  # noqa: S105 - a throw-away dev server's token, recreated each start


def main() -> None:
    """Start the stack, print where to look, run outages until interrupted."""
    binary = Path(sys.argv[1])
    base = Path(tempfile.mkdtemp(prefix="abstractcore-observability-"))
    journal = base / "journal" / "audit.jsonl"
    started: list[Any] = []  # stopped in reverse order, however far the start got
    workload: subprocess.Popen[str] | None = None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        bao = _start(started, OpenBaoServer())
        # The collector's downstream: here, a receiver that keeps what it gets in memory.
        downstream = _start(started, OTLPReceiver())
        alertmanager = _start(
            started,
            AlertmanagerServer(
                ROOT / "instrumentation" / "prometheus" / "alertmanager.yml", port=9093
            ),
        )
        prometheus = _start(
            started,
            PrometheusServer(
                sorted((ROOT / "instrumentation" / "prometheus" / "rules").glob("*.yml")),
                alertmanager_url=alertmanager.url,
                evaluation_interval="15s",
                port=9090,
            ),
        )
        collector = _start(
            started,
            CollectorProcess(
                binary,
                ROOT / "instrumentation" / "collector" / "collector.yaml",
                {
                    "ABSTRACTCORE_COLLECTOR_PROMETHEUS_URL": prometheus.remote_write_url,
                    "ABSTRACTCORE_COLLECTOR_DOWNSTREAM_ENDPOINT": (
                        f"127.0.0.1:{downstream.grpc_port}"
                    ),
                    "ABSTRACTCORE_SECRETS_AUDIT_JOURNAL": str(journal),
                },
                grpc_port=4317,
                http_port=4318,
            ),
        )
        workload = _start_workload(base, bao, journal, collector)
        print(
            f"""
The stack is up (Ctrl-C stops it):
  Prometheus     {prometheus.url}   (rules, alerts: {prometheus.url}/alerts)
  Alertmanager   {alertmanager.url}   (its webhooks are alertmanager.yml's placeholders:
                 see the alerts in its page)
  collector      OTLP gRPC {collector.grpc_endpoint}, HTTP {collector.http_endpoint}
  audit archives {collector.archive_dir}
  journal        {journal}
  dashboards     dashboards/grafana/json/ (import into Grafana with a Prometheus data
                 source at {prometheus.url}; see dashboards/grafana/README.md)
OpenBao goes down for {OUTAGE_FOR:.0f} s every {OUTAGE_EVERY:.0f} s.
""",
            flush=True,
        )
        while True:
            time.sleep(OUTAGE_EVERY)
            print("OpenBao stopped: stale serving, retries, an opening circuit", flush=True)
            bao.stop()
            time.sleep(OUTAGE_FOR)
            bao.start()
            _seed(bao)
            print("OpenBao is back", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not leave servers behind: finish the clean-up first.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if workload is not None:
            _stop_workload(workload)
        for server in reversed(started):
            server.stop()
            if hasattr(server, "cleanup"):
                server.cleanup()
        print(f"stopped; the workload's journal stays in {journal.parent}", flush=True)


def _start(started: list[Any], server: Any) -> Any:  # noqa: ANN401 - any of the servers
    """Start ``server`` and remember it for the clean-up."""
    started.append(server)
    return server.start()


def _stop_workload(workload: subprocess.Popen[str]) -> None:
    """Ask the workload to quit (its journal is sealed, its telemetry flushed); else kill it."""
    if workload.poll() is not None or workload.stdin is None:
        return
    try:
        workload.stdin.write("quit\n")
        workload.stdin.flush()
        workload.wait(timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        workload.kill()
        workload.wait()


def _seed(bao: OpenBaoServer) -> None:
    for provider in ("openai", "anthropic", "deepseek"):
        bao.put_kv(f"llm/{provider}", {"api_key": f"sk-demo-{provider}-{secrets.token_hex(8)}"})
    bao.request(
        "POST",
        "sys/policies/acl/demo-read",
        {
            "policy": 'path "secret/data/llm/*" { capabilities = ["read"] }\n'
            'path "secret/data/llm/anthropic" { capabilities = ["deny"] }\n'
        },
    )
    # A dev server forgets its tokens when it stops: recreate the workload's under its id.
    bao.request(
        "POST", "auth/token/create", {"id": APP_TOKEN, "policies": ["demo-read"], "ttl": "24h"}
    )


def _start_workload(
    base: Path, bao: OpenBaoServer, journal: Path, collector: CollectorProcess
) -> subprocess.Popen[str]:
    _seed(bao)
    home = base / "home"
    config = home / ".abstractcore" / "config"
    config.mkdir(parents=True, mode=0o700)
    settings = {
        "secrets": {
            "chain": ["env", "vault", "config"],
            "cache": {"ttl": 5, "negative_ttl": 5, "max_stale": 120},
            "sources": {"vault": {"addr": bao.address, "path": "secret/data/llm/{provider}"}},
            "resilience": {"attempts": 2, "timeout": 1, "failure_threshold": 3},
            "audit": {"journal": str(journal), "checkpoint_every": 100, "pseudonymize": True},
        }
    }
    (config / "abstractcore.json").write_text(json.dumps(settings))
    (config / "abstractcore.json").chmod(0o600)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "VAULT_"))},
        "HOME": str(home),
        "VAULT_TOKEN": APP_TOKEN,
        "OTEL_SERVICE_NAME": "observability-demo",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.grpc_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "APP_PROVIDERS": "openai,anthropic,mistral,deepseek",
        "APP_PERIOD": "0.2",
    }
    return subprocess.Popen(  # noqa: S603 - fixed argument list
        [sys.executable, str(Path(__file__).with_name("observability_workload.py"))],
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        # Its own session: Ctrl-C reaches this script, which stops the workload in order.
        start_new_session=True,
    )


if __name__ == "__main__":
    main()
