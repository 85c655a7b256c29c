"""Spans, metrics and audit log records through the real OTLP exporters into real receivers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
            "secrets.locator": "vault:openai",
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
        hit = resolves[1]
        assert hit["attributes"]["secrets.cache_hit"] is True
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
        found = [
            p
            for p in resolutions
            if p["attributes"]
            == {
                "secrets.provider": "openai",
                "secrets.source": "vault",
                "secrets.outcome": "found",
                "secrets.cache_hit": False,
            }
        ]
        assert found
        assert found[-1]["value"] == 2  # found, then refreshed after rotation
        keys = {key for p in points for key in p["attributes"]}
        assert keys <= {
            "secrets.provider",
            "secrets.source",
            "secrets.outcome",
            "secrets.cache_hit",
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
            "cache_hit": False,
            "service.name": "telemetry-app",
            "seq": 1,
        }
        assert json.loads(first["user"])["id"] == "alice"
        assert first["fingerprint"].startswith("hmac-sha256:")
        assert [a["source"] for a in json.loads(first["attempts"])] == ["azure", "vault"]
        resolve_spans = [s for s in receiver.spans() if s["name"] == "secrets.resolve"]
        assert first["trace_id"] == resolve_spans[0]["trace_id"]
        assert records[0]["trace_id"] == resolve_spans[0]["trace_id"]
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
            r["event_name"] == "secret.resolved"
            and json.loads(r["attributes"]["user"])["id"] == "bob"
            for r in receiver.logs()
        )
    finally:
        receiver.stop()
