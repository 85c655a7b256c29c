"""Every environment variable the library and its CLI read, in one place."""

from __future__ import annotations

HOME = "ABSTRACTCORE_HOME"
"""Folder for the library's own files; default ``~/.abstractcore``."""

CONFIG_FILE = "ABSTRACTCORE_CONFIG_FILE"
"""Path of the config file; default ``$ABSTRACTCORE_HOME/config/abstractcore.json``."""

PROFILE = "ABSTRACTCORE_SECRETS_PROFILE"
"""Name of the profile (``dev``, ``staging``, ``prod``, ...) of the config file to apply."""

CHAIN = "ABSTRACTCORE_SECRETS_CHAIN"
"""Comma-separated source names in priority order, e.g. ``env,vault,config``."""

CACHE_TTL = "ABSTRACTCORE_SECRETS_CACHE_TTL"
NEGATIVE_TTL = "ABSTRACTCORE_SECRETS_NEGATIVE_TTL"
MAX_STALE = "ABSTRACTCORE_SECRETS_MAX_STALE"

INSECURE_FILES = "ABSTRACTCORE_SECRETS_INSECURE_FILES"
"""``refuse`` (default) or ``warn``: what to do with a key file others can read."""

FINGERPRINT_KEY = "ABSTRACTCORE_SECRETS_FINGERPRINT_KEY"
"""Key for value fingerprints, shared by the hosts whose fingerprints must match."""

VAULT_ADDR = "VAULT_ADDR"
VAULT_TOKEN = "VAULT_TOKEN"  # noqa: S105 - a variable name, not a token
VAULT_ROLE_ID = "VAULT_ROLE_ID"
VAULT_SECRET_ID = "VAULT_SECRET_ID"  # noqa: S105 - a variable name

AUDIT_JOURNAL = "ABSTRACTCORE_SECRETS_AUDIT_JOURNAL"
"""Path of the audit journal; unset: no journal."""

AUDIT_FAILURE_MODE = "ABSTRACTCORE_SECRETS_AUDIT_FAILURE_MODE"
"""``warn`` (default) or ``block``: deny resolutions the journal could not record."""

AUDIT_HITS = "ABSTRACTCORE_SECRETS_AUDIT_HITS"
"""``every`` (an event per cache hit) or ``summary`` (counted per window); default
``summary``, ``every`` in block mode."""

AUDIT_SUMMARY_WINDOW = "ABSTRACTCORE_SECRETS_AUDIT_SUMMARY_WINDOW"
"""Seconds a ``secret.accessed`` summary counts hits for (default 60)."""

AUDIT_QUEUE_SIZE = "ABSTRACTCORE_SECRETS_AUDIT_QUEUE_SIZE"
"""Events each background audit sink may hold waiting (default 20,000: 2 s at 10,000/s)."""

TELEMETRY_HITS = "ABSTRACTCORE_SECRETS_TELEMETRY_HITS"
"""``event`` (default: an event on the caller's span) or ``span`` (a span per cache hit)."""

TELEMETRY_EXIT_TIMEOUT = "ABSTRACTCORE_SECRETS_TELEMETRY_EXIT_TIMEOUT"
"""Seconds the telemetry providers may take to flush at exit (default 5)."""

PREFIX = "ABSTRACTCORE_SECRETS_"
"""What every variable of ours but the two of AbstractCore itself begins with: a variable
with this prefix that we do not read is a typo (refused, with the name it was meant to be)."""


def ours() -> tuple[str, ...]:
    """Return every ``ABSTRACTCORE_SECRETS_*`` variable the library reads."""
    return tuple(
        sorted(
            value
            for value in globals().values()
            if isinstance(value, str) and value.startswith(PREFIX) and value != PREFIX
        )
    )
