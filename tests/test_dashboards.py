"""Specification of the Grafana dashboards in dashboards/grafana.

The dashboards are Python (grafana-foundation-sdk) rendered to committed JSON; these tests
hold the JSON to its generator and to the conventions every panel follows. Running each
expression against a Prometheus is the end-to-end suite's job, through the `queries` helpers
tested at the bottom of this file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from observability_stack import dashboard_queries

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "dashboards" / "grafana"
GENERATE = GRAFANA / "generate.py"
JSON_DIR = GRAFANA / "json"
DOCS = "https://github.com/abstractcore/abstractcore-secrets/blob/main/docs"

FILES = ("audit-trail.json", "resolution-health.json", "secrets-access.json")
ANCHORS = {
    "secrets-access.json": "secrets-access",
    "resolution-health.json": "resolution-health",
    "audit-trail.json": "audit-trail",
}
ALERTS = (
    "AbstractcoreSecretsErrorBudgetFastBurn",
    "AbstractcoreSecretsErrorBudgetSlowBurn",
    "AbstractcoreSecretsSourceDown",
    "AbstractcoreSecretsServingStale",
    "AbstractcoreSecretsServingDegraded",
    "AbstractcoreSecretsDenialSpike",
    "AbstractcoreSecretsAuditRecordFailed",
    "AbstractcoreSecretsKeyPastRotation",
    "AbstractcoreSecretsLookupLatencyHigh",
    "AbstractcoreSecretsTelemetryAbsent",
)
BUDGET = {"AbstractcoreSecretsErrorBudgetFastBurn", "AbstractcoreSecretsErrorBudgetSlowBurn"}

# The panels whose subject an alert watches, and the runbook sections they must link to.
RUNBOOK_PANELS: dict[tuple[str, str], set[str]] = {
    ("secrets-access.json", "Resolutions"): {"AbstractcoreSecretsTelemetryAbsent"},
    ("secrets-access.json", "Denials"): {"AbstractcoreSecretsDenialSpike"},
    ("secrets-access.json", "Rotations"): {"AbstractcoreSecretsKeyPastRotation"},
    ("secrets-access.json", "Denials by provider, source and principal"): {
        "AbstractcoreSecretsDenialSpike"
    },
    ("secrets-access.json", "Stale or degraded serving"): {
        "AbstractcoreSecretsServingStale",
        "AbstractcoreSecretsServingDegraded",
    },
    ("secrets-access.json", "Rotations by provider and source"): {
        "AbstractcoreSecretsKeyPastRotation"
    },
    ("resolution-health.json", "Error budget remaining"): BUDGET,
    ("resolution-health.json", "Availability (30 d)"): BUDGET,
    ("resolution-health.json", "Worst circuit state"): {"AbstractcoreSecretsSourceDown"},
    ("resolution-health.json", "Error budget burn rate (1 h and 6 h)"): BUDGET,
    ("resolution-health.json", "Error ratio by window"): BUDGET,
    ("resolution-health.json", "Resolutions by source and outcome"): {
        "AbstractcoreSecretsTelemetryAbsent"
    },
    ("resolution-health.json", "Lookups by source, outcome and error"): {
        "AbstractcoreSecretsSourceDown"
    },
    ("resolution-health.json", "Lookup latency p99 by source"): {
        "AbstractcoreSecretsLookupLatencyHigh"
    },
    ("resolution-health.json", "Circuit state by source"): {"AbstractcoreSecretsSourceDown"},
    ("resolution-health.json", "Retries by source"): {"AbstractcoreSecretsSourceDown"},
    ("resolution-health.json", "Stale or degraded serving by source"): {
        "AbstractcoreSecretsServingStale",
        "AbstractcoreSecretsServingDegraded",
    },
    ("audit-trail.json", "Audit records by result"): {"AbstractcoreSecretsAuditRecordFailed"},
    ("audit-trail.json", "Audit records by sink and result"): {
        "AbstractcoreSecretsAuditRecordFailed"
    },
    ("audit-trail.json", "Audit records in range by sink and result"): {
        "AbstractcoreSecretsAuditRecordFailed"
    },
    ("audit-trail.json", "Secret age against the rotation target"): {
        "AbstractcoreSecretsKeyPastRotation"
    },
    ("audit-trail.json", "Oldest keys"): {"AbstractcoreSecretsKeyPastRotation"},
}


queries = dashboard_queries()


def _dashboards() -> dict[str, dict]:
    return {name: json.loads((JSON_DIR / name).read_text(encoding="utf-8")) for name in FILES}


DASHBOARDS = _dashboards()
PANELS = [
    pytest.param(name, panel, id=f"{ANCHORS[name]}: {panel['title']}")
    for name, dashboard in DASHBOARDS.items()
    for panel in queries.iter_panels(dashboard)
]


def _links(panel: dict) -> set[str]:
    return {link["url"] for link in panel.get("links", [])}


def _run_generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATE), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


needs_sdk = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="grafana-foundation-sdk needs Python 3.11 or later"
)


@needs_sdk
class TestGenerate:
    """generate.py, which writes the dashboards' JSON from their Python definitions."""

    def test_regenerating_writes_the_committed_files_byte_for_byte(self, tmp_path):
        """Generating into an empty folder gives exactly the committed files, same bytes."""
        output = tmp_path / "json"
        result = _run_generate("--output", str(output))

        assert result.returncode == 0, result.stderr
        assert sorted(path.name for path in output.iterdir()) == sorted(FILES)
        for name in FILES:
            assert (output / name).read_bytes() == (JSON_DIR / name).read_bytes(), name

    def test_check_passes_on_the_committed_files(self):
        """--check exits 0 and says nothing when the committed JSON is current."""
        result = _run_generate("--check")

        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")

    def test_check_names_the_file_that_differs(self, tmp_path):
        """--check exits 1 and names an edited file, leaving it as it was."""
        for name in FILES:
            shutil.copy(JSON_DIR / name, tmp_path / name)
        edited = tmp_path / "audit-trail.json"
        edited.write_text(edited.read_text(encoding="utf-8") + " ", encoding="utf-8")

        result = _run_generate("--check", "--output", str(tmp_path))

        assert result.returncode == 1
        assert "audit-trail.json differs" in result.stdout
        assert "secrets-access.json" not in result.stdout
        assert edited.read_text(encoding="utf-8").endswith("\n ")

    def test_check_names_a_json_file_it_does_not_generate(self, tmp_path):
        """--check exits 1 for a stray dashboard that no code generates any more."""
        for name in FILES:
            shutil.copy(JSON_DIR / name, tmp_path / name)
        (tmp_path / "old.json").write_text("{}\n", encoding="utf-8")

        result = _run_generate("--check", "--output", str(tmp_path))

        assert result.returncode == 1
        assert "old.json is not generated" in result.stdout


