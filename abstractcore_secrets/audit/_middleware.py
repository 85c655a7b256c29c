"""``AuditMiddleware``: one structured event per resolution, and one per rotation.

Plain cache hits (found, fresh, not degraded) are, with ``hits="summary"``, counted and
written as one ``secret.accessed`` summary per provider, source, principal and fingerprint
per window (:mod:`._summaries`); every other resolution is an event of its own.

Fields (docs/telemetry.md): time, seq, event_id, event, provider, source, outcome, stale,
degraded, cache_hit, attempts, locator, version, fingerprint, user, service.name, host.name,
process.pid, trace_id, span_id, source_request_id, duration_ms, error.type, error.message.
The event is built once, passed through the processors (pseudonymise, scrub: before any
sink sees it) and handed to each sink processor: synchronous for durable sinks (the
journal), batching for the others when so wrapped (docs/architecture.md, "Path of an
audit event").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import itertools
import os
import random
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from opentelemetry import trace

from .. import semconv as names
from .._fingerprint import Fingerprinter
from .._resolution import Outcome, Resolution
from ..errors import AuditFailureWarning, AuditUnavailableError, ConfigurationError
from ..middleware import Handler, ResolveRequest
from ..redaction import RedactionPolicy
from ..sources.spec import shown
from ._pipeline import SimpleSinkProcessor
from ._processors import Pseudonymise, Scrub
from ._sinks import LoggingSink, OTelLogSink
from ._summaries import HitCount, HitSummaries
from ._types import AuditEvent, AuditProcessor, AuditSink, NamedSink, SinkProcessor
from .principal import current_principal

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

__all__ = [
    "AuditFailureWarning",
    "AuditMiddleware",
    "AuditSink",
    "AuditUnavailableError",
]

_EVENTS = {
    Outcome.FOUND: names.EVENT_RESOLVED,
    Outcome.NOT_FOUND: names.EVENT_NOT_FOUND,
    Outcome.DENIED: names.EVENT_DENIED,
    Outcome.ERROR: names.EVENT_ERROR,
}


_CURRENT = object()
"""The principal of the context the event is built in."""


class AuditMiddleware:
    """Emit an audit event per resolution to each sink.

    Args:
        sinks: Where events go, in order; default a logger and OTel logs. A sink is called
            synchronously (:class:`~abstractcore_secrets.audit.SimpleSinkProcessor`); give a
            sink processor instead (:class:`~abstractcore_secrets.audit.BatchingSinkProcessor`)
            to take a sink off the resolution's path.
        policy: The redaction policy every event is scrubbed with.
        service_name: ``service.name``; default ``$OTEL_SERVICE_NAME``.
        pseudonymize: Record ``user.pseudo_id`` (keyed HMAC) instead of the principal.
        fingerprinter: Keys the pseudonyms; default the installation's key.
        failure_mode: ``warn`` (default): a failed sink is counted and warned about, the
            resolution proceeds. ``block``: a found key whose record a durable sink (the
            journal) could not write is denied, as Vault refuses what it cannot audit.
        processors: More processors (``event -> event | None``), run after the built-in
            ones (pseudonymise, scrub); one returning ``None`` drops the event.
        meter_provider: Where ``audit.records`` is counted; default the global one.
        hits: ``every`` (an event per cache hit) or ``summary`` (plain hits counted per
            window); default ``every`` in ``block`` mode, where a key is served only once
            its record is durable, else ``summary``.
        summary_window: Seconds a summary counts hits for.
    """

    def __init__(
        self,
        sinks: Sequence[AuditSink | NamedSink | SinkProcessor] | None = None,
        *,
        policy: RedactionPolicy | None = None,
        service_name: str | None = None,
        pseudonymize: bool = False,
        fingerprinter: Fingerprinter | None = None,
        failure_mode: str = "warn",
        processors: Sequence[AuditProcessor] = (),
        meter_provider: MeterProvider | None = None,
        hits: str | None = None,
        summary_window: float = 60.0,
    ) -> None:
        if failure_mode not in ("warn", "block"):
            raise ConfigurationError(
                f"audit failure_mode must be 'warn' or 'block', not {shown(failure_mode)}"
            )
        if hits is None:
            hits = "every" if failure_mode == "block" else "summary"
        if hits not in ("every", "summary"):
            raise ConfigurationError(f"audit hits must be 'every' or 'summary', not {shown(hits)}")
        if hits == "summary" and failure_mode == "block":
            raise ConfigurationError(
                "audit hits='summary' cannot go with failure_mode='block': block mode serves a "
                "key only once its record is durable, hits included; set hits='every' (the "
                "default in block mode) or failure_mode='warn'"
            )
        self.failure_mode = failure_mode
        self.hits = hits
        self._summaries = (
            HitSummaries(summary_window, self._write_summaries) if hits == "summary" else None
        )
        chosen: list[AuditSink | NamedSink | SinkProcessor] = (
            list(sinks) if sinks is not None else [LoggingSink(), OTelLogSink()]
        )
        self.sink_processors: list[SinkProcessor] = [
            item
            if isinstance(item, SinkProcessor)
            else SimpleSinkProcessor(item, meter_provider=meter_provider)
            for item in chosen
        ]
        if failure_mode == "block":
            _check_durable(self.sink_processors)
        self.policy = policy or RedactionPolicy()
        self.service_name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "unknown"
        self.pseudonymize = pseudonymize
        self._fingerprinter = fingerprinter or Fingerprinter()
        self.processors: list[AuditProcessor] = [
            *([Pseudonymise(self._fingerprinter)] if pseudonymize else []),
            Scrub(self.policy),
            *processors,
        ]
        self._seq = itertools.count(1)
        self._last_fingerprint: dict[str, str] = {}
        self._lock = threading.Lock()
        self._host = socket.gethostname()
        self._os_user = _os_user()
        for hook in list(_ON_BUILD):
            hook(self)

    @property
    def sinks(self) -> list[AuditSink | NamedSink]:
        """The sinks, in order, whatever processor hands them their events."""
        found = (getattr(processor, "sink", None) for processor in self.sink_processors)
        return [sink for sink in found if sink is not None]

    def __call__(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Resolve, then record what happened."""
        started = time.perf_counter()
        resolution = call_next(request)
        return self._record(resolution, time.perf_counter() - started)

    def on_hit(self, hit: Resolution) -> Resolution:
        """Record a cache hit served without the stack: counted in a summary, or an event."""
        summaries = self._summaries
        if summaries is not None and not (hit.stale or hit.degraded):
            # What the cache serves fresh is found, by construction: a plain hit.
            summaries.add(hit, current_principal())
            return hit
        return self._record(hit, 0.0)

    def _record(self, resolution: Resolution, duration: float) -> Resolution:
        summaries = self._summaries
        if summaries is not None and _plain_hit(resolution):
            # The fetch that filled the cache was an event of its own; this hit is counted.
            summaries.add(resolution, current_principal())
            return resolution
        if not any(processor.listening() for processor in self.sink_processors):
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

    def _write_summaries(self, counts: list[HitCount]) -> None:
        """Write each count as a ``secret.accessed`` event (from the summaries' thread)."""
        if not any(processor.listening() for processor in self.sink_processors):
            return  # nobody would read them, as for any event
        for counted in counts:
            event = self._event(
                names.EVENT_ACCESSED, counted.hit, None, principal=counted.principal
            )
            event.update(
                trace_id=None,
                span_id=None,
                count=counted.count,
                first_time=_rfc3339(counted.first),
                last_time=_rfc3339(counted.last),
            )
            self._emit(event)

    def _rotation(self, resolution: Resolution) -> str | None:
        if resolution.fingerprint is None or resolution.source == "explicit":
            return None
        # Per source: a failover from one source to another is not a rotation.
        key = f"{resolution.provider}\0{resolution.source}"
        with self._lock:
            previous = self._last_fingerprint.get(key)
            self._last_fingerprint[key] = resolution.fingerprint
        return previous if previous not in (None, resolution.fingerprint) else None

    def flush(self, timeout: float | None = None) -> bool:
        """Write the open hit summaries, then deliver the events queued for every sink,
        within ``timeout`` seconds each.

        Returns:
            ``False`` if some sink processor could not deliver all in time.
        """
        if self._summaries is not None:
            self._summaries.flush()
        flushed = [processor.flush(timeout) for processor in self.sink_processors]  # each one
        return all(flushed)

    def close(self, timeout: float | None = 5.0) -> None:
        """Flush and close every sink processor, in order (the journal writes its checkpoint).

        :meth:`SecretsManager.close() <abstractcore_secrets.SecretsManager.close>` calls
        it. A sink that cannot be closed is warned about; the others are still closed.
        """
        if self._summaries is not None:
            self._summaries.close()  # first: its last summaries go to the sinks below
        for processor in self.sink_processors:
            try:
                processor.close(timeout)
            except Exception as exc:  # noqa: BLE001 - reported; the next sink is still closed
                warnings.warn(
                    f"audit sink {processor.name!r} could not be closed "
                    f"({type(exc).__name__}); what it had not written is lost",
                    AuditFailureWarning,
                    stacklevel=2,
                )

    def add_sink_processor(self, processor: SinkProcessor) -> None:
        """Send later events to ``processor`` too (a test's capture, a late sink)."""
        # Replaced, not appended to: a resolution iterating the list meanwhile is unaffected.
        self.sink_processors = [*self.sink_processors, processor]

    def remove_sink_processor(self, processor: SinkProcessor) -> None:
        """Stop sending events to ``processor`` (it is not closed)."""
        self.sink_processors = [p for p in self.sink_processors if p is not processor]

    def _event(
        self,
        name: str,
        resolution: Resolution,
        duration: float | None,
        *,
        principal: str | object | None = _CURRENT,
    ) -> AuditEvent:
        span_context = trace.get_current_span().get_span_context()
        error = resolution.error
        user = current_principal() if principal is _CURRENT else principal
        return {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
            "seq": next(self._seq),
            "event_id": _event_id(),
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
            # In clear: the Pseudonymise processor replaces it if asked.
            "user": {"id": user, "os_user": self._os_user},
            "service.name": self.service_name,
            "host.name": self._host,
            "process.pid": os.getpid(),
            "trace_id": format(span_context.trace_id, "032x") if span_context.is_valid else None,
            "span_id": format(span_context.span_id, "016x") if span_context.is_valid else None,
            "source_request_id": resolution.request_id,
            "duration_ms": None if duration is None else round(duration * 1e3, 3),
            "error.type": resolution.error_type,
            "error.message": None if error is None else str(error),
            "count": 1,
            "first_time": None,
            "last_time": None,
        }

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

    def _emit(self, event: AuditEvent) -> list[str]:
        """Process ``event``, hand it to every sink processor; return the failed durable ones."""
        processed = event
        try:
            for processor in self.processors:
                result = processor(processed)
                if result is None:
                    return []  # dropped on purpose: nothing failed
                processed = result
        except Exception as exc:  # noqa: BLE001 - no sink got it: durable ones count as failed
            warnings.warn(
                f"audit processor {processor!r} failed ({type(exc).__name__}); event "
                f"{event['event_id']} was not recorded",
                AuditFailureWarning,
                stacklevel=3,
            )
            return [p.name for p in self.sink_processors if p.durable]
        failed: list[str] = []
        for sink_processor in self.sink_processors:
            try:
                sink_processor.on_emit(processed)
            except Warning:
                raise  # the application turned the failure's warning into an error
            except Exception:  # noqa: BLE001 - counted and warned about by the processor
                if sink_processor.durable:
                    failed.append(sink_processor.name)
        return failed


