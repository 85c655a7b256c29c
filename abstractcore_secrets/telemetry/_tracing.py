"""Tracing middleware: a ``secrets.resolve`` span per resolution, ``secrets.lookup`` per attempt.

A cache hit served without the stack (``hits="event"``, the default) makes no span: it adds
a ``secrets.cache_hit`` event to the caller's span when that one is recording, and nothing
otherwise; ``hits="span"`` makes a ``secrets.resolve`` span of every hit, as a miss has.

A source that fails before a later one succeeds marks only its own lookup span as an error:
the resolution handled it. Attributes are computed only when a span is recording. Spans
nest under the caller's current span, and an SDK instrumentation (botocore, requests) nests
under the lookup span, which is current while the source runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .._fingerprint import Fingerprinter
from .._resolution import Attempt, Outcome, Resolution
from ..errors import ConfigurationError
from ..middleware import AttemptHandler, AttemptRequest, Handler, ResolveRequest
from ..principal import current_principal
from ..redaction import RedactionPolicy, default_policy
from ..sources.spec import shown
from . import names

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

_FAILED = (Outcome.DENIED, Outcome.ERROR)


class TracingMiddleware:
    """Emit spans; use as both kinds of middleware (``middleware`` and ``.attempt``).

    Free text (error messages) is scrubbed here, at the source, so that an application's
    own exporters, which our redaction does not wrap, never receive a value either.

    Args:
        tracer_provider: Default: the global one (a no-op until an SDK is configured).
        policy: The redaction policy; default the process-wide one.
        pseudonymize: Put ``enduser.pseudo.id`` (keyed HMAC) instead of ``enduser.id``.
        fingerprinter: Keys the pseudonyms; default the installation's key.
        hits: ``event`` (an event on the caller's recording span) or ``span`` (a span per
            cache hit).

    Raises:
        ConfigurationError: ``hits`` is neither.
    """

    on_hit: Callable[[Resolution], Resolution] | None
    """What a hit served without the stack does here; ``None`` in ``span`` mode, so that
    every hit goes through the stack and its span."""

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        *,
        policy: RedactionPolicy | None = None,
        pseudonymize: bool = False,
        fingerprinter: Fingerprinter | None = None,
        hits: str = "event",
    ) -> None:
        if hits not in ("event", "span"):
            raise ConfigurationError(f"telemetry hits must be 'event' or 'span', not {shown(hits)}")
        self.on_hit = self._hit_event if hits == "event" else None
        self._tracer = trace.get_tracer(
            names.SCOPE, names.SCOPE_VERSION, tracer_provider=tracer_provider
        )
        self._policy = policy or default_policy()
        self._pseudonymize = pseudonymize
        self._fingerprinter = fingerprinter

    def __call__(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Wrap a resolution in a ``secrets.resolve`` span."""
        with self._tracer.start_as_current_span(names.SPAN_RESOLVE, kind=SpanKind.INTERNAL) as span:
            resolution = call_next(request)
            if span.is_recording():
                span.set_attributes(resolution_attributes(resolution))
                user = current_principal()
                if user is not None:
                    span.set_attributes(self._enduser(user))
                if resolution.outcome in _FAILED:
                    span.set_status(Status(StatusCode.ERROR, resolution.error_type))
            return resolution

    @staticmethod
    def _hit_event(hit: Resolution) -> Resolution:
        span = trace.get_current_span()
        if span.is_recording():
            span.add_event(
                names.SPAN_EVENT_CACHE_HIT,
                {
                    names.PROVIDER: hit.provider,
                    names.SOURCE: hit.source or "none",
                    names.STALE: hit.stale,
                    names.DEGRADED: hit.degraded,
                },
            )
        return hit

    def attempt(self, request: AttemptRequest, call_next: AttemptHandler) -> Attempt:
        """Wrap one source's fetch in a ``secrets.lookup`` span."""
        endpoint = request.source.endpoint()
        kind = SpanKind.CLIENT if endpoint else SpanKind.INTERNAL
        with self._tracer.start_as_current_span(names.SPAN_LOOKUP, kind=kind) as span:
            attempt = call_next(request)
            if span.is_recording():
                attributes: dict[str, Any] = {
                    names.PROVIDER: request.provider,
                    names.SOURCE: attempt.source,
                    names.OUTCOME: attempt.outcome.value,
                    names.TRIES: attempt.tries,
                }
                if attempt.locator:
                    attributes[names.LOCATOR] = attempt.locator
                if endpoint:
                    attributes[names.SERVER_ADDRESS], attributes[names.SERVER_PORT] = endpoint
                request_id = attempt.record.request_id if attempt.record else None
                if attempt.error is not None:
                    request_id = request_id or attempt.error.request_id
                if attempt.error_type is not None:
                    attributes[names.ERROR_TYPE] = attempt.error_type
                    # The type and our message (never a value); the exporter scrubs it too.
                    span.add_event(
                        "exception",
                        {
                            "exception.type": type(attempt.error).__name__,
                            "exception.message": self._policy.scrub_text(str(attempt.error)),
                        },
                    )
                if request_id:
                    attributes[names.SOURCE_REQUEST_ID] = request_id
                span.set_attributes(attributes)
                if attempt.outcome in _FAILED:
                    span.set_status(Status(StatusCode.ERROR, attempt.error_type))
            return attempt

    def _enduser(self, user: str) -> dict[str, str]:
        if not self._pseudonymize:
            return {names.ENDUSER_ID: self._policy.scrub_text(user)}
        fingerprinter = self._fingerprinter or Fingerprinter()
        pseudo = fingerprinter.fingerprint(f"principal:{user}").split(":", 1)[1][:32]
        return {names.ENDUSER_PSEUDO_ID: pseudo}


def resolution_attributes(resolution: Resolution) -> dict[str, Any]:
    """Return the span attributes of a resolution (metrics use a bounded subset)."""
    attributes: dict[str, Any] = {
        names.PROVIDER: resolution.provider,
        names.SOURCE: resolution.source or "none",
        names.OUTCOME: resolution.outcome.value,
        names.CACHE_HIT: resolution.cache_hit,
        names.STALE: resolution.stale,
        names.DEGRADED: resolution.degraded,
    }
    if resolution.locator:
        attributes[names.LOCATOR] = resolution.locator
    if resolution.version:
        attributes[names.VERSION] = resolution.version
    if resolution.request_id:
        attributes[names.SOURCE_REQUEST_ID] = resolution.request_id
    if resolution.error_type is not None:
        attributes[names.ERROR_TYPE] = resolution.error_type
    return attributes