class TestDashboards:
    """The three dashboards as a whole."""

    @pytest.mark.parametrize("name", FILES)
    def test_files_are_sorted_indented_json_ending_in_a_newline(self, name):
        """Each file is what json.dumps(sort_keys=True, indent=2) writes, plus a newline."""
        text = (JSON_DIR / name).read_text(encoding="utf-8")

        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"

    def test_titles_and_uids_are_stable(self):
        """Each dashboard has its own title and a uid that URLs can rely on."""
        assert {name: (d["title"], d["uid"]) for name, d in DASHBOARDS.items()} == {
            "secrets-access.json": ("Secrets access", "abstractcore-secrets-access"),
            "resolution-health.json": (
                "Resolution health",
                "abstractcore-secrets-resolution-health",
            ),
            "audit-trail.json": ("Audit trail", "abstractcore-secrets-audit-trail"),
        }

    @pytest.mark.parametrize("name", FILES)
    def test_panel_ids_are_unique(self, name):
        """No two panels, rows included, share an id."""
        ids = [panel["id"] for panel in DASHBOARDS[name]["panels"]]

        assert len(ids) == len(set(ids))

    @pytest.mark.parametrize("name", FILES)
    def test_variables_are_service_provider_and_source(self, name):
        """service (the job label), provider and source come from label_values queries."""
        variables = {v["name"]: v for v in DASHBOARDS[name]["templating"]["list"]}

        assert list(variables) == ["service", "provider", "source"]
        assert re.fullmatch(r"label_values\(\w+, job\)", variables["service"]["query"])
        assert re.fullmatch(
            r'label_values\(\w+\{job=~"\$service"\}, secrets_provider\)',
            variables["provider"]["query"],
        )
        assert re.fullmatch(
            r'label_values\(\w+\{job=~"\$service"\}, secrets_source\)',
            variables["source"]["query"],
        )
        for variable in variables.values():
            assert variable["type"] == "query"
            assert variable["datasource"] == {"type": "prometheus", "uid": "prometheus"}
            assert (variable["multi"], variable["includeAll"], variable["allValue"]) == (
                True,
                True,
                ".*",
            )

    def test_every_alert_has_a_panel_linking_to_its_runbook(self):
        """Each alert's runbook section is one click away from a panel about it."""
        linked = {
            url
            for dashboard in DASHBOARDS.values()
            for panel in queries.iter_panels(dashboard)
            for url in _links(panel)
        }

        assert {f"{DOCS}/runbooks.md#{alert.lower()}" for alert in ALERTS} <= linked

    def test_the_runbook_table_names_existing_panels(self):
        """Every panel named in this file's runbook table exists, so none is unchecked."""
        titles = {
            (name, panel["title"])
            for name, dashboard in DASHBOARDS.items()
            for panel in queries.iter_panels(dashboard)
        }

        assert set(RUNBOOK_PANELS) <= titles


