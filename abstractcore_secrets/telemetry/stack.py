"""The observability middleware stack, in its one correct order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..audit import AuditMiddleware
from ..redaction.processors import ValueLearner
from .metrics import MetricsMiddleware
from .tracing import TracingMiddleware

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
    audit: AuditMiddleware | None = None,
    service_name: str | None = None,
    pseudonymize: bool = False,
) -> tuple[list[Middleware], list[AttemptMiddleware]]:
    """Return the resolution and attempt middleware lists, outermost first.

    Order: value learning, tracing, metrics, audit; the manager adds the cache innermost
    itself. ``pseudonymize`` records principals as keyed pseudonyms in spans and events.
    """
    learner = ValueLearner(policy)
    tracing = TracingMiddleware(tracer_provider, policy=policy, pseudonymize=pseudonymize)
    measuring = MetricsMiddleware(meter_provider, resilience=resilience)
    audit = audit or AuditMiddleware(
        policy=policy, service_name=service_name, pseudonymize=pseudonymize
    )
    return (
        [learner, tracing, measuring, audit],
        [learner.attempt, tracing.attempt, measuring.attempt],
    )
