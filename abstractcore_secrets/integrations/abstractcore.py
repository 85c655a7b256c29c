"""Make AbstractCore's ``create_llm`` take its keys from the chain: one call, :func:`install`.

    from abstractcore import create_llm
    from abstractcore_secrets.integrations.abstractcore import install

    install()
    llm = create_llm("openai", model="gpt-4o-mini")  # explicit > env > managed > config

After :func:`install`, each ``create_llm`` of a provider with a key (:data:`PROVIDERS`) and no
``api_key`` resolves the key through the chain (traced, measured, audited with the current
principal) and hands it to the provider; the provider's HTTP client then puts the chain's
current key on each request and applies the 401 rule (drop the cached key, resolve again,
retry once). An ``api_key`` given to ``create_llm`` (or to AbstractCore's
``configure_provider``) wins, and is recorded as ``explicit``.

AbstractCore has no hook for this: :func:`install` wraps the ``create_provider_instance``
method of its provider registry (the one object every ``create_llm`` goes through), and
:func:`uninstall` removes the wrapper. Nothing in AbstractCore's modules is replaced.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from .._manager import SecretsManager
from .._resolution import Resolution
from ..assembly import get_secrets_manager
from ..errors import MissingDependencyError
from ._rotation import RECHECK_INTERVAL, KeyRefresher, key_of

__all__ = ["PROVIDERS", "install", "installed", "resolution_of", "uninstall"]

PROVIDERS: Mapping[str, str] = MappingProxyType(
    {
        "openai": "openai",
        "anthropic": "anthropic",
        "openrouter": "openrouter",
        "portkey": "portkey",
        "openai-compatible": "openai_compatible",
        "vllm": "vllm",
    }
)
"""AbstractCore's providers that take a key (those of its config file's ``api_keys``), by
AbstractCore's name -> the provider name here. Others (``ollama``, ``lmstudio``, ``mlx``,
``huggingface``, ``endpoint:...`` profiles) are left to AbstractCore."""

_ATTRIBUTE = "create_provider_instance"
_lock = threading.Lock()
_resolutions: weakref.WeakKeyDictionary[Any, Resolution] = weakref.WeakKeyDictionary()


def install(
    manager: SecretsManager | None = None, *, recheck_interval: float = RECHECK_INTERVAL
) -> None:
    """Make every later ``create_llm`` of a keyed provider take its key from the chain.

    Calling it again replaces the settings; providers created before keep theirs.

    Args:
        manager: The chain; default the process-wide one, looked up at each ``create_llm``.
        recheck_interval: Seconds during which a key its source confirmed after a 401 is
            not asked for again on the next 401s.

    Raises:
        MissingDependencyError: AbstractCore is not installed.
    """
    registry = _registry()
    with _lock:
        hook = registry.__dict__.get(_ATTRIBUTE)
        original = hook.original if isinstance(hook, _CreateHook) else getattr(registry, _ATTRIBUTE)
        setattr(registry, _ATTRIBUTE, _CreateHook(original, manager, recheck_interval))


def uninstall() -> None:
    """Give ``create_llm`` back its own key lookup; providers created before keep theirs."""
    if "abstractcore" not in sys.modules:
        return
    registry = _registry()
    with _lock:
        if isinstance(registry.__dict__.get(_ATTRIBUTE), _CreateHook):
            delattr(registry, _ATTRIBUTE)


def installed() -> bool:
    """Whether ``create_llm`` takes its keys from the chain now."""
    if "abstractcore" not in sys.modules:
        return False
    return isinstance(_registry().__dict__.get(_ATTRIBUTE), _CreateHook)


def resolution_of(llm: object) -> Resolution | None:
    """Return where the key of a provider made by ``create_llm`` came from.

    The resolution made when it was created, or after a 401 brought a new key; ``None``
    for a provider created without the chain (before :func:`install`, or not keyed).
    """
    try:
        return _resolutions.get(llm)
    except TypeError:  # not weakly referenceable, or not hashable: never recorded
        return None


def _registry() -> Any:  # noqa: ANN401 - AbstractCore's ProviderRegistry
    try:
        from abstractcore.providers.registry import get_provider_registry
    except ImportError as exc:
        raise MissingDependencyError("abstractcore", "abstractcore") from exc
    return get_provider_registry()


class _CreateHook:
    """``ProviderRegistry.create_provider_instance``, with the key from the chain."""

    def __init__(
        self, original: Callable[..., Any], manager: SecretsManager | None, recheck: float
    ) -> None:
        self.original = original
        self.manager = manager
        self.recheck_interval = recheck

    def __call__(
        self,
        provider_name: str,
        model: str | None = None,
        **kwargs: Any,  # noqa: ANN401 - the provider's own options
    ) -> Any:  # noqa: ANN401 - an AbstractCore provider
        name = PROVIDERS.get(str(provider_name or "").strip().lower())
        if name is None:
            return self.original(provider_name, model, **kwargs)
        manager = self.manager if self.manager is not None else get_secrets_manager()
        given = kwargs.get("api_key")
        if given is None:
            given = _configured_key(provider_name)
        if isinstance(given, str) and given:
            # The caller's key wins; resolving it records that it did (source explicit).
            resolution = manager.resolve(name, api_key=given)
            llm = self.original(provider_name, model, **kwargs)
            _remember(llm, resolution)
            return llm
        if given is not None:
            # An empty key (an OpenAI-compatible server without auth): the caller's choice.
            return self.original(provider_name, model, **kwargs)
        kwargs.pop("api_key", None)  # an explicit None: no key given
        resolution = manager.resolve(name)
        if resolution.value is None:
            if resolution.error is not None:
                # Denied or failed: fail closed, before AbstractCore falls back to a variable.
                raise resolution.error
            return self.original(provider_name, model, **kwargs)  # not found: AbstractCore's way
        refresher = KeyRefresher(name, self.manager, recheck_interval=self.recheck_interval)
        llm, resolution = self._create(refresher, resolution, provider_name, model, kwargs)
        _remember(llm, resolution)
        _follow_the_chain(llm, name, self.manager, self.recheck_interval)
        return llm

    def _create(
        self,
        refresher: KeyRefresher,
        resolution: Resolution,
        provider_name: str,
        model: str | None,
        kwargs: dict[str, Any],
    ) -> tuple[Any, Resolution]:
        """Create the provider with the key; apply the 401 rule to its creation too.

        AbstractCore's OpenAI provider lists the models when created, and raises on a 401: a
        key rotated at its source, still cached here, is refused there first.
        """
        key = key_of(resolution).reveal()
        refusal: BaseException | None = None
        try:
            return self.original(provider_name, model, api_key=key, **kwargs), resolution
        except Exception as exc:
            if not _refused_by_service(exc):
                raise
            refusal = exc
        fresh = refresher.after_refusal(key)
        if fresh is None:
            raise refusal
        llm = self.original(provider_name, model, api_key=key_of(fresh).reveal(), **kwargs)
        return llm, fresh


def _refused_by_service(error: BaseException) -> bool:
    """Whether AbstractCore says the service refused the key (its AuthenticationError)."""
    exceptions = sys.modules.get("abstractcore.exceptions")
    refused = getattr(exceptions, "AuthenticationError", None)
    return isinstance(refused, type) and isinstance(error, refused)


def _configured_key(provider_name: str) -> object:
    """The ``api_key`` set with AbstractCore's ``configure_provider``, or ``None``."""
    try:
        from abstractcore.config import get_provider_config

        return get_provider_config(provider_name).get("api_key")
    except Exception:  # noqa: BLE001 - AbstractCore's lookup failing means none set
        return None


