"""Telemetry: spans, metrics and their names; OTLP export setup lives in :mod:`.setup`.

Everything here uses the OpenTelemetry API only; without an SDK configured it costs little
and emits nothing. :func:`~abstractcore_secrets.telemetry.setup.configure_telemetry` is the
one place that imports the SDK.
"""

from __future__ import annotations

from .metrics import MetricsMiddleware
from .tracing import TracingMiddleware

__all__ = ["MetricsMiddleware", "TracingMiddleware"]
