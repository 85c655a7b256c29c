"""``SecretsAuth``: an ``httpx.Auth`` that puts the chain's key on each request.

For any SDK that takes an httpx client (anthropic's, openai's, most others)::

    client = httpx.Client(auth=SecretsAuth("anthropic"))

Each request gets the provider's current key (a cache hit, usually). A request refused with
401 drops the cached key, resolves again and is sent once more with the new key; when the
chain gives the same key back, the 401 is returned as it is (see ``_rotation``).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import ClassVar

from .._manager import SecretsManager
from .._secret import Secret
from ..errors import MissingDependencyError
from ._rotation import RECHECK_INTERVAL, KeyRefresher, RotationHook, key_of

try:
    import anyio.to_thread
    import httpx
except ImportError as exc:  # pragma: no cover - exercised in a process without httpx
    raise MissingDependencyError("httpx", "httpx") from exc

__all__ = ["SecretsAuth", "credential_header"]

_HEADERS: dict[str, tuple[str, str | None]] = {"anthropic": ("x-api-key", None)}
_DEFAULT_HEADER = ("Authorization", "Bearer")


def credential_header(provider: str) -> tuple[str, str | None]:
    """Return the header a provider's API takes its key in, and the scheme before the key.

    ``("x-api-key", None)`` for Anthropic, ``("Authorization", "Bearer")`` for the others.
    """
    return _HEADERS.get(provider, _DEFAULT_HEADER)


class SecretsAuth(httpx.Auth):
    """Authenticate each request with ``provider``'s key from the chain; on 401, re-resolve
    and retry once with a different key.

    Works with ``httpx.Client`` and ``httpx.AsyncClient`` (the chain is asked in a worker
    thread there, so a remote source never blocks the event loop). The request body is read
    before sending, so that the retry can send it again. httpx removes ``Authorization``
    from a request redirected to another host, but no other header: with ``x-api-key``
    (Anthropic's) or another ``header=``, keep the client's ``follow_redirects`` off.

    Args:
        provider: The LLM provider (``openai``, ``anthropic``, ...).
        manager: The chain; default the process-wide one, looked up at each request.
        header: The header to set; default the provider's (:func:`credential_header`).
        scheme: What precedes the key in the header (``Bearer``); ``None`` for the key
            alone. Default: the provider's when ``header`` is not given, else none.
        recheck_interval: Seconds during which a key its source confirmed after a 401 is
            not asked for again on the next 401s.
        on_rotate: Called with the new :class:`~abstractcore_secrets.Resolution` after a
            401 brought a different key (its value is a ``Secret``: it never shows itself).

    Raises:
        ConfigurationError: ``provider`` is not a provider name.
    """

    _sets_key: ClassVar[bool] = True

    def __init__(
        self,
        provider: str,
        *,
        manager: SecretsManager | None = None,
        header: str | None = None,
        scheme: str | None = None,
        recheck_interval: float = RECHECK_INTERVAL,
        on_rotate: RotationHook | None = None,
    ) -> None:
        self._refresher = KeyRefresher(
            provider, manager, recheck_interval=recheck_interval, on_rotate=on_rotate
        )
        if header is None:
            header, scheme = credential_header(self._refresher.provider)
        self.header = header
        self.scheme = scheme

    @property
    def provider(self) -> str:
        """Return the provider whose key this sets."""
        return self._refresher.provider

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        """Send ``request`` with the key; after a 401, once more with a different key."""
        request.read()
        if self._sets_key:
            self._apply(request, key_of(self._refresher.current()))
        response = yield request
        if response.status_code != 401:
            return
        fresh = self._refresher.after_refusal(self._presented(request))
        if fresh is not None:
            self._apply(request, key_of(fresh))
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Like :meth:`sync_auth_flow`, asking the chain in a worker thread."""
        await request.aread()
        if self._sets_key:
            current = await anyio.to_thread.run_sync(self._refresher.current)
            self._apply(request, key_of(current))
        response = yield request
        if response.status_code != 401:
            return
        refused = self._presented(request)
        fresh = await anyio.to_thread.run_sync(self._refresher.after_refusal, refused)
        if fresh is not None:
            self._apply(request, key_of(fresh))
            yield request

    def _apply(self, request: httpx.Request, key: Secret) -> None:
        value = key.reveal()
        request.headers[self.header] = value if self.scheme is None else f"{self.scheme} {value}"

    def _presented(self, request: httpx.Request) -> str | None:
        """Return the key the request carried in the header, or ``None``."""
        value = request.headers.get(self.header)
        if not isinstance(value, str) or self.scheme is None:
            return value if isinstance(value, str) else None
        scheme, _, key = value.partition(" ")
        return key if scheme.lower() == self.scheme.lower() and key else None

    def __repr__(self) -> str:
        # Safe on an object whose __init__ failed (a traceback printer may show it).
        refresher = getattr(self, "_refresher", None)
        provider = refresher.provider if refresher is not None else None
        header = getattr(self, "header", None)
        return f"{type(self).__name__}(provider={provider!r}, header={header!r})"


class RefusalOnlyAuth(SecretsAuth):
    """Leave the key the SDK set, and apply only the 401 rule.

    For an SDK that already takes its key from the chain (openai's callable ``api_key``),
    so that a request costs one resolution, not two.
    """

    _sets_key = False

    def __init__(self, refresher: KeyRefresher, header: str, scheme: str | None) -> None:
        self._refresher = refresher
        self.header = header
        self.scheme = scheme
