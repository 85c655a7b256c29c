"""Every span, attribute, metric and event name the library emits, in one place.

The vocabulary shared by the telemetry and audit layers, which sit side by side and never
import each other: both import it from here, below them. docs/telemetry.md documents each
name; tests pin them.
"""

from __future__ import annotations

from ._version import __version__

SCOPE = "abstractcore_secrets"
SCOPE_VERSION = __version__

# Spans: low-cardinality names.
SPAN_RESOLVE = "secrets.resolve"
SPAN_LOOKUP = "secrets.lookup"
SPAN_EVENT_CACHE_HIT = "secrets.cache_hit"

# Attributes.
PROVIDER = "secrets.provider"
SOURCE = "secrets.source"
OUTCOME = "secrets.outcome"
CACHE_HIT = "secrets.cache_hit"
STALE = "secrets.stale"
DEGRADED = "secrets.degraded"
LOCATOR = "secrets.locator"
VERSION = "secrets.version"
TRIES = "secrets.tries"
SOURCE_REQUEST_ID = "secrets.source.request_id"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ENDUSER_ID = "enduser.id"
ENDUSER_PSEUDO_ID = "enduser.pseudo.id"

# Metrics (OTel names; Prometheus renders them with units and _total).
RESOLUTIONS = "abstractcore.secrets.resolutions"
RESOLUTION_DURATION = "abstractcore.secrets.resolution.duration"
LOOKUP_DURATION = "abstractcore.secrets.lookup.duration"
CIRCUIT_STATE = "abstractcore.secrets.circuit.state"
SECRET_AGE = "abstractcore.secrets.secret.age"  # noqa: S105 - a metric name
AUDIT_RECORDS = "abstractcore.secrets.audit.records"
REDACTIONS = "abstractcore.secrets.redactions"

# Metric attributes beyond the span ones.
SINK = "sink"
RESULT = "result"
RULE = "rule"

# Audit event names.
EVENT_RESOLVED = "secret.resolved"
EVENT_NOT_FOUND = "secret.not_found"
EVENT_DENIED = "secret.denied"
EVENT_ERROR = "secret.error"
EVENT_ROTATED = "secret.rotated"
EVENT_ACCESSED = "secret.accessed"  # a summary of cache hits

# Bucket boundaries for durations in seconds: cache hits (microseconds) to slow backends.
DURATION_BUCKETS = (
    0.00001,
    0.00005,
    0.0001,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
