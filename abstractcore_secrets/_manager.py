"""``SecretsManager``: the chain of sources, walked in priority order by one loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from ._cache import ResolutionCache
from ._failure_policy import Action, merge_policy
from ._fingerprint import Fingerprinter
from ._resolution import Attempt, Outcome, Resolution, SecretRecord, failed_attempts
from ._secret import Secret
from ._watch import Watch
from .errors import (
    AuthenticationError,
    ErrorCategory,
    InvalidSourceError,
    ResolutionDeniedError,
    ResolutionError,
    SourceError,
    SourceUnavailableError,
)
from .llm_providers import former_names, validate_provider
from .middleware import (
    AttemptMiddleware,
    AttemptRequest,
    Middleware,
    ResolveRequest,
    compose,
    pass_hit,
)
from .sources._values import checked_value
from .sources.base import SecretProvider
from .sources.config import ConfigFileSecretProvider
from .sources.environment import EnvironmentSecretProvider

_DEFAULT_CACHE = object()
EXPLICIT = "explicit"


class SecretsManager:
    """Resolve providers' keys through an ordered chain of sources; first match wins.

    An explicit ``api_key`` always wins; then the sources in order. The default chain is
    the proposal's: environment, then the config file.
    :func:`~abstractcore_secrets.assembly.build_secrets_manager` builds one from the config
    file's ``secrets`` section and the environment.

    Args:
        sources: The chain, highest priority first; default environment, config file.
        middleware: Layers around each resolution, outermost first (telemetry, audit...).
        attempt_middleware: Layers around each source's fetch, outermost first.
        cache: A :class:`ResolutionCache` (the default one if not given); ``None`` for none.
        policy: Overrides of the failure policy, by category (see :mod:`.policy`).
        fingerprinter: Computes value fingerprints; default the installation's key.
    """

    def __init__(
        self,
        sources: Sequence[SecretProvider] | None = None,
        *,
        middleware: Sequence[Middleware] = (),
        attempt_middleware: Sequence[AttemptMiddleware] = (),
        cache: ResolutionCache | object | None = _DEFAULT_CACHE,
        policy: Mapping[ErrorCategory, Action] | Mapping[str, str] | None = None,
        fingerprinter: Fingerprinter | None = None,
    ) -> None:
        if sources is None:
            sources = (EnvironmentSecretProvider(), ConfigFileSecretProvider())
        self._sources: tuple[SecretProvider, ...] = tuple(sources)
        self._sources_lock = threading.Lock()
        self._policy = merge_policy(policy)
        self._fingerprinter = fingerprinter or Fingerprinter()
        self.cache = _cache_from(cache)
        layers: list[Middleware] = list(middleware)
        if self.cache is not None:
            layers.append(self.cache)
        self._middleware: tuple[Middleware, ...] = tuple(layers)
        self._handle = compose(layers, self._run_chain)
        # The miss memory is outermost: a remembered miss was not a lookup, so retries,
        # circuit breakers and lookup telemetry never see it.
        attempt_layers: list[AttemptMiddleware] = list(attempt_middleware)
        if self.cache is not None:
            attempt_layers.insert(0, self.cache.remember_misses)
        self._attempt_middleware: tuple[AttemptMiddleware, ...] = tuple(attempt_layers)
        self._attempt = compose(attempt_layers, self._fetch)
        self._hit_cache, self._hit_layers = _hit_path(self._middleware)
        # A subclass's own resolve() sees every get_api_key(), hits included.
        self._resolve_overridden = type(self).resolve is not SecretsManager.resolve

    @classmethod
    def stacked(
        cls,
        sources: Sequence[SecretProvider],
        *,
        middleware: Sequence[Middleware],
        attempt_middleware: Sequence[AttemptMiddleware],
        cache: ResolutionCache | None,
        policy: Mapping[ErrorCategory, Action] | Mapping[str, str] | None = None,
        fingerprinter: Fingerprinter | None = None,
    ) -> SecretsManager:
        """Build a manager whose layers are exactly the given ones, as the assembly does.

        Nothing is added: the stacks already hold ``cache`` and its miss memory where they
        belong (see :func:`~abstractcore_secrets.assembly.middleware_stacks`); ``cache`` is
        only what :meth:`invalidate` drops keys from.
        """
        manager = cls(
            sources,
            middleware=middleware,
            attempt_middleware=attempt_middleware,
            cache=None,
            policy=policy,
            fingerprinter=fingerprinter,
        )
        manager.cache = cache
        return manager

    @property
    def sources(self) -> tuple[SecretProvider, ...]:
        """The chain, highest priority first."""
        return self._sources

    @property
    def middleware(self) -> tuple[Middleware, ...]:
        """The layers around each resolution, outermost first, the cache included."""
        return self._middleware

    @property
    def attempt_middleware(self) -> tuple[AttemptMiddleware, ...]:
        """The layers around each source's fetch, outermost first, the miss memory included."""
        return self._attempt_middleware

    @property
    def providers(self) -> list[SecretProvider]:
        """The chain as a list: the original proposal's name for :attr:`sources`."""
        return list(self._sources)

    def add_provider(self, provider: SecretProvider) -> None:
        """Add a source, as in the proposal: after the others, before the config file.

        The config file stays the last resort, so a managed source added here outranks it.
        """
        with self._sources_lock:
            chain = list(self._sources)
            fallback = next(
                (i for i, s in enumerate(chain) if isinstance(s, ConfigFileSecretProvider)),
                len(chain),
            )
            chain.insert(fallback, provider)
            self._sources = tuple(chain)
        self.invalidate()  # a cached answer may now belong to the new source

    def resolve(self, provider: str, *, api_key: str | Secret | None = None) -> Resolution:
        """Resolve ``provider``'s key and say where it came from.

        Never raises for an outcome: not found, denied and error are in the result.

        Args:
            provider: The LLM provider (``openai``, ``anthropic``, ...).
            api_key: The caller's explicit key; it wins over every source.

        Raises:
            ConfigurationError: ``provider`` is not a valid provider name.
        """
        if api_key is None:
            hit = self._serve_hit(provider)
            if hit is not None:
                return hit
        explicit = Secret.wrap(api_key) if api_key else None
        return self._handle(ResolveRequest(validate_provider(provider), explicit))

    def get_api_key(
        self,
        provider_name: str,
        *,
        api_key: str | Secret | None = None,
        required: bool = False,
    ) -> str | None:
        """Return ``provider_name``'s key, or ``None`` when no source has it.

        The original proposal's call. Use :meth:`resolve` to learn where the key came from.

        Args:
            provider_name: The LLM provider (``openai``, ...).
            api_key: The caller's explicit key; it wins over every source.
            required: Raise :class:`AuthenticationError` instead of returning ``None``.

        Raises:
            AuthenticationError: No source has the key and ``required`` is true.
            ResolutionDeniedError: A managed source refused access (fail closed).
            ResolutionError: Sources failed and no cached value could be served.
        """
        if api_key is None and not self._resolve_overridden:
            hit = self._serve_hit(provider_name)
            if hit is not None:
                value = hit.value
                if value is not None:
                    return value.reveal()
                return _value_of(hit, required=required)  # denied by the audit (block mode)
        return _value_of(self.resolve(provider_name, api_key=api_key), required=required)

    async def aresolve(self, provider: str, *, api_key: str | Secret | None = None) -> Resolution:
        """Like :meth:`resolve`, in a worker thread so remote sources never block the loop."""
        import asyncio  # here: importing it costs ~30 ms that only async callers need

        return await asyncio.to_thread(self.resolve, provider, api_key=api_key)

    async def aget_api_key(
        self,
        provider_name: str,
        *,
        api_key: str | Secret | None = None,
        required: bool = False,
    ) -> str | None:
        """Like :meth:`get_api_key`, without blocking the event loop."""
        resolution = await self.aresolve(provider_name, api_key=api_key)
        return _value_of(resolution, required=required)

    def invalidate(self, provider: str | None = None) -> None:
        """Drop the cached key of ``provider`` (all when ``None``), e.g. after an HTTP 401."""
        if self.cache is not None:
            self.cache.invalidate(None if provider is None else validate_provider(provider))

    def close(self) -> None:
        """Close every source, then every layer that has a ``close()``, outermost first.

        The audit layer delivers the events still queued for its sinks and closes them
        (the journal writes its closing checkpoint).
        """
        for source in self._sources:
            source.close()
        for layer in self._middleware:
            close = getattr(layer, "close", None)
            if close is not None:
                close()

    def _serve_hit(self, provider: object) -> Resolution | None:
        """Answer a fresh cache hit without the stack, when every layer above the cache
        can see hits so (``on_hit``): the same outcome, counted, audited and traced, for a
        fraction of the cost. ``None``: go through the stack (a stale or degraded hit does,
        so that its span and its audit event say why).
        """
        cache = self._hit_cache
        # Only a str can be a cached provider name (a name the stack validated).
        if cache is None or type(provider) is not str:
            return None
        hit = cache.hit(provider)
        if hit is None or hit.stale or hit.degraded:
            return None  # served while a source is down: the stack's span and event say so
        for on_hit in self._hit_layers:
            hit = on_hit(hit)
        return hit

    def __enter__(self) -> SecretsManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run_chain(self, request: ResolveRequest) -> Resolution:
        started = time.perf_counter()
        if request.explicit is not None:
            record = SecretRecord(request.explicit, locator="parameter")
            attempt = Attempt(EXPLICIT, Outcome.FOUND, 0.0, locator="parameter", record=record)
            return self._found(
                provider=request.provider,
                source=EXPLICIT,
                record=record,
                attempts=(attempt,),
                started=started,
                cacheable=False,
            )
        attempts: list[Attempt] = []
        watches: list[Watch] = []
        # A source asked that neither allows caching nor can tell a change: what it may
        # hold next time must be asked for, so nothing found below it is cached.
        volatile_above = False
        for source in self._sources:
            if not source.supports(request.provider):
                continue
            # Before the fetch: a change while it runs outdates what it returns.
            watch = _watch(source, request.provider)
            if watch is not None:
                watches.append(watch)
            attempt = self._attempt(AttemptRequest(request.provider, source))
            attempts.append(attempt)
            if attempt.outcome is Outcome.FOUND and attempt.record is not None:
                return self._found(
                    provider=request.provider,
                    source=source.name,
                    record=attempt.record,
                    attempts=tuple(attempts),
                    started=started,
                    cacheable=(source.cacheable or watch is not None) and not volatile_above,
                    watches=tuple(watches),
                )
            volatile_above = volatile_above or (not source.cacheable and watch is None)
            if attempt.error is None:
                continue
            action = self._policy.get(attempt.error.category, Action.FAIL)
            if action is Action.CONTINUE:
                continue
            outcome = Outcome.DENIED if action is Action.DENY else Outcome.ERROR
            return self._failed(request.provider, outcome, attempts, started, attempt.error)
        failures = [
            a.error for a in attempts if a.error is not None and a.outcome is not Outcome.NOT_FOUND
        ]
        if failures:
            return self._failed(request.provider, Outcome.ERROR, attempts, started, failures[-1])
        return Resolution(
            request.provider,
            Outcome.NOT_FOUND,
            attempts=tuple(attempts),
            duration=time.perf_counter() - started,
        )

    def _fetch(self, request: AttemptRequest) -> Attempt:
        source = request.source
        started = time.perf_counter()
        try:
            record = _fetch_record(source, request.provider)
        except SourceError as exc:
            _drop_tracebacks(exc)
            return Attempt(
                source.name,
                _attempt_outcome(exc),
                time.perf_counter() - started,
                locator=exc.locator or _locator(source, request.provider),
                error=exc,
            )
        except Exception as exc:  # noqa: BLE001 - a third-party source's bug must not crash the chain
            # Only the type: a stray exception's message may hold anything, values included.
            error = SourceUnavailableError(
                f"source {source.name!r} raised {type(exc).__name__}; "
                "sources must raise a SourceError subclass",
                source=source.name,
                locator=_locator(source, request.provider),
            )
            return Attempt(
                source.name,
                Outcome.ERROR,
                time.perf_counter() - started,
                locator=error.locator,
                error=error,
            )
        duration = time.perf_counter() - started
        if record is None:
            return Attempt(
                source.name, Outcome.NOT_FOUND, duration, locator=_locator(source, request.provider)
            )
        try:
            # Here, once for every source (custom ones too): a value no key could be is
            # refused before any layer above could cache, learn or serve it.
            checked_value(record.secret.reveal(), source=source.name, locator=record.locator)
        except InvalidSourceError as exc:
            _drop_tracebacks(exc)  # the check's frames hold the value
            return Attempt(source.name, Outcome.ERROR, duration, locator=record.locator, error=exc)
        return Attempt(source.name, Outcome.FOUND, duration, locator=record.locator, record=record)

    def _found(
        self,
        *,
        provider: str,
        source: str,
        record: SecretRecord,
        attempts: tuple[Attempt, ...],
        started: float,
        cacheable: bool,
        watches: tuple[Watch, ...] = (),
    ) -> Resolution:
        return Resolution(
            provider,
            Outcome.FOUND,
            value=record.secret,
            source=source,
            locator=record.locator,
            version=record.version,
            request_id=record.request_id,
            fingerprint=self._fingerprinter.fingerprint(record.secret),
            attempts=attempts,
            cacheable=cacheable,
            duration=time.perf_counter() - started,
            # A higher source failed and the policy let a lower one answer: say so.
            degraded=bool(failed_attempts(attempts[:-1])),
            watches=watches,
        )

    @staticmethod
    def _failed(
        provider: str,
        outcome: Outcome,
        attempts: Iterable[Attempt],
        started: float,
        cause: SourceError,
    ) -> Resolution:
        attempts = tuple(attempts)
        summary = "; ".join(f"{a.source}: {a.error_type or a.outcome.value}" for a in attempts)
        error_type = ResolutionDeniedError if outcome is Outcome.DENIED else ResolutionError
        partial = Resolution(
            provider, outcome, attempts=attempts, duration=time.perf_counter() - started
        )
        verb = "denied" if outcome is Outcome.DENIED else "failed"
        error = error_type(f"resolving {provider!r} {verb}: {cause} [{summary}]", partial)
        error.__cause__ = cause
        return Resolution(
            provider, outcome, attempts=attempts, error=error, duration=partial.duration
        )


