"""Deprecated: the middleware stacks are built by :mod:`abstractcore_secrets.assembly`.

Kept so that ``observability_middleware()`` goes on working for applications that set the
OpenTelemetry SDK up themselves; use
:func:`~abstractcore_secrets.assembly.middleware_stacks` instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..middleware import AttemptMiddleware, Middleware
    from ..redaction import RedactionPolicy
    from ..resilience import Resilience


def observability_middleware(
    policy: RedactionPolicy,
    *,
    tracer_provider: Any = None,  # noqa: ANN401 - an OTel TracerProvider
    meter_provider: Any = None,  # noqa: ANN401 - an OTel MeterProvider
    resilience: Resilience | None = None,
    audit: Middleware | None = None,
    service_name: str | None = None,
    pseudonymize: bool = False,
) -> tuple[list[Middleware], list[AttemptMiddleware]]:
    """Return the observability layers, outermost first (deprecated; see the module).

    As before, ``resilience`` is only measured (its circuit breakers), not placed in the
    stacks, and no cache is placed.
    """
    # An import of the assembly from below it, for this compatibility shim only.
    from ..assembly import middleware_stacks

    return middleware_stacks(
        policy,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        audit=audit,
        service_name=service_name,
        pseudonymize=pseudonymize,
        circuits=resilience,
    )
