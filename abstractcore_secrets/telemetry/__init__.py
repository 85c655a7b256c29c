"""Telemetry: spans and metrics through the OpenTelemetry API; OTLP export set up by
:func:`configure_telemetry`.

Everything here uses the OpenTelemetry API only; without an SDK configured it costs little
and emits nothing. :func:`~abstractcore_secrets.telemetry._setup.configure_telemetry` is the
one place that imports the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._aliases import former_submodule
from ._metrics import MetricsMiddleware
from ._tracing import TracingMiddleware

if TYPE_CHECKING:
    from ._setup import Telemetry, configure_telemetry

__all__ = ["MetricsMiddleware", "Telemetry", "TracingMiddleware", "configure_telemetry"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whichever of the two is asked for
    # Imported when first asked for: the SDK must not load with the package.
    if name in ("Telemetry", "configure_telemetry"):
        from . import _setup

        return getattr(_setup, name)
    # A former submodule's name (``telemetry.setup``), moved: see _aliases.
    return former_submodule(__name__, name)
