"""Anthropic clients whose key comes from the chain, with the 401 rule.

The anthropic SDK takes no callable key; it takes an httpx client, whose
:class:`~abstractcore_secrets.integrations.httpx.SecretsAuth` sets ``x-api-key`` on each
request::

    client = anthropic_client()                   # anthropic.Anthropic
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._manager import SecretsManager
from ..errors import MissingDependencyError
from ._rotation import KeyRefresher, key_of
from .httpx import SecretsAuth

if TYPE_CHECKING:
    import anthropic

__all__ = ["anthropic_client", "async_anthropic_client"]


def anthropic_client(
    provider: str = "anthropic",
    *,
    manager: SecretsManager | None = None,
    **options: Any,  # noqa: ANN401 - anthropic.Anthropic's own options, passed on
) -> anthropic.Anthropic:
    """Return an ``anthropic.Anthropic`` whose key comes from the chain, with the 401 rule.

    The key is resolved once now, so a missing key fails here rather than at the first
    request, and so the SDK does not look for credentials of its own (its environment
    variables, profiles): each request then carries the chain's current key.

    Args:
        provider: The LLM provider; default ``anthropic``.
        manager: The chain; default the process-wide one.
        **options: Passed on to ``anthropic.Anthropic`` (``base_url``, ``timeout``, ...).
            An ``http_client`` given is used, with its ``auth`` replaced. The one made here
            follows no redirect: httpx removes ``Authorization`` from a request redirected
            to another host, but not ``x-api-key``.

    Raises:
        MissingDependencyError: anthropic is not installed.
        AuthenticationError: No source has the key.
        ResolutionDeniedError: A managed source refused (the chain failed closed).
        ResolutionError: Sources failed and no cached value could be served.
    """
    try:
        import anthropic as sdk
    except ImportError as exc:
        raise MissingDependencyError("anthropic", "anthropic") from exc
    auth = SecretsAuth(provider, manager=manager)
    # httpx drops Authorization on a redirect to another host, not x-api-key: follow none.
    http_client = options.pop("http_client", None) or sdk.DefaultHttpxClient(follow_redirects=False)
    http_client.auth = auth
    key = _first_key(provider, manager)
    return sdk.Anthropic(api_key=key, http_client=http_client, **options)


def async_anthropic_client(
    provider: str = "anthropic",
    *,
    manager: SecretsManager | None = None,
    **options: Any,  # noqa: ANN401 - anthropic.AsyncAnthropic's own options, passed on
) -> anthropic.AsyncAnthropic:
    """Return an ``anthropic.AsyncAnthropic`` whose key comes from the chain.

    Like :func:`anthropic_client`; the first key is resolved now, in this thread (build the
    client at start-up, not inside a request handler).
    """
    try:
        import anthropic as sdk
    except ImportError as exc:
        raise MissingDependencyError("anthropic", "anthropic") from exc
    auth = SecretsAuth(provider, manager=manager)
    http_client = options.pop("http_client", None) or sdk.DefaultAsyncHttpxClient(
        follow_redirects=False
    )
    http_client.auth = auth
    key = _first_key(provider, manager)
    return sdk.AsyncAnthropic(api_key=key, http_client=http_client, **options)


def _first_key(provider: str, manager: SecretsManager | None) -> str:
    return key_of(KeyRefresher(provider, manager).current()).reveal()
