"""Spans, metrics and audit log records through the real OTLP exporters into real receivers."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from abstractcore_secrets.testing.canary import canary
from abstractcore_secrets.testing.otlp import OTLPReceiver

pytestmark = pytest.mark.server
APP = Path(__file__).with_name("telemetry_app.py")
STATUS_ERROR = 2


def run_app(scenario, receiver, protocol, **env):
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    environment = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "3",
        **env,
    }
    result = subprocess.run(
        [sys.executable, str(APP), scenario],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")], result


@pytest.fixture
def receiver():
    with OTLPReceiver() as running:
        yield running


def _by_id(spans):
    return {span["span_id"]: span for span in spans}


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
class TestOutcomesOverOTLP:
    def test_spans_for_every_outcome(self, receiver, protocol):
        """One resolve span per resolution with its lookups as children, whole attributes."""
        resolutions, _ = run_app("outcomes", receiver, protocol, APP_VALUE=canary())
        assert [(r["provider"], r["outcome"], r["stale"], r["cache_hit"]) for r in resolutions] == [
            ("openai", "found", False, False),
            ("openai", "found", False, True),
            ("mistral", "not_found", False, False),
            ("anthropic", "denied", False, False),
            ("openai", "found", False, False),
            ("openai", "found", True, True),
            ("groq", "error", False, False),
        ]
        spans = receiver.spans()
        resolves = [s for s in spans if s["name"] == "secrets.resolve"]
        assert len(resolves) == 7
        first = resolves[0]
        assert first["attributes"] == {
            "secrets.provider": "openai",
            "secrets.source": "vault",
            "secrets.outcome": "found",
            "secrets.cache_hit": False,
            "secrets.stale": False,
            "secrets.degraded": True,  # azure, higher in the chain, was down
            "error.type": "unavailable",
            "secrets.locator": "vault:openai",
            "enduser.id": "alice",
        }
        assert first["status"]["code"] == 0  # unset: the azure failure was handled
        assert first["scope"] == "abstractcore_secrets"
        assert first["resource"]["service.name"] == "telemetry-app"
        children = [s for s in spans if s["parent_span_id"] == first["span_id"]]
        assert [
            (c["name"], c["attributes"]["secrets.source"], c["status"]["code"]) for c in children
        ] == [("secrets.lookup", "azure", STATUS_ERROR), ("secrets.lookup", "vault", 0)]
        azure = children[0]
        assert azure["attributes"] == {
            "secrets.provider": "openai",
            "secrets.source": "azure",
            "secrets.outcome": "error",
            "secrets.tries": 1,
            "secrets.locator": "azure:openai",
            "error.type": "unavailable",
        }
        assert azure["events"] == [
            {
                "name": "exception",
                "attributes": {
                    "exception.type": "SourceUnavailableError",
                    "exception.message": "down",
                },
            }
        ]
        # The hit served the degraded answer: it goes through the stack, so its own span
        # says so (a fresh hit would be an event on the handler's span: test_hot_path.py).
        (handler,) = [s for s in spans if s["name"] == "app.handler"]
        assert handler["events"] == []
        hit = resolves[1]
        assert hit["parent_span_id"] == handler["span_id"]
        assert (hit["attributes"]["secrets.cache_hit"], hit["attributes"]["secrets.degraded"]) == (
            True,
            True,
        )
        assert not [s for s in spans if s["parent_span_id"] == hit["span_id"]]
        denied = resolves[3]
        assert denied["status"] == {"code": STATUS_ERROR, "message": "forbidden"}
        assert denied["attributes"]["error.type"] == "forbidden"
        stale = resolves[5]
        assert (stale["attributes"]["secrets.stale"], stale["attributes"]["error.type"]) == (
            True,
            "unavailable",
        )
        error = resolves[6]
        assert (error["attributes"]["secrets.outcome"], error["attributes"]["secrets.source"]) == (
            "error",
            "none",
        )

    def test_metrics(self, receiver, protocol):
        """Resolution and lookup histograms, with bounded attributes only."""
        run_app("outcomes", receiver, protocol, APP_VALUE=canary())
        points = receiver.metrics()
        resolutions = [p for p in points if p["name"] == "abstractcore.secrets.resolution.duration"]
        assert {p["unit"] for p in resolutions} == {"s"}
        fetched = {
            "secrets.provider": "openai",
            "secrets.source": "vault",
            "secrets.outcome": "found",
            "secrets.cache_hit": False,
            "secrets.stale": False,
        }
        found = [
            p for p in resolutions if p["attributes"] == {**fetched, "secrets.degraded": False}
        ]
        degraded_attributes = {**fetched, "secrets.degraded": True, "error.type": "unavailable"}
        degraded = [p for p in resolutions if p["attributes"] == degraded_attributes]
        assert found
        assert degraded
        assert found[-1]["value"] == 1  # refreshed after rotation, every source up
        assert degraded[-1]["value"] == 1  # the first, while azure was down: the hit is not timed
        counted = [p for p in points if p["name"] == "abstractcore.secrets.resolutions"]
        assert {p["unit"] for p in counted} == {"{resolution}"}
        totals = {
            tuple(sorted(p["attributes"].items())): p["value"]
            for p in counted  # cumulative: the last point of each series holds its total
        }
        assert sum(totals.values()) == 7  # every resolution, the cache hit included
        # The hit of the degraded answer (no attempts of its own, so no error.type).
        hit_key = tuple(
            sorted({**fetched, "secrets.cache_hit": True, "secrets.degraded": True}.items())
        )
        assert totals.get(hit_key) == 1, sorted(totals.items())
        keys = {key for p in points for key in p["attributes"]}
        assert keys <= {
            "secrets.provider",
            "secrets.source",
            "secrets.outcome",
            "secrets.cache_hit",
            "secrets.stale",
            "secrets.degraded",
            "error.type",
            "sink",
            "result",
            "rule",
        }
        lookups = {
            (p["attributes"]["secrets.source"], p["attributes"]["secrets.outcome"])
            for p in points
            if p["name"] == "abstractcore.secrets.lookup.duration"
        }
        assert ("azure", "error") in lookups
        ages = [p for p in points if p["name"] == "abstractcore.secrets.secret.age"]
        assert {tuple(sorted(p["attributes"].items())) for p in ages} == {
            (("secrets.provider", "openai"), ("secrets.source", "vault"))
        }
        circuits = [p for p in points if p["name"] == "abstractcore.secrets.circuit.state"]
        assert {p["attributes"]["secrets.source"] for p in circuits} >= {"azure", "vault", "aws"}
        audit = [p for p in points if p["name"] == "abstractcore.secrets.audit.records"]
        assert {(p["attributes"]["sink"], p["attributes"]["result"]) for p in audit} == {
            ("log", "written"),
            ("otel", "written"),
        }

    def test_audit_log_records(self, receiver, protocol):
        """One event per resolution (plus a rotation) with user, trace ids and provenance."""
        run_app("outcomes", receiver, protocol, APP_VALUE=canary())
        records = receiver.logs()
        assert [r["event_name"] for r in records] == [
            "secret.resolved",
            "secret.resolved",
            "secret.not_found",
            "secret.denied",
            "secret.resolved",
            "secret.rotated",
            "secret.resolved",
            "secret.error",
        ]
        first = records[0]["attributes"]
        assert {
            k: first[k]
            for k in (
                "provider",
                "source",
                "outcome",
                "locator",
                "stale",
                "degraded",
                "error.type",
                "cache_hit",
                "service.name",
                "seq",
            )
        } == {
            "provider": "openai",
            "source": "vault",
            "outcome": "found",
            "locator": "vault:openai",
            "stale": False,
            "degraded": True,
            "error.type": "unavailable",
            "cache_hit": False,
            "service.name": "telemetry-app",
            "seq": 1,
        }
        # Served while a source was down: a warning, like a denial or a failure.
        assert [r["severity_text"] for r in records] == [
            "WARN",
            "WARN",
            "INFO",
            "WARN",
            "INFO",
            "INFO",
            "WARN",
            "WARN",
        ]
        assert first["user.id"] == "alice"
        assert "user.os_user" in first
        assert first["fingerprint"].startswith("hmac-sha256:")
        assert [a["source"] for a in json.loads(first["attempts"])] == ["azure", "vault"]
        resolve_spans = [s for s in receiver.spans() if s["name"] == "secrets.resolve"]
        assert first["trace_id"] == resolve_spans[0]["trace_id"]
        assert records[0]["trace_id"] == resolve_spans[0]["trace_id"]
        assert records[0]["span_id"] == resolve_spans[0]["span_id"] == first["span_id"]
        for record in records:  # the event's own time, to the microsecond
            stamp = dt.datetime.fromisoformat(record["attributes"]["time"])
            since_epoch = stamp - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
            assert record["time_unix_nano"] == since_epoch // dt.timedelta(microseconds=1) * 1000
            assert record["observed_time_unix_nano"] >= record["time_unix_nano"]
        rotated = records[5]["attributes"]
        assert rotated["previous_fingerprint"] == first["fingerprint"]
        assert rotated["fingerprint"] != first["fingerprint"]
        denied = records[3]
        assert (denied["severity_text"], denied["attributes"]["error.type"]) == (
            "WARN",
            "forbidden",
        )


def test_collector_down_then_back():
    """With no collector, resolutions keep working; once it is back, new telemetry arrives."""
    receiver = OTLPReceiver()  # not started: nothing listens on its ports
    endpoint = receiver.http_endpoint
    environment = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "APP_VALUE": canary(),
    }
    child = subprocess.Popen(
        [sys.executable, str(APP), "outage"],
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    while (line := child.stdout.readline()) and line.strip() != "phase-1-done":
        lines.append(json.loads(line))
    assert [r["outcome"] for r in lines] == [
        "found",
        "found",
        "not_found",
        "denied",
        "found",
        "found",
        "error",
    ]
    receiver.start()
    try:
        child.stdin.write("go\n")
        child.stdin.flush()
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert json.loads(out.splitlines()[0])["source"] == "explicit"
        assert receiver.wait_for(
            lambda: any(
                s["attributes"].get("secrets.source") == "explicit" for s in receiver.spans()
            )
        )
        assert any(
            r["event_name"] == "secret.resolved" and r["attributes"].get("user.id") == "bob"
            for r in receiver.logs()
        )
    finally:
        receiver.stop()


def test_no_canary_reaches_any_signal(
    moto_server, aws_admin, monkeypatch, tmp_path, receiver, config_path
):
    """Canaries in every source and credential; every outcome; zero hits in every byte out.

    Searched: every OTLP request body the receiver got (spans, metrics, logs), the
    application's structlog JSON lines, its stdlib log file at DEBUG (hvac, urllib3,
    botocore, azure), its standard output and error.
    """
    from abstractcore_secrets.testing import AzureKeyVaultEmulator, OpenBaoServer
    from abstractcore_secrets.testing.canary import find_leaks

    values = {
        name: canary(f"canary-{name}")
        for name in ("env", "envfile", "vault", "aws", "azure", "config", "explicit")
    }
    vault_token, aws_key, azure_token = (
        canary("hvs-canary"),
        canary("aws-canary"),
        canary("azure-canary"),
    )
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", aws_key)
    aws_admin.create_secret(Name="abstractcore/mistral", SecretString=values["aws"])
    key_file = tmp_path / "groq-key"
    key_file.write_text(values["envfile"] + "\n")
    key_file.chmod(0o600)
    config_path.parent.mkdir(parents=True)
    config_path.write_text(json.dumps({"api_keys": {"vllm": values["config"]}}))
    config_path.chmod(0o600)
    debug_log, structlog_file = tmp_path / "debug.log", tmp_path / "structlog.jsonl"
    with (
        OpenBaoServer(root_token=vault_token) as bao,
        AzureKeyVaultEmulator(token=azure_token) as azure,
    ):
        bao.put_kv("abstractcore", {"anthropic": values["vault"]})
        azure.set_secret("ollama", values["azure"])
        azure.set_secret("deniedp", values["azure"])
        azure.fail_with(403, name="deniedp")
        azure.fail_with(500, name="brokenp")
        resolutions, result = run_app(
            "real-sources",
            receiver,
            "http/protobuf",
            OPENAI_API_KEY=values["env"],
            GROQ_API_KEY_FILE=str(key_file),
            VAULT_ADDR=bao.address,
            VAULT_TOKEN=vault_token,
            APP_AWS_URL=moto_server,
            APP_AZURE_URL=azure.vault_url,
            APP_AZURE_TOKEN=azure_token,
            APP_AZURE_CA=azure.ca_pem_path,
            APP_EXPLICIT=values["explicit"],
            APP_PROVIDERS="openai,groq,anthropic,mistral,ollama,vllm,together,deniedp,brokenp",
            APP_DEBUG_LOG=str(debug_log),
            APP_STRUCTLOG=str(structlog_file),
        )
    assert [(r["provider"], r["outcome"], r["source"]) for r in resolutions] == [
        ("openai", "found", "env"),
        ("groq", "found", "env"),
        ("anthropic", "found", "vault"),
        ("mistral", "found", "aws"),
        ("ollama", "found", "azure"),
        ("vllm", "found", "config"),
        ("together", "not_found", None),
        ("deniedp", "denied", None),
        ("brokenp", "error", None),
        ("portkey", "found", "explicit"),
    ]
    assert receiver.wait_for(lambda: len(receiver.logs()) >= 10)
    everything = [
        *receiver.raw(),
        result.stdout,
        result.stderr,
        debug_log.read_text(),
        structlog_file.read_text(),
    ]
    assert "urllib3" in debug_log.read_text()  # the SDKs did log at DEBUG
    assert '"event": "done"' in structlog_file.read_text()
    assert '"event": "secret.resolved"' in structlog_file.read_text()  # the audit sink
    assert find_leaks(everything, [*values.values(), vault_token, aws_key, azure_token]) == []


def test_spans_nest_under_the_caller_and_sdk_spans_under_ours(
    openbao, moto_server, aws_admin, receiver, config_path
):
    """app.request > secrets.resolve > secrets.lookup > the requests / botocore client span."""
    openbao.put_kv("nesting", {"anthropic": "sk-nest-vault"})
    aws_admin.create_secret(Name="abstractcore/mistral", SecretString="sk-nest-aws")
    config_path.parent.mkdir(parents=True)
    config_path.write_text(
        json.dumps(
            {
                "secrets": {
                    "chain": ["env", "vault", "aws", "config"],
                    "sources": {
                        "vault": {
                            "addr": openbao.address,
                            "token": openbao.root_token,
                            "path": "secret/data/nesting",
                        },
                        "aws": {"endpoint_url": moto_server, "region": "us-east-1"},
                    },
                }
            }
        )
    )
    config_path.chmod(0o600)
    resolutions, _ = run_app("nesting", receiver, "grpc", APP_PROVIDERS="anthropic,mistral")
    assert [r["source"] for r in resolutions] == ["vault", "aws"]
    assert receiver.wait_for(lambda: any(s["name"] == "app.request" for s in receiver.spans()))
    spans = receiver.spans()
    by_id = _by_id(spans)
    app = next(s for s in spans if s["name"] == "app.request")

    def chain_of(span):
        names = []
        while span is not None:
            names.append(span["name"])
            span = by_id.get(span["parent_span_id"])
        return names

    resolves = [s for s in spans if s["name"] == "secrets.resolve"]
    assert all(s["parent_span_id"] == app["span_id"] for s in resolves)
    http_spans = [s for s in spans if s["scope"].startswith("opentelemetry.instrumentation")]
    lookup_parents = {
        by_id[s["parent_span_id"]]["attributes"]["secrets.source"]
        for s in http_spans
        if by_id[s["parent_span_id"]]["name"] == "secrets.lookup"
    }
    assert lookup_parents == {"vault", "aws"}
    botocore_span = next(s for s in http_spans if "GetSecretValue" in s["name"])
    assert chain_of(botocore_span) == [
        botocore_span["name"],
        "secrets.lookup",
        "secrets.resolve",
        "app.request",
    ]


def test_exit_is_bounded_when_the_collector_is_down():
    """With nothing at the endpoint, the application exits within the telemetry exit bound."""
    receiver = OTLPReceiver()  # never started
    started = time.monotonic()
    resolutions, _ = run_app(
        "outcomes",
        receiver,
        "grpc",
        APP_VALUE=canary(),
        OTEL_EXPORTER_OTLP_TIMEOUT="10",
        APP_FLUSH_SECONDS="2",
        ABSTRACTCORE_SECRETS_TELEMETRY_EXIT_TIMEOUT="2",
    )
    assert len(resolutions) == 7
    # Three providers, each waiting up to 10 s one after another, would take about 30 s.
    assert time.monotonic() - started < 12
