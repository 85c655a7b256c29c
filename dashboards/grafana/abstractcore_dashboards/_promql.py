"""The series the dashboards read, filtered by the dashboards' variables, and the alert names.

Each constant is a PromQL selector with the matchers its labels allow: the library's own
metrics name the provider and source ``secrets_provider`` and ``secrets_source``; the series
the collector derives from audit records name them ``provider`` and ``source``. Every selector
is scoped to the chosen services (``job=~"$service"``); a panel only adds aggregation and
windows. Recording rules and alerts are defined with the Prometheus rules, under these names.
"""

from __future__ import annotations


def _selector(metric: str, *matchers: str) -> str:
    return f"{metric}{{{', '.join(matchers)}}}"


_SERVICE = 'job=~"$service"'
_SECRETS_PROVIDER = 'secrets_provider=~"$provider"'
_SECRETS_SOURCE = 'secrets_source=~"$source"'
_PROVIDER = 'provider=~"$provider"'
_SOURCE = 'source=~"$source"'

# Emitted by the library. Counts of resolutions read the counter, which counts every
# resolution, cache hits included; the histogram times only the resolutions that went through
# the chain of sources (a fresh cache hit is counted, not timed), so it serves latency only.
_RESOLUTION_COUNTER = "abstractcore_secrets_resolutions_total"
RESOLUTIONS = _selector(
    _RESOLUTION_COUNTER,
    _SERVICE,
    _SECRETS_PROVIDER,
    _SECRETS_SOURCE,
)
RESOLUTION_BUCKETS = _selector(
    "abstractcore_secrets_resolution_duration_seconds_bucket",
    _SERVICE,
    _SECRETS_PROVIDER,
    _SECRETS_SOURCE,
)
LOOKUPS = _selector("abstractcore_secrets_lookup_duration_seconds_count", _SERVICE, _SECRETS_SOURCE)
CIRCUIT_STATE = _selector("abstractcore_secrets_circuit_state", _SERVICE, _SECRETS_SOURCE)
SECRET_AGE = _selector(
    "abstractcore_secrets_secret_age_seconds", _SERVICE, _SECRETS_PROVIDER, _SECRETS_SOURCE
)
DENIED_RESOLUTIONS = _selector(
    _RESOLUTION_COUNTER,
    _SERVICE,
    _SECRETS_PROVIDER,
    _SECRETS_SOURCE,
    'secrets_outcome="denied"',
)
AUDIT_RECORDS = _selector("abstractcore_secrets_audit_records_total", _SERVICE)
REDACTIONS = _selector("abstractcore_secrets_redactions_total", _SERVICE)

# Derived by the collector from audit records and spans.
AUDIT_EVENTS = _selector("abstractcore_secrets_audit_events_total", _SERVICE, _PROVIDER, _SOURCE)
AUDIT_DENIALS = _selector("abstractcore_secrets_audit_denials_total", _SERVICE, _PROVIDER, _SOURCE)
JOURNAL_CHECKPOINTS = _selector("abstractcore_secrets_journal_checkpoints_total", _SERVICE)
LOOKUP_RETRIES = _selector("abstractcore_secrets_lookup_retried_total", _SERVICE, _SECRETS_SOURCE)

# Recording rules.
RESOLUTIONS_RATE5M = _selector(
    "abstractcore_secrets:resolutions:rate5m", _SERVICE, _SECRETS_PROVIDER, _SECRETS_SOURCE
)
CACHE_HIT_RATIO_RATE5M = _selector("abstractcore_secrets:cache_hit:ratio_rate5m", _SERVICE)
RESOLUTION_P99_RATE5M = _selector(
    "abstractcore_secrets:resolution_duration_seconds:p99_rate5m", _SERVICE, _SECRETS_SOURCE
)
LOOKUP_P99_RATE5M = _selector(
    "abstractcore_secrets:lookup_duration_seconds:p99_rate5m", _SERVICE, _SECRETS_SOURCE
)
AVAILABILITY_RATE30D = _selector("abstractcore_secrets:availability:ratio_rate30d", _SERVICE)
ERROR_BUDGET_REMAINING = _selector("abstractcore_secrets:error_budget_remaining:ratio", _SERVICE)
ERROR_RATIO_WINDOWS = ("5m", "30m", "1h", "6h", "1d", "3d", "30d")
"""The windows over which the rules record the resolution error ratio."""


def error_ratio(window: str) -> str:
    """Select the recorded resolution error ratio over one of `ERROR_RATIO_WINDOWS`.

    Args:
        window: The window, e.g. ``1h``.

    Returns:
        The selector.

    Raises:
        ValueError: If no rule records that window.
    """
    if window not in ERROR_RATIO_WINDOWS:
        raise ValueError(f"no recording rule for the error ratio over {window}")
    return _selector(f"abstractcore_secrets:resolution_errors:ratio_rate{window}", _SERVICE)


# Alerts.
ALERTS = 'ALERTS{alertname=~"AbstractcoreSecrets.*"}'
ERROR_BUDGET_FAST_BURN = "AbstractcoreSecretsErrorBudgetFastBurn"
ERROR_BUDGET_SLOW_BURN = "AbstractcoreSecretsErrorBudgetSlowBurn"
SOURCE_DOWN = "AbstractcoreSecretsSourceDown"
SERVING_STALE = "AbstractcoreSecretsServingStale"
SERVING_DEGRADED = "AbstractcoreSecretsServingDegraded"
DENIAL_SPIKE = "AbstractcoreSecretsDenialSpike"
AUDIT_RECORD_FAILED = "AbstractcoreSecretsAuditRecordFailed"
KEY_PAST_ROTATION = "AbstractcoreSecretsKeyPastRotation"
LOOKUP_LATENCY_HIGH = "AbstractcoreSecretsLookupLatencyHigh"
TELEMETRY_ABSENT = "AbstractcoreSecretsTelemetryAbsent"
