"""The observability stack of the end-to-end tests: what the repository ships, run for real.

The collector binary comes from ``instrumentation/collector/build.sh`` (cached by the
manifest's hash), its configuration is the shipped ``collector.yaml``, Prometheus evaluates
the shipped rule files, Alertmanager routes with the shipped ``alertmanager.yml`` whose
receiver URLs (and only those, plus its waits) are pointed at the test's webhook.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COLLECTOR_DIR = ROOT / "instrumentation" / "collector"
COLLECTOR_CONFIG = COLLECTOR_DIR / "collector.yaml"
PROMETHEUS_DIR = ROOT / "instrumentation" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
ALERTMANAGER_CONFIG = PROMETHEUS_DIR / "alertmanager.yml"
DASHBOARD_QUERIES = ROOT / "dashboards" / "grafana" / "abstractcore_dashboards" / "queries.py"
# Read at import, before the tests give each test a home of its own: the binary is cached in
# the real one, as build.sh run by hand or by the test script caches it.
BUILD_ENVIRONMENT = {
    **os.environ,
    "ABSTRACTCORE_COLLECTOR_CACHE": os.environ.get("ABSTRACTCORE_COLLECTOR_CACHE")
    or str(Path.home() / ".cache" / "abstractcore-secrets" / "otelcol"),
}


def build_collector() -> Path:
    """Build (or find cached) the collector; return the binary's path."""
    done = subprocess.run(
        ["bash", str(COLLECTOR_DIR / "build.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env=BUILD_ENVIRONMENT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"collector build failed:\n{done.stderr[-6000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def dashboard_queries() -> ModuleType:
    """Load dashboards/grafana's ``queries`` module (standard library only) by its path."""
    spec = importlib.util.spec_from_file_location(
        "abstractcore_dashboards_queries", DASHBOARD_QUERIES
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {DASHBOARD_QUERIES}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alertmanager_config_for(webhook_url: str, target: Path) -> Path:
    """Write the shipped alertmanager.yml with every webhook URL at ``webhook_url``.

    The routes, grouping and inhibitions stay as shipped; only where notifications go and
    how long Alertmanager waits before sending a group change (seconds, not minutes).
    """
    import yaml

    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    for receiver in config.get("receivers", []):
        for webhook in receiver.get("webhook_configs", []):
            path = re.sub(r"^https?://[^/]+", "", webhook["url"])
            webhook["url"] = webhook_url + path
    _shorten_waits(config["route"])
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    return target


def _shorten_waits(route: dict[str, Any]) -> None:
    for key, value in (("group_wait", "1s"), ("group_interval", "2s"), ("repeat_interval", "1h")):
        if key in route or route.get("routes") is not None:
            route[key] = value
    for child in route.get("routes", []):
        _shorten_waits(child)


def recording_rules() -> list[tuple[str, str]]:
    """Return (record name, expression) of every recording rule shipped."""
    import yaml

    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules.extend(
                (rule["record"], rule["expr"]) for rule in group["rules"] if "record" in rule
            )
    return rules


def json_lines(paths: list[Path]) -> Iterator[dict[str, Any]]:
    """Yield each JSON document of the files, one per line (the file exporter's format)."""
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield json.loads(line)


def archived_log_records(paths: list[Path]) -> list[dict[str, Any]]:
    """Return the log records of the file exporter's OTLP/JSON lines, flattened.

    Each: ``time``, ``observed``, ``event_name``, ``body``, ``severity``, ``trace_id``,
    ``span_id``, ``attributes`` (a plain dict), ``resource`` (a plain dict).
    """
    records = []
    for document in json_lines(paths):
        for resource_logs in document.get("resourceLogs", []):
            resource = _attributes(resource_logs.get("resource", {}).get("attributes", []))
            for scope_logs in resource_logs.get("scopeLogs", []):
                for record in scope_logs.get("logRecords", []):
                    records.append(
                        {
                            "time": int(record.get("timeUnixNano", 0)),
                            "observed": int(record.get("observedTimeUnixNano", 0)),
                            "event_name": record.get("eventName", ""),
                            "body": _value(record.get("body", {})),
                            "severity": record.get("severityText", ""),
                            "severity_number": record.get("severityNumber", 0),
                            "trace_id": record.get("traceId", ""),
                            "span_id": record.get("spanId", ""),
                            "attributes": _attributes(record.get("attributes", [])),
                            "resource": resource,
                        }
                    )
    return records


def _attributes(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    return {pair["key"]: _value(pair.get("value", {})) for pair in pairs}


_SCALARS = {"stringValue": str, "boolValue": bool, "intValue": int, "doubleValue": float}


def _value(value: dict[str, Any]) -> Any:
    for kind, convert in _SCALARS.items():
        if kind in value:
            return convert(value[kind])
    if "arrayValue" in value:
        return [_value(item) for item in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", []))
    return None
