"""``AuditMiddleware``: one structured event per resolution, and one per rotation.

Fields (docs/telemetry.md): time, seq, event_id, event, provider, source, outcome, stale,
degraded, cache_hit, attempts, locator, version, fingerprint, user, service.name, host.name,
process.pid, trace_id, span_id, source_request_id, duration_ms, error.type, error.message.
The event is scrubbed by the redaction policy before any sink sees it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import itertools
import os
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from typing import Any, Protocol

from opentelemetry import trace

from .. import semconv as names
from .._otel import meter
from ..errors import ConfigurationError, ResolutionDeniedError
from ..fingerprint import Fingerprinter
from ..middleware import Handler, ResolveRequest
from ..redaction import RedactionPolicy
from ..resolution import Outcome, Resolution
from .principal import current_principal
from .sinks import LoggingSink, OTelLogSink

_FREE_FORM = ("error.message", "user", "locator", "source_request_id", "attempts")

_EVENTS = {
    Outcome.FOUND: names.EVENT_RESOLVED,
    Outcome.NOT_FOUND: names.EVENT_NOT_FOUND,
    Outcome.DENIED: names.EVENT_DENIED,
    Outcome.ERROR: names.EVENT_ERROR,
}


class AuditSink(Protocol):
    """Receives each audit event; ``name`` labels the ``audit.records`` counter."""

    name: str

    def __call__(self, event: dict[str, Any]) -> None:
        """Record one event; raise if it could not be recorded."""
        ...


class AuditUnavailableError(ResolutionDeniedError):
    """Fail-closed audit: the resolution was denied because it could not be recorded."""


class AuditFailureWarning(UserWarning):
    """An audit sink failed to record an event."""


class AuditMiddleware:
    """Emit an audit event per resolution to each sink.

    Args:
        sinks: Where events go; default a logger and OTel logs.
        policy: The redaction policy every event is scrubbed with.
        service_name: ``service.name``; default ``$OTEL_SERVICE_NAME``.
        pseudonymize: Record ``user.pseudo_id`` (keyed HMAC) instead of the principal.
        fingerprinter: Keys the pseudonyms; default the installation's key.
        failure_mode: ``warn`` (default): a failed sink is counted and warned about, the
            resolution proceeds. ``block``: a found key whose record a durable sink (the
            journal) could not write is denied, as Vault refuses what it cannot audit.
    """

    def __init__(
        self,
        sinks: Sequence[AuditSink] | None = None,
        *,
        policy: RedactionPolicy | None = None,
        service_name: str | None = None,
        pseudonymize: bool = False,
        fingerprinter: Fingerprinter | None = None,
        failure_mode: str = "warn",
    ) -> None:
        if failure_mode not in ("warn", "block"):
            raise ConfigurationError(
                f"audit failure_mode must be 'warn' or 'block', not {failure_mode!r}"
            )
        self.failure_mode = failure_mode
        self.sinks: list[AuditSink] = (
            list(sinks) if sinks is not None else [LoggingSink(), OTelLogSink()]
        )
        if failure_mode == "block":
            _check_durable(self.sinks)
        self.policy = policy or RedactionPolicy()
        self.service_name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "unknown"
        self.pseudonymize = pseudonymize
        self._fingerprinter = fingerprinter or Fingerprinter()
        self._records = meter().create_counter(
            names.AUDIT_RECORDS, unit="{record}", description="Audit records by sink and result."
        )
        self._seq = itertools.count(1)
        self._last_fingerprint: dict[str, str] = {}
        self._lock = threading.Lock()
        self._host = socket.gethostname()
        self._os_user = _os_user()

    def __call__(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Resolve, then record what happened."""
        started = time.perf_counter()
        resolution = call_next(request)
        duration = time.perf_counter() - started
        if not any(_listening(sink) for sink in self.sinks):
            # Nobody would read the event (no structlog, no OTel SDK, no journal): keep the
            # rotation state current and skip building it, off the hot path.
            self._rotation(resolution)
            return resolution
        event = self._event(_EVENTS[resolution.outcome], resolution, duration)
        failed = self._emit(event)
        if failed and self.failure_mode == "block" and resolution.found:
            return self._deny(resolution, failed)
        rotated_from = self._rotation(resolution)
        if rotated_from is not None:
            rotation = self._event(names.EVENT_ROTATED, resolution, duration)
            rotation["previous_fingerprint"] = rotated_from
            self._emit(rotation)
        return resolution

    def _rotation(self, resolution: Resolution) -> str | None:
        if resolution.fingerprint is None or resolution.source == "explicit":
            return None
        # Per source: a failover from one source to another is not a rotation.
        key = f"{resolution.provider}\0{resolution.source}"
        with self._lock:
            previous = self._last_fingerprint.get(key)
            self._last_fingerprint[key] = resolution.fingerprint
        return previous if previous not in (None, resolution.fingerprint) else None

    def _event(self, name: str, resolution: Resolution, duration: float) -> dict[str, Any]:
        span_context = trace.get_current_span().get_span_context()
        error = resolution.error
        return {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
            "seq": next(self._seq),
            "event_id": str(uuid.uuid4()),
            "event": name,
            "provider": resolution.provider,
            "source": resolution.source,
            "outcome": resolution.outcome.value,
            "stale": resolution.stale,
            "degraded": resolution.degraded,
            "cache_hit": resolution.cache_hit,
            "attempts": [
                {
                    "source": a.source,
                    "outcome": a.outcome.value,
                    "error_type": a.error_type,
                    "tries": a.tries,
                    "duration_ms": round(a.duration * 1e3, 3),
                }
                for a in resolution.attempts
            ],
            "locator": resolution.locator,
            "version": resolution.version,
            "fingerprint": resolution.fingerprint,
            "user": self._user(),
            "service.name": self.service_name,
            "host.name": self._host,
            "process.pid": os.getpid(),
            "trace_id": format(span_context.trace_id, "032x") if span_context.is_valid else None,
            "span_id": format(span_context.span_id, "016x") if span_context.is_valid else None,
            "source_request_id": resolution.request_id,
            "duration_ms": round(duration * 1e3, 3),
            "error.type": resolution.error_type,
            "error.message": None if error is None else str(error),
        }

    def _user(self) -> dict[str, str | None]:
        user_id = current_principal()
        if user_id is not None and self.pseudonymize:
            pseudo = self._fingerprinter.fingerprint(f"principal:{user_id}")
            return {"pseudo_id": pseudo.split(":", 1)[1][:32], "os_user": self._os_user}
        return {"id": user_id, "os_user": self._os_user}

    def _deny(self, resolution: Resolution, failed: list[str]) -> Resolution:
        """Fail closed: a resolution that could not be recorded durably is not served."""
        denied = Resolution(
            resolution.provider,
            Outcome.DENIED,
            attempts=resolution.attempts,
            duration=resolution.duration,
        )
        error = AuditUnavailableError(
            f"resolving {resolution.provider!r} denied: the audit record could not be made "
            f"durable in {', '.join(failed)}; fix the journal's destination (space, "
            "permissions) or set audit_failure_mode='warn'",
            denied,
        )
        denied = dataclasses.replace(denied, error=error)
        error.resolution = denied
        self._emit(self._event(names.EVENT_DENIED, denied, resolution.duration))
        return denied

    def _emit(self, event: dict[str, Any]) -> list[str]:
        """Send ``event`` to every sink; return the names of durable sinks that failed."""
        failed: list[str] = []
        # Only the free-form fields can carry text from outside (a message, a principal,
        # a path); the rest are built here from ids, hashes, numbers and fixed words.
        scrubbed = {**event, **self.policy.scrub({k: event[k] for k in _FREE_FORM})}
        for sink in self.sinks:
            try:
                sink(scrubbed)
            except Exception as exc:  # noqa: BLE001 - a failed sink is counted and reported
                self._records.add(1, {names.SINK: sink.name, names.RESULT: "failed"})
                if getattr(sink, "durable", False):
                    failed.append(sink.name)
                warnings.warn(
                    f"audit sink {sink.name!r} failed ({type(exc).__name__}); event "
                    f"{event['event_id']} was not recorded there",
                    AuditFailureWarning,
                    stacklevel=2,
                )
            else:
                self._records.add(1, {names.SINK: sink.name, names.RESULT: "written"})
        return failed


def _listening(sink: AuditSink) -> bool:
    """Whether ``sink`` would record an event now (sinks without ``listening`` always do)."""
    listening = getattr(sink, "listening", None)
    return True if listening is None else bool(listening())


def _check_durable(sinks: Sequence[AuditSink]) -> None:
    """Block mode promises a durable record before a key is served: check it can keep it."""
    durable = [sink for sink in sinks if getattr(sink, "durable", False)]
    if not durable:
        raise ConfigurationError(
            "audit failure_mode='block' needs a durable sink: configure the journal "
            "(secrets.audit.journal), or use failure_mode='warn'"
        )
    batched = [sink.name for sink in durable if getattr(sink, "fsync", "always") != "always"]
    if batched:
        raise ConfigurationError(
            f"audit failure_mode='block' needs fsync='always' on {batched}: with batched fsync "
            "a key would be served before its record is on disk"
        )


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