_IDS = random.Random()  # noqa: S311 - identifiers, not secrets: unique is what counts
"""Draws event ids: seeded from the system's randomness, and again in a forked child (which
would otherwise draw its parent's ids)."""
os.register_at_fork(after_in_child=_IDS.seed)


def _event_id() -> str:
    """A random (version 4) UUID, without a system call per event.

    ``uuid.uuid4()`` reads ``os.urandom``, which releases the interpreter lock: with the
    exporters' threads busy, getting it back cost about 0.2 ms per event.
    """
    return str(uuid.UUID(int=_IDS.getrandbits(128), version=4))


def _plain_hit(resolution: Resolution) -> bool:
    """A hit a summary may count: found in the cache, fresh, as the fetch that filled it."""
    return (
        resolution.cache_hit
        and resolution.outcome is Outcome.FOUND
        and not (resolution.stale or resolution.degraded)
    )


def _rfc3339(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    return moment.isoformat(timespec="microseconds")


def _check_durable(processors: Sequence[SinkProcessor]) -> None:
    """Block mode promises a durable record before a key is served: check it can keep it."""
    durable = [processor for processor in processors if processor.durable]
    if not durable:
        raise ConfigurationError(
            "audit failure_mode='block' needs a durable sink: configure the journal "
            "(secrets.audit.journal), or use failure_mode='warn'"
        )
    batched = [
        processor.name
        for processor in durable
        if getattr(getattr(processor, "sink", processor), "fsync", "always") != "always"
    ]
    if batched:
        raise ConfigurationError(
            f"audit failure_mode='block' needs fsync='always' on {batched}: with batched fsync "
            "a key would be served before its record is on disk"
        )


_ON_BUILD: list[Callable[[AuditMiddleware], None]] = []
"""Called with each new audit middleware: how ``testing.capture_audit_events`` sees the
managers built while it is active. Empty outside tests."""


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
