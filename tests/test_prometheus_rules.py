"""Prometheus rules and Alertmanager configuration: valid, unit-tested, routed and documented.

promtool and amtool come from Debian's prometheus and prometheus-alertmanager packages, which
the test script installs. A missing tool fails these tests: they are never skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS = ROOT / "instrumentation" / "prometheus"
RULES = PROMETHEUS / "rules" / "abstractcore-secrets.rules.yml"
UNIT_TESTS = sorted((PROMETHEUS / "tests").glob("*.test.yml"))
ALERTMANAGER = PROMETHEUS / "alertmanager.yml"
CHECK_SCRIPT = PROMETHEUS / "check.sh"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/abstractcore/abstractcore-secrets/blob/main/docs/runbooks.md#"

TEAMS = ("sre", "security", "compliance")
SEVERITIES = ("page", "ticket")

# Dashboards query these names: renaming one breaks them.
RECORDING_RULES = {
    "abstractcore_secrets:resolutions:rate5m",
    "abstractcore_secrets:cache_hit:ratio_rate5m",
    "abstractcore_secrets:resolution_duration_seconds:p99_rate5m",
    "abstractcore_secrets:lookup_duration_seconds:p99_rate5m",
    "abstractcore_secrets:resolution_errors:ratio_rate5m",
    "abstractcore_secrets:resolution_errors:ratio_rate30m",
    "abstractcore_secrets:resolution_errors:ratio_rate1h",
    "abstractcore_secrets:resolution_errors:ratio_rate6h",
    "abstractcore_secrets:resolution_errors:ratio_rate1d",
    "abstractcore_secrets:resolution_errors:ratio_rate3d",
    "abstractcore_secrets:resolution_errors:ratio_rate30d",
    "abstractcore_secrets:availability:ratio_rate30d",
    "abstractcore_secrets:error_budget_remaining:ratio",
}

# Who is told, and how urgently.
ALERT_ROUTING = {
    "AbstractcoreSecretsErrorBudgetFastBurn": {"severity": "page", "team": "sre"},
    "AbstractcoreSecretsErrorBudgetSlowBurn": {"severity": "page", "team": "sre"},
    "AbstractcoreSecretsErrorBudgetTicketBurn": {"severity": "ticket", "team": "sre"},
    "AbstractcoreSecretsSourceDown": {"severity": "page", "team": "sre"},
    "AbstractcoreSecretsServingStale": {"severity": "ticket", "team": "sre"},
    "AbstractcoreSecretsServingDegraded": {"severity": "ticket", "team": "sre"},
    "AbstractcoreSecretsLookupLatencyHigh": {"severity": "ticket", "team": "sre"},
    "AbstractcoreSecretsDenialSpike": {"severity": "page", "team": "security"},
    "AbstractcoreSecretsAuditRecordFailed": {"severity": "page", "team": "compliance"},
    "AbstractcoreSecretsKeyPastRotation": {"severity": "ticket", "team": "compliance"},
    "AbstractcoreSecretsTelemetryAbsent": {"severity": "page", "team": "sre"},
}

# Alerts on counters whose series may first appear already above 0.
NEW_SERIES_ALERTS = (
    "AbstractcoreSecretsErrorBudgetFastBurn",
    "AbstractcoreSecretsErrorBudgetSlowBurn",
    "AbstractcoreSecretsDenialSpike",
    "AbstractcoreSecretsAuditRecordFailed",
)

# (inhibiting alert, inhibited alert, labels both must share)
INHIBITIONS = [
    ("AbstractcoreSecretsSourceDown", "AbstractcoreSecretsServingStale", ["job", "secrets_source"]),
    (
        "AbstractcoreSecretsSourceDown",
        "AbstractcoreSecretsLookupLatencyHigh",
        ["job", "secrets_source"],
    ),
    ("AbstractcoreSecretsErrorBudgetFastBurn", "AbstractcoreSecretsErrorBudgetSlowBurn", ["job"]),
    ("AbstractcoreSecretsErrorBudgetFastBurn", "AbstractcoreSecretsErrorBudgetTicketBurn", ["job"]),
    ("AbstractcoreSecretsErrorBudgetSlowBurn", "AbstractcoreSecretsErrorBudgetTicketBurn", ["job"]),
    ("AbstractcoreSecretsTelemetryAbsent", "AbstractcoreSecretsErrorBudgetSlowBurn", ["job"]),
]


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _groups() -> list[dict[str, Any]]:
    return _load(RULES)["groups"]


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _groups() for rule in group["rules"]]


ALERTS = {rule["alert"]: rule for rule in _rules() if "alert" in rule}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not on PATH; install it with: "
            "apt-get install -y prometheus prometheus-alertmanager",
            pytrace=False,
        )
    return path


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=PROMETHEUS, capture_output=True, text=True, timeout=100, check=False
    )


def _unit_test_cases() -> list[dict[str, Any]]:
    return [case for path in UNIT_TESTS for case in _load(path)["tests"]]


def _alert_tests() -> list[dict[str, Any]]:
    return [test for case in _unit_test_cases() for test in case.get("alert_rule_test", [])]


def _matches(matchers: list[str], alertname: str) -> bool:
    """Tell whether Alertmanager matchers on ``alertname`` alone select that alert."""
    for matcher in matchers:
        found = re.fullmatch(r'\s*alertname\s*(=~|=)\s*"(.*)"\s*', matcher)
        assert found, f"only alertname matchers are expected here, got {matcher!r}"
        operator, value = found.groups()
        if operator == "=" and value != alertname:
            return False
        if operator == "=~" and not re.fullmatch(value, alertname):
            return False
    return True


class TestRulesFile:
    """The rules file: valid, and with the names that dashboards and routing rely on."""

    def test_promtool_checks_it(self):
        """promtool check rules accepts every rule of the file."""
        result = _run(_tool("promtool"), "check", "rules", str(RULES.relative_to(PROMETHEUS)))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {len(_rules())} rules found" in result.stdout

    def test_groups_take_the_global_evaluation_interval(self):
        """No group sets interval: prometheus.yml's evaluation_interval is the one override."""
        assert [group["name"] for group in _groups() if "interval" in group] == []

    def test_recording_rules_have_the_dashboards_names(self):
        """The recording rules are exactly the names the dashboards query."""
        assert {rule["record"] for rule in _rules() if "record" in rule} == RECORDING_RULES

    def test_alerts_have_their_routing_labels(self):
        """Each alert goes to its team with its severity, and nothing else is labelled."""
        assert {name: rule["labels"] for name, rule in ALERTS.items()} == ALERT_ROUTING


