"""Audit events: who resolved which key, from where, with what outcome."""

from __future__ import annotations

from .middleware import AuditMiddleware
from .principal import current_principal, principal
from .sinks import LoggingSink, OTelLogSink

__all__ = ["AuditMiddleware", "LoggingSink", "OTelLogSink", "current_principal", "principal"]
