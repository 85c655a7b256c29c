"""Keys from the chain for the openai SDK: a callable ``api_key``, and ready-made clients.

openai-python calls a callable ``api_key`` before each request, so a key rotated at its
source reaches a running client once the cache refreshes it. To act on a 401 at once (drop
the cached key, resolve again, retry once), the client also needs the key's ``auth`` on its
httpx client; :func:`openai_client` wires both::

    client = openai_client()                      # openai.OpenAI
    client = openai_client("openrouter", base_url="https://openrouter.ai/api/v1")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._manager import SecretsManager
from ..errors import MissingDependencyError
from ._rotation import RECHECK_INTERVAL, KeyRefresher, key_of
from .httpx import RefusalOnlyAuth, SecretsAuth, credential_header

if TYPE_CHECKING:
    import openai

__all__ = ["ApiKey", "AsyncApiKey", "async_openai_client", "openai_client"]


class _ChainKey:
    """What both callable keys share: the provider, the chain, the 401 rule's ``auth``."""

    def __init__(
        self,
        provider: str = "openai",
        *,
        manager: SecretsManager | None = None,
        recheck_interval: float = RECHECK_INTERVAL,
    ) -> None:
        self._refresher = KeyRefresher(provider, manager, recheck_interval=recheck_interval)

    @property
    def provider(self) -> str:
        """Return the provider whose key this returns."""
        return self._refresher.provider

    @property
    def auth(self) -> SecretsAuth:
        """Return an ``httpx.Auth`` that applies the 401 rule to requests sent with this key.

        It leaves the ``Authorization`` header the SDK set from this key, so a request
        costs one resolution.
        """
        header, scheme = credential_header(self.provider)
        return RefusalOnlyAuth(self._refresher, header, scheme)

    def __repr__(self) -> str:
        # Safe on an object whose __init__ failed (a traceback printer may show it).
        refresher = getattr(self, "_refresher", None)
        provider = refresher.provider if refresher is not None else None
        return f"{type(self).__name__}(provider={provider!r})"


class ApiKey(_ChainKey):
    """A callable ``api_key`` for ``openai.OpenAI``: each call returns the chain's key.

    ``openai.OpenAI(api_key=key, http_client=openai.DefaultHttpxClient(auth=key.auth))`` is
    what :func:`openai_client` builds. Its ``repr`` names the provider, never the key.

    Args:
        provider: The LLM provider; default ``openai`` (any OpenAI-compatible one works).
        manager: The chain; default the process-wide one, looked up at each call.
        recheck_interval: Seconds during which a key its source confirmed after a 401 is
            not asked for again on the next 401s.

    Raises:
        ConfigurationError: ``provider`` is not a provider name.
    """

    def __call__(self) -> str:
        """Return the key (the SDK calls this before each request).

        Raises:
            AuthenticationError: No source has the key.
            ResolutionDeniedError: A managed source refused (the chain failed closed).
            ResolutionError: Sources failed and no cached value could be served.
        """
        return key_of(self._refresher.current()).reveal()


class AsyncApiKey(_ChainKey):
    """A callable ``api_key`` for ``openai.AsyncOpenAI``: awaiting a call returns the key.

    The chain is asked in a worker thread, so a remote source never blocks the event loop.
    Arguments and errors are :class:`ApiKey`'s.
    """

    async def __call__(self) -> str:
        """Return the key (the SDK awaits this before each request)."""
        import anyio.to_thread

        resolution = await anyio.to_thread.run_sync(self._refresher.current)
        return key_of(resolution).reveal()


def openai_client(
    provider: str = "openai",
    *,
    manager: SecretsManager | None = None,
    **options: Any,  # noqa: ANN401 - openai.OpenAI's own options, passed on
) -> openai.OpenAI:
    """Return an ``openai.OpenAI`` whose key comes from the chain, with the 401 rule.

    Args:
        provider: The LLM provider; default ``openai``.
        manager: The chain; default the process-wide one.
        **options: Passed on to ``openai.OpenAI`` (``base_url``, ``timeout``, ...). An
            ``http_client`` given is used, with its ``auth`` replaced.

    Raises:
        MissingDependencyError: openai is not installed.
    """
    try:
        import openai as sdk
    except ImportError as exc:
        raise MissingDependencyError("openai", "openai") from exc
    key = ApiKey(provider, manager=manager)
    http_client = options.pop("http_client", None) or sdk.DefaultHttpxClient()
    http_client.auth = key.auth
    return sdk.OpenAI(api_key=key, http_client=http_client, **options)


def async_openai_client(
    provider: str = "openai",
    *,
    manager: SecretsManager | None = None,
    **options: Any,  # noqa: ANN401 - openai.AsyncOpenAI's own options, passed on
) -> openai.AsyncOpenAI:
    """Return an ``openai.AsyncOpenAI`` whose key comes from the chain, with the 401 rule.

    Args:
        provider: The LLM provider; default ``openai``.
        manager: The chain; default the process-wide one.
        **options: Passed on to ``openai.AsyncOpenAI``. An ``http_client`` given is used,
            with its ``auth`` replaced.

    Raises:
        MissingDependencyError: openai is not installed.
    """
    try:
        import openai as sdk
    except ImportError as exc:
        raise MissingDependencyError("openai", "openai") from exc
    key = AsyncApiKey(provider, manager=manager)
    http_client = options.pop("http_client", None) or sdk.DefaultAsyncHttpxClient()
    http_client.auth = key.auth
    return sdk.AsyncOpenAI(api_key=key, http_client=http_client, **options)
