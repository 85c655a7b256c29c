"""Audit events: who resolved which key, from where, with what outcome.

An event is built once by :class:`AuditMiddleware`, passed through processors
(:class:`Pseudonymise`, :class:`Scrub`, then any of yours) and handed to sink processors
(:class:`SimpleSinkProcessor`, :class:`BatchingSinkProcessor`) that end in sinks
(:class:`AuditSink`: the journal, :class:`LoggingSink`, :class:`OTelLogSink`).
"""

from __future__ import annotations

from ._pipeline import AuditFailureWarning, BatchingSinkProcessor, SimpleSinkProcessor
from ._processors import Pseudonymise, Scrub
from ._types import AuditEvent, AuditProcessor, AuditSink, NamedSink, SinkProcessor
from .middleware import AuditMiddleware, AuditUnavailableError
from .principal import current_principal, principal
from .sinks import LoggingSink, OTelLogSink

__all__ = [
    "AuditEvent",
    "AuditFailureWarning",
    "AuditMiddleware",
    "AuditProcessor",
    "AuditSink",
    "AuditUnavailableError",
    "BatchingSinkProcessor",
    "LoggingSink",
    "NamedSink",
    "OTelLogSink",
    "Pseudonymise",
    "Scrub",
    "SimpleSinkProcessor",
    "SinkProcessor",
    "current_principal",
    "principal",
]
