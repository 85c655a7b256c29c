"""The library's handles on the OpenTelemetry API, shared by the layers that emit signals.

Telemetry and audit both record metrics under the library's scope; they sit side by side
and never import each other, so the meter they share lives here, below both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry import metrics

from . import semconv

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider


def meter(meter_provider: MeterProvider | None = None) -> metrics.Meter:
    """Return the library's meter, from ``meter_provider`` or else the global one."""
    return metrics.get_meter(semconv.SCOPE, semconv.SCOPE_VERSION, meter_provider=meter_provider)
