"""End to end: an application, OpenBao, our collector, Prometheus, Alertmanager, a webhook.

One scenario runs once for the module (about 90 seconds): a workload resolves keys from
OpenBao through the chain with telemetry and a journal; a key is rotated; the collector is
restarted mid-way; OpenBao is stopped (stale serving, errors, a circuit opening); a second
application leaks keys of every format into its own telemetry. The tests then read what
came out: Prometheus series, rules and alerts, the webhook's notifications, the collector's
archives and what it forwarded downstream.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from observability_stack import (
    COLLECTOR_CONFIG,
    RULE_FILES,
    alertmanager_config_for,
    archived_log_records,
    build_collector,
    dashboard_queries,
    recording_rules,
)

from abstractcore_secrets.audit.journal import read_records
from abstractcore_secrets.testing import OpenBaoServer
from abstractcore_secrets.testing.collector import CollectorProcess
from abstractcore_secrets.testing.otlp import OTLPReceiver
from abstractcore_secrets.testing.prometheus import (
    AlertmanagerServer,
    AlertWebhook,
    PrometheusServer,
)

pytestmark = [pytest.mark.server, pytest.mark.timeout(900)]

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE.parent / "scripts" / "observability_workload.py"
MISBEHAVING = HERE / "misbehaving_app.py"
SERVICE = "e2e-workload"
FAST_BURN = "AbstractcoreSecretsErrorBudgetFastBurn"
POLICY = """
path "secret/data/llm/*" { capabilities = ["read"] }
path "secret/data/llm/anthropic" { capabilities = ["deny"] }
"""


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def leaked_keys() -> dict[str, tuple[str, str]]:
    """One key of each format the redaction patterns know: format -> (text, its secret part).

    The secret part is what must appear nowhere; the text is what the application leaks.
    """
    alnum = string.ascii_letters + string.digits
    base32 = string.ascii_uppercase + "234567"
    parts = {name: _random(alnum, 40) for name in "aovgGpfbj"}
    jwt = f"eyJ{parts['j'][:20]}.eyJ{parts['j'][20:]}.{_random(alnum, 24)}"
    return {
        "anthropic": (f"sk-ant-api03-{parts['a']}", parts["a"]),
        "openai": (f"sk-proj-{parts['o']}", parts["o"]),
        "aws_access_key_id": (f"AKIA{_random(base32, 16)}", ""),  # "": the whole text
        "vault_token": (f"hvs.{parts['v']}", parts["v"]),
        "huggingface": (f"hf_{_random(string.ascii_letters, 34)}", ""),
        "github": (f"ghp_{parts['g'][:36]}", parts["g"][:36]),
        "google": (f"AIza{parts['G'][:35]}", parts["G"][:35]),
        "jwt": (jwt, jwt),
        "private_key": (
            f"-----BEGIN PRIVATE KEY-----\nMIIE{parts['p']}\n-----END PRIVATE KEY-----",
            parts["p"],
        ),
        "secret_field": (f'{{"api_key": "{parts["f"]}"}}', parts["f"]),
        "bearer": (f"Bearer {parts['b']}", parts["b"]),
    }


@dataclass
class Run:
    """What the scenario did and where its outputs are."""

    counts: dict[str, int]
    started: float
    journal_dir: Path
    collector: CollectorProcess
    prometheus: PrometheusServer
    webhook: AlertWebhook
    downstream: OTLPReceiver
    pseudonym: str = ""
    alert_states: list[str] = field(default_factory=list)
    leaks: dict[str, tuple[str, str]] = field(default_factory=dict)
    served: list[str] = field(default_factory=list)
    archived_at_restart: int = 0
    journal_at_restart: int = 0


def _write_config(home: Path, bao: OpenBaoServer, journal: Path) -> None:
    config = home / ".abstractcore" / "config"
    config.mkdir(parents=True, mode=0o700)
    settings = {
        "secrets": {
            "chain": ["env", "vault", "config"],
            "cache": {"ttl": 1, "negative_ttl": 1, "max_stale": 3600},
            "sources": {"vault": {"addr": bao.address, "path": "secret/data/llm/{provider}"}},
            "resilience": {
                "attempts": 2,
                "timeout": 1,
                "failure_threshold": 3,
                "reset_timeout": 5,
            },
            "audit": {
                "journal": str(journal / "audit.jsonl"),
                "checkpoint_every": 25,
                "max_bytes": 60_000,
                "pseudonymize": True,
            },
        }
    }
    path = config / "abstractcore.json"
    path.write_text(json.dumps(settings))
    path.chmod(0o600)


def _wait(condition: Any, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:  # noqa: PLR0915 - one scenario
    """Run the scenario once; yield what it produced; stop everything."""
    binary = build_collector()
    base = tmp_path_factory.mktemp("e2e")
    home, journal_dir = base / "home", base / "journal"
    home.mkdir()
    bao = OpenBaoServer().start()
    webhook = AlertWebhook().start()
    downstream = OTLPReceiver().start()
    alertmanager = AlertmanagerServer(
        alertmanager_config_for(webhook.url, base / "alertmanager.yml")
    ).start()
    prometheus = PrometheusServer(RULE_FILES, alertmanager_url=alertmanager.url).start()
    collector = CollectorProcess(
        binary,
        COLLECTOR_CONFIG,
        {
            "ABSTRACTCORE_COLLECTOR_PROMETHEUS_URL": prometheus.remote_write_url,
            "ABSTRACTCORE_COLLECTOR_DOWNSTREAM_ENDPOINT": f"127.0.0.1:{downstream.grpc_port}",
            "ABSTRACTCORE_SECRETS_AUDIT_JOURNAL": str(journal_dir / "audit.jsonl"),
        },
    ).start()
    workload = workload_log = None
    started = time.time()
    try:
        # The values the chain serves, and its token: they must reach no output either.
        served = [f"e2e{provider}{secrets.token_hex(12)}" for provider in ("o", "a", "d", "r")]
        for provider, value in zip(("openai", "anthropic", "deepseek"), served, strict=False):
            bao.put_kv(f"llm/{provider}", {"api_key": value})
        bao.request("POST", "sys/policies/acl/e2e-read", {"policy": POLICY})
        token = bao.request("POST", "auth/token/create", {"policies": ["e2e-read"]})["auth"][
            "client_token"
        ]
        served.append(token)
        _write_config(home, bao, journal_dir)
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTEL_", "ABSTRACTCORE_", "VAULT_"))
        }
        environment.update(
            {
                "HOME": str(home),
                "VAULT_TOKEN": token,
                "OTEL_SERVICE_NAME": SERVICE,
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_METRIC_EXPORT_INTERVAL": "1000",
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "OTEL_BLRP_SCHEDULE_DELAY": "200",
                "APP_PROVIDERS": "openai,anthropic,mistral",
                "APP_PERIOD": "0.05",
            }
        )
        # Its stderr (exporter warnings through the restart and the outage) goes to a file:
        # a pipe nobody reads until the end could fill up and block it.
        workload_log = (base / "workload.log").open("w")
        workload = subprocess.Popen(
            [sys.executable, str(WORKLOAD)],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=workload_log,
            text=True,
        )
        assert workload.stdin is not None
        leaks = leaked_keys()
        subprocess.run(
            [sys.executable, str(MISBEHAVING)],
            env={
                **environment,
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.grpc_endpoint,
                "APP_LEAKS": json.dumps([text for text, _ in leaks.values()]),
            },
            check=True,
            timeout=60,
        )
        time.sleep(6)
        # A rotation: the next refresh (cache TTL 1 s) serves the new value.
        bao.put_kv("llm/openai", {"api_key": served[3]})
        time.sleep(3)
        # The collector restarts in the middle of the workload.
        collector.stop()
        archived_at_restart = len(_journal_archive(collector))
        journal_at_restart = len(_journal_lines(journal_dir))
        time.sleep(1)
        collector.start()
        time.sleep(6)
        # The outage: OpenBao stops. openai is served stale; deepseek, never cached, fails.
        bao.stop()
        workload.stdin.write("add deepseek\n")
        workload.stdin.flush()
        states: list[str] = []

        def fast_burn_firing() -> bool:
            for alert in prometheus.alerts():
                if alert["labels"].get("alertname") == FAST_BURN:
                    if not states or states[-1] != alert["state"]:
                        states.append(alert["state"])
                    return bool(alert["state"] == "firing")
            return False

        _wait(fast_burn_firing, 240, f"{FAST_BURN} to fire")
        _wait(
            lambda: any(a["labels"]["alertname"] == FAST_BURN for a in webhook.alerts()),
            60,
            "Alertmanager to deliver the alert to the webhook",
        )
        workload.stdin.write("quit\n")
        workload.stdin.flush()
        out, _ = workload.communicate(timeout=60)
        assert workload.returncode == 0, (base / "workload.log").read_text()[-4000:]
        counts = json.loads(out.strip().splitlines()[-1])
        total = sum(counts.values())
        _wait(
            lambda: _resolution_total(prometheus) == total,
            60,
            f"Prometheus to hold all {total} resolutions",
        )
        journal_records = sum(1 for _ in _journal_lines(journal_dir))
        _wait(
            lambda: len(_journal_archive(collector)) >= journal_records,
            60,
            "the journal's records in the collector's archive",
        )
        time.sleep(3)  # derived metrics and the last batches
        pseudonyms = {
            line["event"]["user"].get("pseudo_id")
            for line in _journal_lines(journal_dir)
            if "event" in line
        }
        yield Run(
            counts=counts,
            started=started,
            journal_dir=journal_dir,
            collector=collector,
            prometheus=prometheus,
            webhook=webhook,
            downstream=downstream,
            pseudonym=next(iter(pseudonyms)),
            alert_states=states,
            leaks=leaks,
            served=served,
            archived_at_restart=archived_at_restart,
            journal_at_restart=journal_at_restart,
        )
    finally:
        if workload is not None and workload.poll() is None:
            workload.kill()
            workload.wait()
        if workload_log is not None:
            workload_log.close()
        for server in (collector, prometheus, alertmanager, webhook, downstream, bao):
            server.stop()
        for server in (collector, prometheus, alertmanager, bao):
            server.cleanup()


def _resolution_total(prometheus: PrometheusServer) -> int:
    series = prometheus.query(f'sum(abstractcore_secrets_resolutions_total{{job="{SERVICE}"}})')
    return int(float(series[0]["value"][1])) if series else -1


def _journal_lines(journal_dir: Path) -> list[dict[str, Any]]:
    files = [*sorted(journal_dir.glob("audit.jsonl.*")), journal_dir / "audit.jsonl"]
    return [json.loads(raw) for path in files for _, raw in read_records(path)]


def _journal_archive(collector: CollectorProcess) -> list[dict[str, Any]]:
    return archived_log_records(sorted(collector.archive_dir.glob("audit-journal*.jsonl")))


def _otlp_archive(collector: CollectorProcess) -> list[dict[str, Any]]:
    return archived_log_records(sorted(collector.archive_dir.glob("audit-otlp*.jsonl")))


def _dashboard_expressions() -> list[tuple[str, str]]:
    helpers = dashboard_queries()
    return [
        (where, helpers.substitute_variables(expr))
        for dashboard in helpers.load_dashboards()
        for where, expr in helpers.panel_queries(dashboard)
    ]


class TestPrometheus:
    """What the workload did, as Prometheus holds it through the collector's remote write."""

    def test_every_dashboard_panel_has_series(self, run):
        """Every panel's expression, over the scenario's time range, has data: no blank panel."""
        expressions = _dashboard_expressions()
        assert len(expressions) >= 30
        blank = [
            where
            for where, expr in expressions
            if not run.prometheus.query_range(expr, run.started, step=2)
        ]
        assert blank == []

    def test_every_recording_rule_has_series(self, run):
        """Every recording rule's expression, and its recorded series, return data."""
        rules = recording_rules()
        assert len(rules) >= 10
        assert [name for name, expr in rules if not run.prometheus.query(expr)] == []
        assert [name for name, _ in rules if not run.prometheus.query(name)] == []

    def test_resolution_counts_match_the_workload(self, run):
        """Resolutions per provider, outcome, source and staleness equal what the app did."""
        series = run.prometheus.query(
            "sum by (secrets_provider, secrets_outcome, secrets_source, secrets_stale) "
            f'(abstractcore_secrets_resolutions_total{{job="{SERVICE}"}})'
        )
        seen = {}
        for point in series:
            labels = point["metric"]
            key = "|".join(
                (labels["secrets_provider"], labels["secrets_outcome"], labels["secrets_source"])
            )
            key += "|stale" if labels["secrets_stale"] == "true" else ""
            seen[key] = int(float(point["value"][1]))
        assert seen == run.counts
        # The scenario went through every outcome, and served stale through the outage.
        outcomes = {key.split("|")[1] for key in run.counts}
        assert outcomes == {"found", "not_found", "denied", "error"}
        assert any(key.endswith("|stale") for key in run.counts)

    def test_derived_metrics(self, run):
        """The collector's counters: denials by principal, rotations, checkpoints, retries."""
        denials = run.prometheus.query(
            f'abstractcore_secrets_audit_denials_total{{job="{SERVICE}"}}'
        )
        assert {(d["metric"]["provider"], d["metric"]["user_pseudo_id"]) for d in denials} == {
            ("anthropic", run.pseudonym)
        }
        rotations = run.prometheus.query(
            f'abstractcore_secrets_audit_rotations_total{{job="{SERVICE}"}}'
        )
        assert {(r["metric"]["provider"], r["metric"]["source"]) for r in rotations} == {
            ("openai", "vault")
        }
        # Checkpoints count for the service whose events they seal.
        assert run.prometheus.query(
            f'abstractcore_secrets_journal_checkpoints_total{{job="{SERVICE}"}} > 0'
        )
        retried = run.prometheus.query(
            f'abstractcore_secrets_lookup_retried_total{{job="{SERVICE}"}}'
        )
        assert {r["metric"]["secrets_source"] for r in retried} == {"vault"}
        circuits = run.prometheus.query(
            'max_over_time(abstractcore_secrets_circuit_state{secrets_source="vault"}[10m])'
        )
        assert [float(c["value"][1]) for c in circuits] == [2.0]  # it opened


