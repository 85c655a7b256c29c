"""The SRE dashboard: is resolution meeting its objective, and which source is to blame if not."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as models

from . import _promql as q
from ._panels import (
    SLO_ERROR_BUDGET,
    PanelBuilder,
    all_runbooks,
    dashboard,
    guide,
    latency_heatmap,
    query,
    runbook,
    single_stat,
    state_timeline,
    thresholds,
    timeseries,
    value_table,
)

UID = "abstractcore-secrets-resolution-health"
GUIDE = guide("resolution-health")
BUDGET = [runbook(q.ERROR_BUDGET_FAST_BURN), runbook(q.ERROR_BUDGET_SLOW_BURN)]
CIRCUIT_STATES = (("closed", "green"), ("half-open", "orange"), ("open", "red"))
FAST_BURN, SLOW_BURN = 14.4, 6.0
"""Burn rates at which the fast (1 h) and slow (6 h) budget alerts fire."""


def build() -> models.Dashboard:
    """Build the Resolution health dashboard."""
    return dashboard(
        uid=UID,
        title="Resolution health",
        description=(
            "For on-call: the 99.9 % resolution objective and its error budget, then rate, "
            "errors and latency per source, cache hits, circuit breakers, retries and the "
            "firing alerts."
        ),
        time_from="now-6h",
        sections=[
            ("Objective", _objective()),
            ("Per source", _per_source()),
            ("Resilience", _resilience()),
            (
                "Alerts",
                [
                    value_table(
                        "Alerts",
                        "The abstractcore-secrets alerts now pending or firing; each has a "
                        "section in the runbooks.",
                        query(q.ALERTS),
                        links=[all_runbooks()],
                        value_name="Active",
                        width=24,
                    )
                ],
            ),
        ],
    )


def _objective() -> list[PanelBuilder]:
    burn_rates = [
        query(
            f"{q.error_ratio(window)} / {SLO_ERROR_BUDGET}",
            "{{job}} " + window,
            ref=ref,
        )
        for ref, window in (("A", "1h"), ("B", "6h"))
    ]
    error_ratios = [
        query(q.error_ratio(window), "{{job}} " + window, ref=chr(ord("A") + number))
        for number, window in enumerate(q.ERROR_RATIO_WINDOWS)
    ]
    return [
        single_stat(
            "Error budget remaining",
            "Share of the 30-day error budget (0.1 % of resolutions) not yet spent.",
            query(q.ERROR_BUDGET_REMAINING, "{{job}}", instant=True),
            links=BUDGET,
            unit="percentunit",
            limits=thresholds((None, "red"), (0, "orange"), (0.25, "green")),
        ),
        single_stat(
            "Availability (30 d)",
            "Share of resolutions over 30 days that did not fail.",
            query(q.AVAILABILITY_RATE30D, "{{job}}", instant=True),
            links=BUDGET,
            unit="percentunit",
            limits=thresholds((None, "red"), (1 - SLO_ERROR_BUDGET, "green")),
        ),
        single_stat(
            "Cache-hit ratio (5 m)",
            "Share of resolutions answered from the cache without asking a source.",
            query(q.CACHE_HIT_RATIO_RATE5M, "{{job}}", instant=True),
            links=[GUIDE],
            unit="percentunit",
        ),
        single_stat(
            "Worst circuit state",
            "The most open circuit breaker among the selected sources.",
            query(f"max({q.CIRCUIT_STATE})", instant=True),
            links=[runbook(q.SOURCE_DOWN)],
            limits=thresholds((None, "green"), (1, "orange"), (2, "red")),
            states=CIRCUIT_STATES,
        ),
        timeseries(
            "Error budget burn rate (1 h and 6 h)",
            "How many times faster than sustainable the budget burns: the error ratio "
            f"divided by {SLO_ERROR_BUDGET}. The fast-burn alert fires above {FAST_BURN}, "
            f"the slow-burn alert above {SLOW_BURN}.",
            burn_rates,
            links=BUDGET,
            limits=thresholds((None, "green"), (SLOW_BURN, "orange"), (FAST_BURN, "red")),
        ),
        timeseries(
            "Error ratio by window",
            "Share of resolutions that failed, over each window the rules record.",
            error_ratios,
            links=BUDGET,
            unit="percentunit",
        ),
    ]


def _per_source() -> list[PanelBuilder]:
    return [
        timeseries(
            "Resolutions by source and outcome",
            "Resolutions per second by winning source and outcome; none means no source "
            "had the key.",
            [
                query(
                    "sum by (secrets_source, secrets_outcome) "
                    f"(rate({q.RESOLUTIONS}[$__rate_interval]))",
                    "{{secrets_source}} {{secrets_outcome}}",
                )
            ],
            links=[GUIDE, runbook(q.TELEMETRY_ABSENT)],
            unit="ops",
        ),
        timeseries(
            "Lookups by source, outcome and error",
            "Lookups per second, one per source consulted, by outcome and error type.",
            [
                query(
                    "sum by (secrets_source, secrets_outcome, error_type) "
                    f"(rate({q.LOOKUPS}[$__rate_interval]))",
                    "{{secrets_source}} {{secrets_outcome}} {{error_type}}",
                )
            ],
            links=[runbook(q.SOURCE_DOWN)],
            unit="ops",
        ),
        timeseries(
            "Lookup latency p99 by source",
            "99th percentile of one source's lookup time (5-minute window).",
            [query(q.LOOKUP_P99_RATE5M, "{{secrets_source}}")],
            links=[runbook(q.LOOKUP_LATENCY_HIGH)],
            unit="s",
        ),
        timeseries(
            "Resolution latency p99 by source",
            "99th percentile of the time of resolutions that went through the chain of "
            "sources (cache misses, refreshes, stale answers, errors), by winning source "
            "(5-minute window). Cache hits are counted but not timed: they are not in it.",
            [query(q.RESOLUTION_P99_RATE5M, "{{secrets_source}}")],
            links=[GUIDE],
            unit="s",
        ),
        latency_heatmap(
            "Resolution latency distribution",
            "Timed resolutions per second in each duration bucket: local sources at the "
            "bottom, slow sources and time-outs at the top. Cache hits are counted but not "
            "timed: they are not here (see Resolutions by cache hit).",
            query(
                f"sum by (le) (rate({q.RESOLUTION_BUCKETS}[$__rate_interval]))",
                "{{le}}",
            ),
            links=[GUIDE],
        ),
        timeseries(
            "Resolutions by cache hit",
            "Resolutions per second answered from the cache or from a source.",
            [
                query(
                    f"sum by (secrets_cache_hit) (rate({q.RESOLUTIONS}[$__rate_interval]))",
                    "cache hit={{secrets_cache_hit}}",
                )
            ],
            links=[GUIDE],
            unit="ops",
            stacked=True,
        ),
    ]


def _resilience() -> list[PanelBuilder]:
    return [
        state_timeline(
            "Circuit state by source",
            "Each source's circuit breaker: closed, half-open (probing) or open (failing "
            "fast without asking the source).",
            query(f"max by (secrets_source) ({q.CIRCUIT_STATE})", "{{secrets_source}}"),
            links=[runbook(q.SOURCE_DOWN)],
            states=CIRCUIT_STATES,
            width=8,
        ),
        timeseries(
            "Retries by source",
            "Lookups retried per second, by source: a source that needs retries is flaky.",
            [
                query(
                    f"sum by (secrets_source) (rate({q.LOOKUP_RETRIES}[$__rate_interval]))",
                    "{{secrets_source}}",
                )
            ],
            links=[runbook(q.SOURCE_DOWN)],
            unit="ops",
            width=8,
        ),
        timeseries(
            "Stale or degraded serving by source",
            "Resolutions per second by winning source and whether the cache served the key "
            "stale, or a lower source answered (degraded), because a source was unreachable.",
            [
                query(
                    "sum by (secrets_source, secrets_stale, secrets_degraded) "
                    f"(rate({q.RESOLUTIONS}[$__rate_interval]))",
                    "{{secrets_source}} stale={{secrets_stale}} degraded={{secrets_degraded}}",
                )
            ],
            links=[runbook(q.SERVING_STALE), runbook(q.SERVING_DEGRADED)],
            unit="ops",
            width=8,
        ),
    ]
