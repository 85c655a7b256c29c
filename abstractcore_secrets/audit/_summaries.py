"""Hit summaries: plain cache hits counted per window, written as ``secret.accessed`` events.

With ``hits="summary"`` the audit layer does not write an event per cache hit: it counts
each hit here, under one lock, by provider, source, principal and fingerprint (the outcome
is always ``found``), with the time of the first and last. When the window ends, and on
``flush()`` and ``close()``, each count is written as one summary event. A crash loses at
most the counts of the window under way; the fetch that first served each key is always an
event of its own, written before the key was served.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .._resolution import Resolution

_LOGGER = logging.getLogger("abstractcore_secrets.audit")

MAX_OPEN = 10_000
"""Distinct cached values counted at most at once; past it, the window is written early."""

_Key = tuple[str, str | None, str | None, str | None]


class HitCount:
    """The hits of one provider's key, from one source, by one principal, in one window.

    Attributes:
        hit: The first hit counted (its provenance stands for all: same key, same source).
        principal: Who resolved, as the audit layer names it before any processor.
        count: Hits counted.
        first: When the first was served (seconds since the epoch).
        last: When the last was.
    """

    __slots__ = ("count", "first", "hit", "last", "principal")

    def __init__(self, hit: Resolution, principal: str | None, now: float) -> None:
        self.hit = hit
        self.principal = principal
        self.count = 1
        self.first = now
        self.last = now


class HitSummaries:
    """Count plain cache hits; hand the counts to ``write`` at each window's end.

    The background thread starts with the first hit. ``write`` receives the counts of a
    window, oldest first, from that thread (or from the caller of :meth:`flush`); it must
    not raise (what it raises is logged by type and the counts are lost).

    Args:
        window: Seconds a count stays open.
        write: Turns counts into summary events.
        clock: Seconds since the epoch, for tests.

    Raises:
        ConfigurationError: ``window`` is not a positive number of seconds.
    """

    def __init__(
        self,
        window: float,
        write: Callable[[list[HitCount]], None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(window, (int, float)) or isinstance(window, bool) or not window > 0:
            raise ConfigurationError(
                f"audit summary_window must be a number of seconds > 0, not {window!r}"
            )
        self.window = float(window)
        self._write = write
        self._clock = clock
        self._reset()
        in_child = weakref.WeakMethod(self._reset)
        # A forked child did not make its parent's hits, and has no thread.
        os.register_at_fork(after_in_child=functools.partial(_call_if_alive, in_child))

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one window written at a time, in order
        # By hit object (its id, with the object so that the id is not reused), then by
        # principal: two cheap lookups per hit. Grouped by key when written.
        self._open: dict[int, tuple[Resolution, dict[str | None, HitCount]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, hit: Resolution, principal: str | None) -> None:
        """Count one plain hit (found, fresh, not degraded)."""
        now = self._clock()
        with self._lock:
            slot = self._open.get(id(hit))
            if slot is not None and slot[0] is hit:
                counted = slot[1].get(principal)
                if counted is not None:
                    counted.count += 1
                    counted.last = now
                    return
                slot[1][principal] = HitCount(hit, principal, now)
            else:
                self._open[id(hit)] = (hit, {principal: HitCount(hit, principal, now)})
            closed = self._stop.is_set()
            crowded = len(self._open) >= MAX_OPEN
            if self._thread is None and not closed:
                self._start_locked()
        if crowded or closed:
            self.flush()

    def flush(self) -> None:
        """Write the open counts now, one per provider, source, principal and key.

        A barrier: when it returns, every hit counted before the call is written (a write
        under way in the window's thread is waited for), windows in order.
        """
        with self._writing:
            with self._lock:
                slots, self._open = list(self._open.values()), {}
            self._write_counts(
                _grouped(count for _, by_principal in slots for count in by_principal.values())
            )

    def _write_counts(self, counts: list[HitCount]) -> None:
        if counts:
            try:
                self._write(counts)
            except Exception as exc:  # noqa: BLE001 - a summary writer must not kill the thread
                _LOGGER.warning(
                    "audit summaries of %d hits not written (%s)",
                    sum(count.count for count in counts),
                    type(exc).__name__,
                )

    def close(self) -> None:
        """Write the open counts and stop the thread; later hits are written at once."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.flush()

    def _start_locked(self) -> None:
        self._thread = threading.Thread(target=self._run, name="audit-summaries", daemon=True)
        self._thread.start()
        atexit.register(_call_if_alive, weakref.WeakMethod(self.close))

    def _run(self) -> None:
        while not self._stop.wait(self.window):
            self.flush()


def _grouped(counts: Iterable[HitCount]) -> list[HitCount]:
    """Merge the counts of one provider, source, principal and key (two hit objects of one
    value: refetched within the window), oldest first."""
    merged: dict[_Key, HitCount] = {}
    for count in counts:
        hit = count.hit
        key = (hit.provider, hit.source, count.principal, hit.fingerprint)
        known = merged.get(key)
        if known is None:
            merged[key] = count
            continue
        known.count += count.count
        known.first = min(known.first, count.first)
        known.last = max(known.last, count.last)
    return sorted(merged.values(), key=lambda count: count.first)


def _call_if_alive(method: weakref.WeakMethod[Any]) -> None:
    bound = method()
    if bound is not None:
        bound()
