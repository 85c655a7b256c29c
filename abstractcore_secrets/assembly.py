"""What the default manager is made of, and in which order: the one place it is decided.

:func:`build_secrets_manager` turns the chain settings (and, optionally, the SDK providers
that :func:`~abstractcore_secrets.telemetry._setup.configure_telemetry` set up) into a
:class:`~abstractcore_secrets._manager.SecretsManager`. The layers around each resolution and
around each source's fetch are the two literal lists in :func:`middleware_stacks`,
outermost first. This module also owns the process-wide manager
(:func:`get_secrets_manager`). Nothing below it imports it: see the layers contract in
``pyproject.toml``.
"""

from __future__ import annotations

import atexit
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import envvars
from ._cache import ResolutionCache
from ._manager import SecretsManager
from .audit import AuditMiddleware, BatchingSinkProcessor, SinkContext, build_sinks
from .errors import ConfigurationError
from .redaction import RedactionPolicy, default_policy
from .redaction._processors import ValueLearner, install_logging_redaction
from .resilience import Resilience, RetryPolicy
from .settings import ChainSettings, load_settings
from .source_factories import build_source
from .sources.spec import shown_path
from .telemetry import MetricsMiddleware, TracingMiddleware

if TYPE_CHECKING:
    from .middleware import AttemptMiddleware, Middleware
    from .telemetry._setup import Telemetry

__all__ = [
    "build_secrets_manager",
    "get_secrets_manager",
    "middleware_stacks",
    "set_secrets_manager",
]


def build_secrets_manager(
    settings: ChainSettings | None = None, *, telemetry: Telemetry | None = None
) -> SecretsManager:
    """Build a ``SecretsManager`` from ``settings`` (default: :func:`load_settings`).

    Every resolution is traced, measured and audited through the OpenTelemetry API and
    structured logging: silent until the application configures them, or exported by
    ``telemetry`` (:func:`~abstractcore_secrets.telemetry._setup.configure_telemetry`), whose
    providers, redaction policy and service name the layers then use.

    Raises:
        ConfigurationError: A setting is malformed, or the audit journal cannot be opened.
    """
    settings = settings or load_settings()
    sources = [build_source(name, settings) for name in settings.chain]
    cache = None
    if settings.cache.ttl > 0:
        cache = ResolutionCache(
            settings.cache.ttl,
            negative_ttl=settings.cache.negative_ttl,
            max_stale=settings.cache.max_stale,
        )
    options = settings.resilience
    resilience = Resilience(
        RetryPolicy(attempts=options.attempts, timeout=options.timeout),
        failure_threshold=options.failure_threshold,
        reset_timeout=options.reset_timeout,
        deadline=options.deadline,
        workers=options.workers,
    )
    policy = telemetry.policy if telemetry is not None else default_policy()
    if telemetry is None:
        # The SDKs log headers and bodies at DEBUG (botocore: SecretString): scrub them.
        # configure_telemetry() has done so already, with its own policy.
        install_logging_redaction(policy)
    middleware, attempt_middleware = middleware_stacks(
        policy,
        tracer_provider=telemetry.tracer_provider if telemetry is not None else None,
        meter_provider=telemetry.meter_provider if telemetry is not None else None,
        resilience=resilience,
        cache=cache,
        audit=_audit_middleware(settings, telemetry),
        # One setting for every signal: spans and audit events name principals alike.
        pseudonymize=settings.audit.pseudonymize,
        hit_spans=settings.telemetry.hits,
    )
    return SecretsManager.stacked(
        sources, middleware=middleware, attempt_middleware=attempt_middleware, cache=cache
    )


def middleware_stacks(
    policy: RedactionPolicy | None = None,
    *,
    tracer_provider: Any = None,  # noqa: ANN401 - an OTel TracerProvider
    meter_provider: Any = None,  # noqa: ANN401 - an OTel MeterProvider
    resilience: Resilience | None = None,
    cache: ResolutionCache | None = None,
    audit: Middleware | None = None,
    service_name: str | None = None,
    pseudonymize: bool = False,
    circuits: Resilience | None = None,
    hit_spans: str = "event",
) -> tuple[list[Middleware], list[AttemptMiddleware]]:
    """Return the resolution stack and the attempt stack, each outermost first.

    A layer left out (no ``resilience``, no ``cache``) is skipped; the order of the others
    stays. The result goes to :meth:`SecretsManager.stacked`, which adds nothing.

    Args:
        policy: The redaction policy every layer consults; default the process-wide one.
        tracer_provider: Default: the global one (a no-op until an SDK is configured).
        meter_provider: Default: the global one.
        resilience: Deadlines, retries and circuit breakers, placed in both stacks.
        cache: The resolution cache and its miss memory, placed in both stacks.
        audit: The audit layer; default one that logs and emits OTel log records.
        service_name: ``service.name`` of the default audit layer's events.
        pseudonymize: Name principals by keyed pseudonyms in spans and audit events.
        circuits: Whose circuit breakers the circuit-state gauge reports; default
            ``resilience``.
        hit_spans: What a cache hit adds to traces: ``event`` (an event on the caller's
            recording span) or ``span`` (a span per hit).
    """
    policy = policy or default_policy()
    learner = ValueLearner(policy)
    tracing = TracingMiddleware(
        tracer_provider, policy=policy, pseudonymize=pseudonymize, hits=hit_spans
    )
    measuring = MetricsMiddleware(meter_provider, resilience=circuits or resilience)
    audit = audit or AuditMiddleware(
        policy=policy, service_name=service_name, pseudonymize=pseudonymize
    )
    resolution_stack: list[Middleware | None] = [
        # Teaches the redaction policy each value found, before any layer could show it.
        learner,
        # The span encloses everything below, so that it times and parents all of it.
        tracing,
        # Measures every resolution, cache hits included, while the span is current.
        measuring,
        # Every resolution is recorded, cache hits included, with the span's trace id.
        audit,
        # Just outside the cache, so that the deadline bounds waits there too.
        resilience.deadline_scope if resilience is not None else None,
        # Innermost: a miss runs the chain. A hit is still traced, measured and audited:
        # the manager serves it past this stack, through each layer's on_hit, innermost
        # first, when every layer above the cache has one.
        cache,
    ]
    attempt_stack: list[AttemptMiddleware | None] = [
        # Outermost: a remembered miss was not a lookup, so retries, circuit breakers and
        # lookup telemetry never see it.
        cache.remember_misses if cache is not None else None,
        # Learns a value as soon as a source returns it, before its span records anything.
        learner.attempt,
        # One child span per source asked, enclosing all its retries.
        tracing.attempt,
        # Source latency and outcome, per source asked, retries included.
        measuring.attempt,
        # Innermost: retries, timeouts and circuit breakers wrap the fetch itself.
        resilience,
    ]
    return (
        [layer for layer in resolution_stack if layer is not None],
        [layer for layer in attempt_stack if layer is not None],
    )