class TestAlerting:
    """The resolution-failure alert, from Prometheus's rules to the webhook."""

    def test_fast_burn_went_pending_then_firing(self, run):
        """Once OpenBao stopped, the fast-burn alert was pending, then firing."""
        assert run.alert_states == ["pending", "firing"]

    def test_webhook_received_it_from_alertmanager(self, run):
        """Alertmanager routed the firing alert to the SRE team's receiver, with its runbook."""
        delivered = [a for a in run.webhook.alerts() if a["labels"]["alertname"] == FAST_BURN]
        assert delivered
        alert = delivered[0]
        assert alert["status"] == "firing"
        assert (alert["labels"]["team"], alert["labels"]["severity"]) == ("sre", "page")
        assert alert["labels"]["job"] == SERVICE
        assert alert["annotations"]["runbook_url"].endswith(f"#{FAST_BURN.lower()}")
        paths = {
            path
            for path, body in run.webhook.notifications
            if any(a["labels"]["alertname"] == FAST_BURN for a in body.get("alerts", []))
        }
        assert paths == {"/alerts/sre"}


class TestAuditRecords:
    """Audit events reaching the collector, over OTLP and from the journal."""

    def test_otlp_records_carry_event_time_and_trace_ids(self, run):
        """Each audit record's OTLP timestamp is the event's time; its ids, its span's."""
        records = [
            r for r in _otlp_archive(run.collector) if r["resource"].get("service.name") == SERVICE
        ]
        assert len(records) > 100
        summaries = 0
        for record in records:
            attributes = record["attributes"]
            assert record["time"] == _nanos(attributes["time"])
            assert record["observed"] >= record["time"]
            assert record["event_name"] == record["body"]
            if record["event_name"] == "secret.accessed":
                # A summary of cache hits stands for many calls, in no one span.
                summaries += 1
                assert "trace_id" not in attributes
                assert attributes["count"] >= 1
                continue
            assert "trace_id" in attributes, (record["event_name"], attributes)
            assert (record["trace_id"], record["span_id"]) == (
                attributes["trace_id"],
                attributes["span_id"],
            )
            assert len(record["trace_id"]) == 32
        assert summaries > 0  # the workload's cache hits

    def test_journal_and_otlp_records_have_the_same_fields(self, run):
        """The same event, shipped from the journal and sent over OTLP, arrives the same."""
        from_otlp = {
            r["attributes"]["event_id"]: r
            for r in _otlp_archive(run.collector)
            if r["resource"].get("service.name") == SERVICE
        }
        from_journal = {
            r["attributes"]["event_id"]: r
            for r in _journal_archive(run.collector)
            if "event_id" in r["attributes"]
        }
        common = from_otlp.keys() & from_journal.keys()
        assert len(common) > 100
        for event_id in common:
            otlp, journal = from_otlp[event_id], from_journal[event_id]
            chain = {k: v for k, v in journal["attributes"].items() if k.startswith("journal.")}
            assert set(chain) == {"journal.seq", "journal.hash", "journal.prev"}
            shipped = {k: v for k, v in journal["attributes"].items() if k not in chain}
            assert shipped == otlp["attributes"]
            for key in ("time", "event_name", "body", "severity", "trace_id", "span_id"):
                assert journal[key] == otlp[key], key

    def test_journal_records_reach_the_archive_exactly_once(self, run):
        """Across rotations and a collector restart, each journal record arrives once."""
        journal = _journal_lines(run.journal_dir)
        assert len(list(run.journal_dir.glob("audit.jsonl.*"))) >= 1  # it rotated
        archived = _journal_archive(run.collector)
        seqs = [r["attributes"]["journal.seq"] for r in archived]
        assert Counter(seqs).most_common(1)[0][1] == 1  # no duplicate
        assert sorted(seqs) == [line["seq"] for line in journal]
        shipped_ids = sorted(
            r["attributes"]["event_id"] for r in archived if "event_id" in r["attributes"]
        )
        assert shipped_ids == sorted(
            line["event"]["event_id"] for line in journal if "event" in line
        )
        # The collector restarted while the journal grew: records on both sides of it.
        assert run.collector.log().count("Everything is ready") == 2
        assert 0 < run.archived_at_restart < len(archived)
        assert run.journal_at_restart < len(journal)


