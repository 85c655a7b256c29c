"""The resolution's deadline, held in a context variable the attempts and the cache read."""

from __future__ import annotations

import contextvars
import time

ENDS: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "abstractcore_secrets_resolution_deadline", default=None
)
"""When the current resolution's deadline passes, on the ``time.monotonic`` clock."""


def time_left() -> float | None:
    """Return the seconds left before the current resolution's deadline (0 once past it).

    Returns:
        ``None`` outside a :meth:`Resilience.deadline_scope`.
    """
    ends = ENDS.get()
    return None if ends is None else max(0.0, ends - time.monotonic())
