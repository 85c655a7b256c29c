"""Resilience of remote sources: deadlines, retries with jittered backoff, a circuit breaker each.

``Resilience`` is an attempt middleware. Around each source's fetch it:

- bounds each attempt of a remote (cacheable) source by the policy's ``timeout``, all
  tries, waits and the answer's body included, whatever the SDK does with its socket
  timeouts (a server trickling its answer restarts a read timeout with every byte). Each
  try runs on a worker thread of a small pool per source and is waited for with a timeout;
  on expiry the attempt is a ``SourceTimeoutError`` and the call is abandoned: what it
  brings back later is dropped, never stored, served or learnt from. A pool whose
  ``workers`` are all held by abandoned calls fails the next try at once, as unavailable,
  so a stuck server cannot exhaust threads. Local sources (environment, files) are read on
  the caller's thread;

- skips a source whose circuit is open (it failed ``failure_threshold`` times in a row), so
  a dead backend costs nothing until ``reset_timeout`` has passed; then one probe goes
  through (half-open), and its result closes or re-opens the circuit;
- retries throttled and unavailable answers with exponential backoff and jitter, honouring a
  server's ``Retry-After`` up to ``max_retry_after``; a wait that would pass the attempt's
  ``timeout`` is not made, the attempt fails over at once. A ``Retry-After`` that is no
  wait (negative, NaN, not a number) is ignored in favour of the backoff.

The loop is our own rather than stamina's: stamina's instrumentation is process-wide and
writes each retry to structlog's default output, standard output included, which would
corrupt ``get --reveal`` and ``--json``; and the deadline must bound the waits, not only the
tries.

Its :meth:`~Resilience.deadline_scope` is a resolution middleware (put it outside the cache)
that bounds a whole resolution by ``deadline``: an attempt gets at most what is left of it,
a remote source whose turn comes after it is skipped as a timeout (``tries=0``), and a caller
waiting on another caller's fetch in the cache waits no longer than its own deadline
(:func:`time_left`).

Per-request deadlines (connect and read) are each source's own ``timeout`` settings. All of
it shows in the resolution: ``Attempt.tries``, a ``SourceTimeoutError`` for an attempt past
its deadline, and a ``CircuitOpenError`` for a skipped source.
"""

from __future__ import annotations

from ._circuit import CircuitBreaker, CircuitState
from ._deadline import time_left
from ._resilience import Resilience
from ._retry import RetryPolicy

__all__ = ["CircuitBreaker", "CircuitState", "Resilience", "RetryPolicy", "time_left"]