class TestCollectorRedaction:
    """An application leaking keys into its own telemetry: the collector removes them."""

    def test_leaks_arrived_and_were_masked(self, run):
        """The leaking app's telemetry did reach the outputs, masked (the test is not vacuous)."""
        leaked = [
            r
            for r in _otlp_archive(run.collector)
            if r["resource"]["service.name"] == "misbehaving-app"
        ]
        assert len(leaked) == len(run.leaks)
        assert all("****" in r["body"] for r in leaked)
        assert all("app.debug" not in r["attributes"] for r in leaked)
        series = run.prometheus.query(
            'abstractcore_secrets_audit_records_total{job="misbehaving-app"}'
        )
        assert len(series) >= 2
        assert all("****" in s["metric"]["sink"] for s in series)
        assert all("app_label" not in s["metric"] for s in series)
        spans = [
            s
            for s in run.downstream.spans()
            if s["resource"].get("service.name") == "misbehaving-app"
        ]
        assert len(spans) == len(run.leaks)
        assert all(
            set(s["attributes"])
            <= {"secrets.locator", "redaction.masked.count", "redaction.redacted.count"}
            for s in spans
        )

    def test_no_leaked_key_in_any_output(self, run):
        """No byte of the archives, storage, forwarded data, log or Prometheus holds a leak."""
        outputs: dict[str, bytes] = {}
        for path in run.collector.output_files():
            outputs[str(path)] = path.read_bytes()
        outputs["collector log"] = run.collector.log().encode()
        outputs["downstream"] = b"".join(payload for _, _, payload in run.downstream.received)
        prometheus = run.prometheus
        answers = [prometheus.api("labels")]
        answers += [prometheus.api(f"label/{name}/values") for name in answers[0]]
        answers.append(prometheus.api("series", **{"match[]": '{__name__=~".+"}'}))
        answers.append(prometheus.query('{__name__=~".+"}'))
        answers += [prometheus.query(expr) for _, expr in _dashboard_expressions()]
        outputs["prometheus"] = json.dumps(answers).encode()
        assert len(outputs["downstream"]) > 0
        found = [
            (name, where)
            for name, (text, part) in run.leaks.items()
            for where, data in outputs.items()
            if (part or text).encode() in data
        ]
        assert found == []
        # Nor the values the workload's chain served (and rotated), nor its Vault token.
        assert len(run.served) == 5
        assert [v for v in run.served for data in outputs.values() if v.encode() in data] == []


def _nanos(stamp: str) -> int:
    import datetime as dt

    moment = dt.datetime.fromisoformat(stamp)
    since = moment - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return since // dt.timedelta(microseconds=1) * 1000
