"""The application principal a resolution is made for, set per request (contextvars).

Read by tracing (``enduser.*``) and by audit (``user``), which never import each other: it
lives here, below both. ``abstractcore_secrets.audit`` re-exports it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

__all__ = ["current_principal", "principal"]

_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "abstractcore_secrets_principal", default=None
)


@contextlib.contextmanager
def principal(user_id: str | None) -> Iterator[None]:
    """Attribute the resolutions inside the block to ``user_id`` (per thread and task).

    A multi-user server wraps each request: ``with principal(request.user.id): ...``.
    """
    token = _principal.set(user_id)
    try:
        yield
    finally:
        _principal.reset(token)


def current_principal() -> str | None:
    """Return the principal set for this context, or ``None``."""
    return _principal.get()