def _audit_middleware(settings: ChainSettings, telemetry: Telemetry | None) -> AuditMiddleware:
    """Audit to the sinks the settings name (default the logger and OTel logs), and to the
    journal when one is configured.

    The named sinks are fed from a queue by a background thread; the journal, durable, is
    written before the key is served.
    """
    options = settings.audit
    meter_provider = telemetry.meter_provider if telemetry else None
    sinks = build_sinks(
        options.sinks,
        SinkContext(
            logger_provider=telemetry.logger_provider if telemetry else None,
            meter_provider=meter_provider,
            service_name=telemetry.service_name if telemetry else None,
        ),
    )
    journal_path = options.journal
    if journal_path:
        from .audit._sinks import fan_out
        from .audit.journal import Journal, default_signing_key_path, load_signing_key

        key_path = Path(options.signing_key or default_signing_key_path()).expanduser()
        problem = None
        try:
            journal = Journal(
                Path(journal_path).expanduser(),
                load_signing_key(key_path),
                checkpoint_every=options.checkpoint_every,
                # Block mode promises a durable record before a key is served.
                fsync=options.fsync or ("always" if options.failure_mode == "block" else "batch"),
                max_bytes=options.max_bytes,
                # Checkpoints and alarms leave the host too, by the other sinks (OTLP).
                on_checkpoint=fan_out(sinks),
                on_alarm=fan_out(sinks),
            )
        except OSError as exc:
            problem = type(exc).__name__
        if problem is not None:
            # No manager rather than one that would resolve keys without its audit trail.
            raise ConfigurationError(
                f"cannot open the audit journal {shown_path(journal_path)} or its signing key "
                f"{shown_path(key_path)} "
                f"({problem}); make the folder writable by this user, or change "
                f"secrets.audit.journal / {envvars.AUDIT_JOURNAL}"
            )
        atexit.register(_seal, journal)
    pipeline: list[Any] = [
        BatchingSinkProcessor(
            sink,
            max_queue_size=options.queue_size,
            max_batch_size=options.batch_size,
            schedule_delay=options.schedule_delay,
            meter_provider=meter_provider,
        )
        for sink in sinks
    ]
    if journal_path:
        pipeline.append(journal)
    return AuditMiddleware(
        pipeline,
        policy=telemetry.policy if telemetry else default_policy(),
        service_name=telemetry.service_name if telemetry else None,
        pseudonymize=options.pseudonymize,
        failure_mode=options.failure_mode,
        meter_provider=meter_provider,
        hits=options.hits_mode,
        summary_window=options.summary_window,
    )


def _seal(journal: Any) -> None:  # noqa: ANN401 - a Journal
    """Write the final checkpoint at exit; a journal that cannot be written is said so."""
    try:
        journal.close()
    except OSError as error:
        warnings.warn(
            f"the audit journal {journal.path} could not be sealed at exit "
            f"({type(error).__name__}); records after its last checkpoint are unsealed",
            stacklevel=1,
        )


_global_lock = threading.Lock()
_global_manager: SecretsManager | None = None


def get_secrets_manager() -> SecretsManager:
    """Return the process-wide manager, built on first use from the config and environment."""
    global _global_manager  # noqa: PLW0603 - the proposal's module-level singleton
    if _global_manager is None:
        with _global_lock:
            if _global_manager is None:
                _global_manager = build_secrets_manager()
    return _global_manager


def set_secrets_manager(manager: SecretsManager | None) -> None:
    """Replace the process-wide manager (``None``: rebuild from config on next use)."""
    global _global_manager  # noqa: PLW0603 - the proposal's module-level singleton
    with _global_lock:
        _global_manager = manager
