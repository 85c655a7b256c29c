"""Audit events: who resolved which key, from where, with what outcome.

An event is built once by :class:`AuditMiddleware`, passed through processors
(:class:`Pseudonymise`, :class:`Scrub`, then any of yours) and handed to sink processors
(:class:`SimpleSinkProcessor`, :class:`BatchingSinkProcessor`) that end in sinks
(:class:`AuditSink`: the journal, :class:`LoggingSink`, :class:`OTelLogSink`). Settings
name the sinks (``secrets.audit.sinks``) through a registry (:func:`register_sink`).
"""

from __future__ import annotations

from types import ModuleType

from .._aliases import former_submodule
from ..errors import AuditFailureWarning, AuditUnavailableError
from ._middleware import AuditMiddleware
from ._pipeline import BatchingSinkProcessor, BatchWriter, SimpleSinkProcessor
from ._processors import Pseudonymise, Scrub
from ._sink_registry import (
    DEFAULT_SINKS,
    SinkContext,
    SinkFactory,
    build_sinks,
    find_sink,
    register_sink,
    sink_names,
    unregister_sink,
)
from ._sinks import LoggingSink, OTelLogSink
from ._types import AuditEvent, AuditProcessor, AuditSink, NamedSink, SinkProcessor
from .exports import ExportFormat, register_export_format
from .journal import Journal
from .principal import current_principal, principal

__all__ = [
    "DEFAULT_SINKS",
    "AuditEvent",
    "AuditFailureWarning",
    "AuditMiddleware",
    "AuditProcessor",
    "AuditSink",
    "AuditUnavailableError",
    "BatchWriter",
    "BatchingSinkProcessor",
    "ExportFormat",
    "Journal",
    "LoggingSink",
    "NamedSink",
    "OTelLogSink",
    "Pseudonymise",
    "Scrub",
    "SimpleSinkProcessor",
    "SinkContext",
    "SinkFactory",
    "SinkProcessor",
    "build_sinks",
    "current_principal",
    "find_sink",
    "principal",
    "register_export_format",
    "register_sink",
    "sink_names",
    "unregister_sink",
]


def __getattr__(name: str) -> ModuleType:
    # A former submodule's name (``audit.<old name>``), moved: see _aliases.
    return former_submodule(__name__, name)