def _hit_path(
    layers: Sequence[Middleware],
) -> tuple[ResolutionCache | None, tuple[Callable[[Resolution], Resolution], ...]]:
    """Return the cache that may answer hits directly, and the layers above it, innermost
    first, that see each such hit; no cache when a layer above it has no ``on_hit``.

    Innermost first, as a hit coming up through the stack would meet them: the audit can
    deny it before the metrics count what was served.
    """
    seen: list[Callable[[Resolution], Resolution]] = []
    for layer in layers:
        if isinstance(layer, ResolutionCache):
            return layer, tuple(reversed(seen))
        on_hit = getattr(layer, "on_hit", None)
        if on_hit is None:
            return None, ()  # a layer that must see every resolution: the stack, always
        if on_hit is not pass_hit:
            seen.append(on_hit)
    return None, ()


def _watch(source: SecretProvider, provider: str) -> Watch | None:
    try:
        watcher = source.watch(provider)
        return None if watcher is None else Watch(f"{source.name}:{provider}", watcher)
    except Exception:  # noqa: BLE001 - a source that cannot watch is asked every time
        return None


def _locator(source: SecretProvider, provider: str) -> str:
    try:
        return source.locator(provider)
    except Exception:  # noqa: BLE001 - a locator is provenance; it must not break the chain
        return f"{source.name}:{provider}"