def _remember(llm: object, resolution: Resolution) -> None:
    try:
        _resolutions[llm] = resolution
    except TypeError:
        return  # not weakly referenceable, or not hashable: resolution_of() answers None


def _follow_the_chain(
    llm: Any,  # noqa: ANN401 - an AbstractCore provider
    provider: str,
    manager: SecretsManager | None,
    recheck_interval: float,
) -> None:
    """Give the provider's HTTP clients a :class:`SecretsAuth`: each request carries the
    chain's current key, and a 401 is met by the 401 rule."""
    import httpx

    from .httpx import SecretsAuth

    reference = weakref.ref(llm)

    def rotated(resolution: Resolution) -> None:
        # AbstractCore also sends ``llm.api_key`` itself (audio, images): keep it current.
        target = reference()
        if target is not None:
            target.api_key = key_of(resolution).reveal()
            _remember(target, resolution)

    auth = SecretsAuth(
        provider, manager=manager, recheck_interval=recheck_interval, on_rotate=rotated
    )
    client: Any = getattr(llm, "client", None)
    if isinstance(client, httpx.Client):
        # The OpenAI-compatible family (openai-compatible, vllm, openrouter, portkey).
        client.auth = auth
        if getattr(llm, "_async_client", True) is None:
            llm._async_client = httpx.AsyncClient(timeout=client.timeout, auth=auth)
        return
    sdk = sys.modules.get(type(client).__module__.partition(".")[0])
    if sdk is None or not hasattr(client, "with_options"):
        return  # a client this does not know: the key given at creation stays
    # The openai and anthropic SDK clients: the same client, on an httpx client with auth.
    # httpx drops Authorization on a redirect to another host, but not x-api-key.
    follow = auth.header.lower() == "authorization"
    llm.client = client.with_options(
        http_client=sdk.DefaultHttpxClient(auth=auth, follow_redirects=follow)
    )
    async_class = getattr(sdk, "Async" + type(client).__name__, None)
    if async_class is not None and getattr(llm, "_async_client", True) is None:
        llm._async_client = async_class(
            api_key=client.api_key,
            base_url=client.base_url,
            timeout=client.timeout,
            max_retries=client.max_retries,
            http_client=sdk.DefaultAsyncHttpxClient(auth=auth, follow_redirects=follow),
        )