@pytest.mark.parametrize("name", sorted(ALERTS))
class TestAlert:
    """Each alert: routable, self-explaining, linked to its runbook section."""

    def test_labels_name_a_severity_and_a_team(self, name):
        """The labels are a severity (page or ticket) and a team (sre, security, compliance)."""
        labels = ALERTS[name]["labels"]
        assert set(labels) == {"severity", "team"}
        assert labels["severity"] in SEVERITIES
        assert labels["team"] in TEAMS

    def test_annotations_summarise_describe_and_link(self, name):
        """Summary, description with the value or labels, and the runbook link; nothing else."""
        annotations = ALERTS[name]["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}
        assert re.search(r"\{\{[^}]*(\$value|\$labels)", annotations["description"])

    def test_runbook_url_points_at_its_section(self, name):
        """runbook_url is docs/runbooks.md on main, anchored at the lowercased alert name."""
        assert ALERTS[name]["annotations"]["runbook_url"] == RUNBOOK_BASE + name.lower()

    def test_runbook_has_its_section(self, name):
        """docs/runbooks.md has a '## <AlertName>' heading, whose anchor the link names."""
        headings = re.findall(r"^## (.+?)\s*$", RUNBOOKS.read_text(encoding="utf-8"), re.M)
        assert name in headings


class TestUnitTests:
    """The promtool unit tests: they pass, and they cover every rule."""

    def test_promtool_runs_them_all_successfully(self):
        """promtool test rules passes every test file and reports each as a success."""
        assert UNIT_TESTS, "no *.test.yml in instrumentation/prometheus/tests"
        files = [str(path.relative_to(PROMETHEUS)) for path in UNIT_TESTS]
        result = _run(_tool("promtool"), "test", "rules", *files)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.count("SUCCESS") == len(files), result.stdout
        assert "FAILED" not in result.stdout + result.stderr

    def test_they_load_the_rules_file(self):
        """Every test file loads the one rules file."""
        loaded = {
            path.name: [(path.parent / f).resolve() for f in _load(path)["rule_files"]]
            for path in UNIT_TESTS
        }
        assert loaded == {path.name: [RULES.resolve()] for path in UNIT_TESTS}

    def test_they_test_only_existing_alerts(self):
        """No test names an alert that the rules file does not define."""
        assert {test["alertname"] for test in _alert_tests()} <= set(ALERTS)

    @pytest.mark.parametrize("name", sorted(ALERTS))
    def test_each_alert_fires_in_one_test_and_stays_silent_in_another(self, name):
        """Each alert has a test where it fires and one where it is expected absent."""
        outcomes = {bool(t.get("exp_alerts")) for t in _alert_tests() if t["alertname"] == name}
        assert outcomes == {True, False}

    @pytest.mark.parametrize("name", sorted(NEW_SERIES_ALERTS))
    def test_counter_alerts_are_tested_on_series_that_appear(self, name):
        """An alert on counters fires in a test whose series appears at a value, not at 0.

        The SDK creates a series at its first event and the collector's derived counters send
        a sample only when events arrive: rate() and increase() miss what such a first sample
        holds ('_' in promtool's input is no sample).
        """
        firing = [
            case
            for case in _unit_test_cases()
            if any(
                t["alertname"] == name and t.get("exp_alerts")
                for t in case.get("alert_rule_test", [])
            )
        ]
        assert any(
            series["values"].lstrip().startswith("_")
            for case in firing
            for series in case["input_series"]
        )

    @pytest.mark.parametrize("record", sorted(RECORDING_RULES))
    def test_each_recording_rule_has_its_value_checked(self, record):
        """Each recording rule's value is compared with an expected sample in some test."""
        checked = [
            sample["labels"]
            for case in _unit_test_cases()
            for test in case.get("promql_expr_test", [])
            for sample in test.get("exp_samples", [])
        ]
        assert any(labels.startswith(record + "{") for labels in checked)


class TestAlertmanagerConfig:
    """alertmanager.yml: valid, routing by team, one webhook per team, symptoms inhibited."""

    def test_amtool_checks_it(self):
        """amtool check-config accepts it, with its three receivers."""
        result = _run(_tool("amtool"), "check-config", ALERTMANAGER.name)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout
        assert " - 3 receivers" in result.stdout

    @pytest.mark.parametrize("team", TEAMS)
    @pytest.mark.parametrize("severity", SEVERITIES)
    def test_each_team_receives_its_alerts(self, team, severity):
        """An alert labelled with a team, page or ticket, reaches that team's receiver."""
        result = _run(
            _tool("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER.name}",
            f"--verify.receivers={team}",
            f"team={team}",
            f"severity={severity}",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip() == team

    def test_alerts_are_grouped_by_name_job_and_team(self):
        """One notification per alert name, job and team."""
        assert _load(ALERTMANAGER)["route"]["group_by"] == ["alertname", "job", "team"]

    def test_each_team_has_one_webhook(self):
        """One receiver per team, one webhook each, resolved alerts included."""
        receivers = {
            receiver["name"]: receiver["webhook_configs"]
            for receiver in _load(ALERTMANAGER)["receivers"]
        }
        assert receivers == {
            team: [{"url": f"http://127.0.0.1:9095/alerts/{team}", "send_resolved": True}]
            for team in TEAMS
        }

    @pytest.mark.parametrize(
        ("source", "target", "equal"),
        INHIBITIONS,
        ids=[f"{source[19:]}-inhibits-{target[19:]}" for source, target, _ in INHIBITIONS],
    )
    def test_the_cause_inhibits_its_symptom(self, source, target, equal):
        """An inhibition rule lets the causing alert suppress the symptom for the same labels."""
        rules = _load(ALERTMANAGER)["inhibit_rules"]
        assert [
            rule["equal"]
            for rule in rules
            if _matches(rule["source_matchers"], source)
            and _matches(rule["target_matchers"], target)
        ] == [equal]

    def test_inhibitions_name_existing_alerts(self):
        """Every inhibition's source and target select at least one alert of the rules file."""
        for rule in _load(ALERTMANAGER)["inhibit_rules"]:
            for side in ("source_matchers", "target_matchers"):
                assert any(_matches(rule[side], name) for name in ALERTS), (side, rule)


class TestCheckScript:
    """check.sh, the one command that runs all of the above outside pytest."""

    def test_it_passes(self):
        """check.sh is executable and exits 0."""
        _tool("promtool")
        _tool("amtool")
        assert os.access(CHECK_SCRIPT, os.X_OK)
        result = _run(str(CHECK_SCRIPT))
        assert result.returncode == 0, result.stdout + result.stderr