def _drop_tracebacks(error: BaseException) -> None:
    """Drop the tracebacks of ``error`` and of every exception chained to it.

    Frames of SDK calls hold credentials (request headers, login parameters) and values in
    their locals, which error reporters and ``show_locals`` tracebacks print. The error's
    message and type, which never hold them, are kept.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = None
        pending += [current.__cause__, current.__context__]


def _cache_from(cache: object) -> ResolutionCache | None:
    if cache is _DEFAULT_CACHE:
        return ResolutionCache()
    if cache is None or isinstance(cache, ResolutionCache):
        return cache
    raise TypeError(f"cache must be a ResolutionCache or None, not {type(cache).__name__}")


def _attempt_outcome(error: SourceError) -> Outcome:
    category = error.category
    if category is ErrorCategory.NOT_FOUND:
        return Outcome.NOT_FOUND
    if category in (ErrorCategory.FORBIDDEN, ErrorCategory.UNAUTHENTICATED):
        return Outcome.DENIED
    return Outcome.ERROR


def _value_of(resolution: Resolution, *, required: bool) -> str | None:
    if resolution.value is not None:
        return resolution.value.reveal()
    if resolution.error is not None:
        raise resolution.error
    if required:
        where = ", ".join(a.locator or a.source for a in resolution.attempts) or "no source"
        raise AuthenticationError(resolution.provider, f"No API key found (looked in: {where})")
    return None


def _fetch_record(source: SecretProvider, provider: str) -> SecretRecord | None:
    """``source``'s record of ``provider``, or else of a former spelling of its name: a key
    stored before a rename (a Vault field, an AWS secret named ``openai-compatible``) is
    still found under the new name (``openai_compatible``)."""
    record = source.fetch(provider)
    for former in former_names(provider) if record is None else ():
        record = source.fetch(former)
        if record is not None:
            break
    return record
