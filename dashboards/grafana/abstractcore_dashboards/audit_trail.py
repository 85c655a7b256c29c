"""The compliance dashboard: is every access recorded, are keys rotated, is nothing leaking."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as models

from . import _promql as q
from ._panels import (
    ROTATION_TARGET_SECONDS,
    dashboard,
    guide,
    query,
    runbook,
    single_stat,
    thresholds,
    timeseries,
    value_table,
)

UID = "abstractcore-secrets-audit-trail"
GUIDE = guide("audit-trail")
ROTATION_TARGET = thresholds((None, "green"), (ROTATION_TARGET_SECONDS, "red"))


def build() -> models.Dashboard:
    """Build the Audit trail dashboard."""
    return dashboard(
        uid=UID,
        title="Audit trail",
        description=(
            "For compliance: audit records written and failed per sink, journal checkpoints, "
            "secret age against the 90-day rotation target, and redactions."
        ),
        time_from="now-24h",
        sections=[
            (
                "Overview",
                [
                    single_stat(
                        "Audit records by result",
                        "Audit records written and failed, all sinks together, in the time "
                        "range. Any failure is a gap in the trail.",
                        query(
                            f"sum by (result) (increase({q.AUDIT_RECORDS}[$__range]))",
                            "{{result}}",
                            instant=True,
                        ),
                        links=[runbook(q.AUDIT_RECORD_FAILED)],
                        width=8,
                    ),
                    single_stat(
                        "Journal checkpoints",
                        "Signed checkpoints the tamper-evident journal wrote in the time range.",
                        query(
                            f"sum(increase({q.JOURNAL_CHECKPOINTS}[$__range]))",
                            instant=True,
                        ),
                        links=[GUIDE],
                        width=8,
                    ),
                    single_stat(
                        "Redactions",
                        "Values the redaction policy removed from logs, spans and exports in "
                        "the time range.",
                        query(f"sum(increase({q.REDACTIONS}[$__range]))", instant=True),
                        links=[GUIDE],
                        width=8,
                    ),
                ],
            ),
            (
                "Audit records",
                [
                    timeseries(
                        "Audit records by sink and result",
                        "Audit records per second by sink (log, otel, journal) and result "
                        "(written, failed).",
                        [
                            query(
                                "sum by (sink, result) "
                                f"(rate({q.AUDIT_RECORDS}[$__rate_interval]))",
                                "{{sink}} {{result}}",
                            )
                        ],
                        links=[runbook(q.AUDIT_RECORD_FAILED)],
                        unit="ops",
                    ),
                    value_table(
                        "Audit records in range by sink and result",
                        "Audit records in the time range, by sink and result.",
                        query(f"sum by (sink, result) (increase({q.AUDIT_RECORDS}[$__range]))"),
                        links=[runbook(q.AUDIT_RECORD_FAILED)],
                        value_name="Records",
                    ),
                    timeseries(
                        "Audit events by provider, source and outcome",
                        "Audited resolutions per second, by provider, source and outcome.",
                        [
                            query(
                                "sum by (provider, source, outcome) "
                                f"(rate({q.AUDIT_EVENTS}[$__rate_interval]))",
                                "{{provider}} {{source}} {{outcome}}",
                            )
                        ],
                        links=[GUIDE],
                        unit="ops",
                    ),
                    timeseries(
                        "Journal checkpoints over time",
                        "Checkpoints the journal wrote in each interval, by service.",
                        [
                            query(
                                "sum by (job) "
                                f"(increase({q.JOURNAL_CHECKPOINTS}[$__rate_interval]))",
                                "{{job}}",
                            )
                        ],
                        links=[GUIDE],
                    ),
                ],
            ),
            (
                "Keys and redaction",
                [
                    timeseries(
                        "Secret age against the rotation target",
                        "Age of each key in use, by provider and source; the dashed line is "
                        "the 90-day rotation target.",
                        [
                            query(
                                f"max by (secrets_provider, secrets_source) ({q.SECRET_AGE})",
                                "{{secrets_provider}} {{secrets_source}}",
                            )
                        ],
                        links=[runbook(q.KEY_PAST_ROTATION)],
                        unit="s",
                        width=8,
                        limits=ROTATION_TARGET,
                    ),
                    value_table(
                        "Oldest keys",
                        "Each key's age now, oldest first; red past the 90-day target.",
                        query(f"max by (job, secrets_provider, secrets_source) ({q.SECRET_AGE})"),
                        links=[runbook(q.KEY_PAST_ROTATION)],
                        unit="s",
                        value_name="Age",
                        limits=ROTATION_TARGET,
                        width=8,
                    ),
                    timeseries(
                        "Redactions by rule",
                        "Values each redaction rule removed in each interval.",
                        [
                            query(
                                f"sum by (rule) (increase({q.REDACTIONS}[$__rate_interval]))",
                                "{{rule}}",
                            )
                        ],
                        links=[GUIDE],
                        width=8,
                    ),
                ],
            ),
        ],
    )