class TestPanels:
    """Every panel of every dashboard."""

    @pytest.mark.parametrize(("name", "panel"), PANELS)
    def test_panel_has_a_title_the_prometheus_datasource_and_a_query(self, name, panel):
        """A panel has a title, reads the data source of uid prometheus and runs PromQL."""
        assert panel["title"]
        assert panel["description"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        assert panel["targets"]
        for target in panel["targets"]:
            assert target["expr"]
            assert target["datasource"] == {"type": "prometheus", "uid": "prometheus"}

    @pytest.mark.parametrize(("name", "panel"), PANELS)
    def test_panel_links_to_its_runbook_or_to_the_guide(self, name, panel):
        """A panel an alert watches links to that alert's runbook; any other to the guide."""
        alerts = RUNBOOK_PANELS.get((name, panel["title"]), set())
        links = _links(panel)

        if panel["type"] == "table" and panel["title"] == "Alerts":
            assert links == {f"{DOCS}/runbooks.md"}
        elif alerts:
            assert {f"{DOCS}/runbooks.md#{alert.lower()}" for alert in alerts} <= links
        else:
            assert f"{DOCS}/observability.md#{ANCHORS[name]}" in links
        for link in panel["links"]:
            assert link["targetBlank"] is True

    @pytest.mark.parametrize(("name", "panel"), PANELS)
    def test_queries_are_scoped_to_the_chosen_services(self, name, panel):
        """Every expression filters on job=~"$service", save the alerts' own panel."""
        for target in panel["targets"]:
            if target["expr"].startswith("ALERTS{"):
                continue
            assert 'job=~"$service"' in target["expr"]

    @pytest.mark.parametrize(("name", "panel"), PANELS)
    def test_rates_use_the_rate_interval_or_the_range(self, name, panel):
        """rate() and increase() windows are $__rate_interval or $__range, never fixed."""
        for target in panel["targets"]:
            windows = re.findall(r"(?:rate|increase)\([^\[]*\[([^\]]+)\]", target["expr"])
            assert set(windows) <= {"$__rate_interval", "$__range"}

    @pytest.mark.parametrize(("name", "panel"), PANELS)
    def test_queries_need_no_value_the_workload_may_lack(self, name, panel):
        """No absent(), no panel filtered to failures or staleness alone."""
        for target in panel["targets"]:
            expr = target["expr"]
            assert "absent(" not in expr
            assert 'result="failed"' not in expr
            assert 'secrets_stale="true"' not in expr

    def test_latency_heatmap_reads_buckets_in_heatmap_format(self):
        """The latency heatmap shows Prometheus's own buckets rather than recomputing them."""
        (heatmap,) = [
            panel
            for panel in queries.iter_panels(DASHBOARDS["resolution-health.json"])
            if panel["type"] == "heatmap"
        ]
        (target,) = heatmap["targets"]

        assert target["format"] == "heatmap"
        assert target["expr"].startswith("sum by (le) (rate(")
        assert "_bucket{" in target["expr"]
        assert heatmap["options"]["calculate"] is False

    def test_secret_age_shows_the_90_day_rotation_target(self):
        """The secret-age panel draws the rotation target, 90 days, as a threshold."""
        (panel,) = [
            panel
            for panel in queries.iter_panels(DASHBOARDS["audit-trail.json"])
            if panel["title"] == "Secret age against the rotation target"
        ]

        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [step["value"] for step in steps] == [None, 90 * 24 * 3600]
        assert panel["fieldConfig"]["defaults"]["unit"] == "s"


class TestPanelQueries:
    """queries.panel_queries, which lists a dashboard's expressions for the end-to-end suite."""

    def test_lists_targets_in_order_with_dashboard_and_panel_title(self):
        """Rows are skipped, collapsed rows' panels included, targets without expr left out."""
        dashboard = {
            "title": "D",
            "panels": [
                {"type": "row", "title": "Open row", "panels": []},
                {"type": "timeseries", "title": "P1", "targets": [{"expr": "a"}, {"expr": "b"}]},
                {
                    "type": "row",
                    "title": "Collapsed row",
                    "panels": [{"type": "stat", "title": "P2", "targets": [{"expr": "c"}]}],
                },
                {"type": "text", "title": "Notes"},
                {"type": "stat", "title": "P3", "targets": [{"refId": "A"}]},
            ],
        }

        assert queries.panel_queries(dashboard) == [
            ("D / P1", "a"),
            ("D / P1", "b"),
            ("D / P2", "c"),
        ]

    @pytest.mark.parametrize("name", FILES)
    def test_lists_one_entry_per_target_of_the_committed_dashboards(self, name):
        """Each committed dashboard yields every one of its targets, titled by dashboard."""
        dashboard = DASHBOARDS[name]
        listed = queries.panel_queries(dashboard)
        targets = [t for p in queries.iter_panels(dashboard) for t in p["targets"]]

        assert [expr for _, expr in listed] == [t["expr"] for t in targets]
        assert all(title.startswith(f"{dashboard['title']} / ") for title, _ in listed)

    def test_load_dashboards_reads_the_committed_files_in_name_order(self):
        """load_dashboards() defaults to the generated JSON, sorted by file name."""
        assert queries.load_dashboards() == [DASHBOARDS[name] for name in FILES]


class TestSubstituteVariables:
    """queries.substitute_variables, which makes an expression runnable outside Grafana."""

    @pytest.mark.parametrize(
        ("expr", "expected"),
        [
            ('up{job=~"$service"}', 'up{job=~".*"}'),
            (
                'x{secrets_provider=~"$provider", source=~"${source}"}',
                'x{secrets_provider=~".*", source=~".*"}',
            ),
            ("rate(x[$__rate_interval])", "rate(x[1m])"),
            ("rate(x[$__interval])", "rate(x[1m])"),
            ("increase(x[$__range])", "increase(x[1h])"),
            ('x{le=~"0.1$"}', 'x{le=~"0.1$"}'),
        ],
        ids=[
            "service",
            "provider and braced source",
            "rate interval",
            "interval",
            "range",
            "regex anchor",
        ],
    )
    def test_replaces_each_variable(self, expr, expected):
        """Variables become .*, 1m or 1h; a regex's end anchor is left alone."""
        assert queries.substitute_variables(expr) == expected

    def test_refuses_an_unknown_variable(self):
        """A variable it cannot replace is an error, not a query Prometheus rejects later."""
        with pytest.raises(ValueError, match=r"\$cluster"):
            queries.substitute_variables('up{cluster=~"$cluster"}')

    @pytest.mark.parametrize("name", FILES)
    def test_leaves_no_variable_in_the_committed_dashboards(self, name):
        """Every committed expression substitutes to plain PromQL with no $ left but anchors."""
        for _, expr in queries.panel_queries(DASHBOARDS[name]):
            assert not re.search(r"\$\{?\w", queries.substitute_variables(expr))
