"""The security team's dashboard: who resolved which key, from where, and who was refused."""

from __future__ import annotations

from grafana_foundation_sdk.models import dashboard as models

from . import _promql as q
from ._panels import (
    dashboard,
    guide,
    query,
    runbook,
    single_stat,
    thresholds,
    timeseries,
    value_table,
)

UID = "abstractcore-secrets-access"
GUIDE = guide("secrets-access")


def build() -> models.Dashboard:
    """Build the Secrets access dashboard."""
    return dashboard(
        uid=UID,
        title="Secrets access",
        description=(
            "For security reviews: resolutions by provider, source and outcome; denials by "
            "principal; principal and provider pairs not seen the day before; rotations; "
            "keys served stale; which sources answered."
        ),
        time_from="now-24h",
        sections=[
            (
                "Overview",
                [
                    single_stat(
                        "Resolutions",
                        "How many key resolutions the selected services made in the time range.",
                        query(f"sum(increase({q.RESOLUTIONS}[$__range]))", instant=True),
                        links=[GUIDE, runbook(q.TELEMETRY_ABSENT)],
                    ),
                    single_stat(
                        "Denials",
                        "How many resolutions a policy refused in the time range.",
                        # The library's exact count (0 when none), not the collector's.
                        query(
                            f"sum(increase({q.DENIED_RESOLUTIONS}[$__range])) or vector(0)",
                            instant=True,
                        ),
                        links=[runbook(q.DENIAL_SPIKE)],
                        limits=thresholds((None, "green"), (1, "orange")),
                    ),
                    single_stat(
                        "Rotations",
                        "How many served keys changed in the time range (their age restarted).",
                        # A key's age restarts when it rotates; the age is exported every
                        # interval, unlike the rare rotation events.
                        query(f"sum(resets({q.SECRET_AGE}[$__range]))", instant=True),
                        links=[runbook(q.KEY_PAST_ROTATION)],
                    ),
                    single_stat(
                        "Principals",
                        "How many distinct principals (pseudonymous user ids) asked for a key.",
                        query(
                            "count(count by (user_pseudo_id) "
                            f"(last_over_time({q.AUDIT_EVENTS}[$__range])))",
                            instant=True,
                        ),
                        links=[GUIDE],
                    ),
                ],
            ),
            (
                "Who asked for which key",
                [
                    timeseries(
                        "Resolutions by provider, source and outcome",
                        "Resolutions per second (5-minute rate), by LLM provider, winning "
                        "source (none when no source had the key) and outcome.",
                        [
                            query(
                                "sum by (secrets_provider, secrets_source, secrets_outcome) "
                                f"({q.RESOLUTIONS_RATE5M})",
                                "{{secrets_provider}} {{secrets_source}} {{secrets_outcome}}",
                            )
                        ],
                        links=[GUIDE],
                        unit="ops",
                    ),
                    timeseries(
                        "Denials by provider, source and principal",
                        "Refused resolutions per second, by provider, source and principal. "
                        "A principal refused again and again is probing or misconfigured.",
                        [
                            query(
                                "sum by (provider, source, user_pseudo_id) "
                                f"(rate({q.AUDIT_DENIALS}[$__rate_interval]))",
                                "{{provider}} {{source}} {{user_pseudo_id}}",
                            )
                        ],
                        links=[runbook(q.DENIAL_SPIKE)],
                        unit="ops",
                    ),
                    value_table(
                        "Access by principal",
                        "Audit events in the time range, by provider, source, principal and "
                        "outcome.",
                        query(
                            "sum by (provider, source, user_pseudo_id, outcome) "
                            f"(increase({q.AUDIT_EVENTS}[$__range]))"
                        ),
                        links=[GUIDE],
                        value_name="Events",
                    ),
                    value_table(
                        "First-seen principal and provider pairs",
                        "Principal and provider pairs with audit events in the time range and "
                        "none in the 30 days before it: a new user of a key, or a key used by "
                        "someone new.",
                        # The derived series go stale minutes after their last event: compare
                        # whole windows, not the instants now and a day ago.
                        query(
                            "count by (provider, user_pseudo_id) "
                            f"(last_over_time({q.AUDIT_EVENTS}[$__range])) "
                            "unless on (provider, user_pseudo_id) "
                            "count by (provider, user_pseudo_id) "
                            f"(last_over_time({q.AUDIT_EVENTS}[30d] offset $__range))"
                        ),
                        links=[GUIDE],
                        value_name="Series",
                    ),
                ],
            ),
            (
                "Where keys came from",
                [
                    timeseries(
                        "Sources that answered",
                        "Resolutions per second by the source that supplied the key; none "
                        "means no source had it (not found, denied or failed).",
                        [
                            query(
                                "sum by (secrets_source) "
                                f"(rate({q.RESOLUTIONS}[$__rate_interval]))",
                                "{{secrets_source}}",
                            )
                        ],
                        links=[GUIDE],
                        unit="ops",
                        width=8,
                        stacked=True,
                    ),
                    timeseries(
                        "Stale or degraded serving",
                        "Resolutions per second by provider and whether the key was served "
                        "stale from the cache, or degraded from a lower source, because a "
                        "source was unreachable.",
                        [
                            query(
                                "sum by (secrets_provider, secrets_stale, secrets_degraded) "
                                f"(rate({q.RESOLUTIONS}[$__rate_interval]))",
                                "{{secrets_provider}} stale={{secrets_stale}} "
                                "degraded={{secrets_degraded}}",
                            )
                        ],
                        links=[runbook(q.SERVING_STALE), runbook(q.SERVING_DEGRADED)],
                        unit="ops",
                        width=8,
                        stacked=True,
                    ),
                    value_table(
                        "Rotations by provider and source",
                        "Keys rotated in the time range, by provider and source.",
                        query(
                            "sum by (secrets_provider, secrets_source) "
                            f"(resets({q.SECRET_AGE}[$__range]))"
                        ),
                        links=[runbook(q.KEY_PAST_ROTATION)],
                        value_name="Rotations",
                        width=8,
                    ),
                ],
            ),
        ],
    )
