"""The middleware contract: small callables that wrap a resolution or one attempt.

A resolution middleware receives the request and the next handler, and returns a
``Resolution``; it may act before, after, or instead of calling ``call_next`` (the cache
answers without it). An attempt middleware does the same around one source's fetch.
Both stacks are composed once, when the ``SecretsManager`` is built; the first layer
in a list is the outermost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from ._resolution import Attempt, Resolution
    from ._secret import Secret
    from .sources.base import SecretProvider


@dataclass(frozen=True, slots=True)
class ResolveRequest:
    """A request for one provider's key; ``explicit`` is the caller's own ``api_key``."""

    provider: str
    explicit: Secret | None = None


@dataclass(frozen=True, slots=True)
class AttemptRequest:
    """A request to one source for one provider's key."""

    provider: str
    source: SecretProvider


Handler = Callable[[ResolveRequest], "Resolution"]
AttemptHandler = Callable[[AttemptRequest], "Attempt"]


class Middleware(Protocol):
    """Wraps a whole resolution."""

    def __call__(self, request: ResolveRequest, call_next: Handler, /) -> Resolution:
        """Return the resolution, calling ``call_next(request)`` to go on down the stack."""
        ...


class AttemptMiddleware(Protocol):
    """Wraps one attempt: one source asked for one key."""

    def __call__(self, request: AttemptRequest, call_next: AttemptHandler, /) -> Attempt:
        """Return the attempt, calling ``call_next(request)`` to ask the source."""
        ...


def pass_hit(hit: Resolution) -> Resolution:
    """The ``on_hit`` of a layer a cache hit passes by unchanged: the manager skips it."""
    return hit


_Request = TypeVar("_Request")
_Result = TypeVar("_Result")


def compose(
    layers: Sequence[Callable[[_Request, Callable[[_Request], _Result]], _Result]],
    innermost: Callable[[_Request], _Result],
) -> Callable[[_Request], _Result]:
    """Build one handler from ``layers`` around ``innermost``; ``layers[0]`` is outermost."""
    handler = innermost
    for layer in reversed(layers):
        handler = _bind(layer, handler)
    return handler


def _bind(
    layer: Callable[[_Request, Callable[[_Request], _Result]], _Result],
    call_next: Callable[[_Request], _Result],
) -> Callable[[_Request], _Result]:
    def handler(request: _Request) -> _Result:
        return layer(request, call_next)

    return handler
