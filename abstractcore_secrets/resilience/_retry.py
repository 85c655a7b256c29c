"""How one attempt retries: the policy, and the wait before each retry."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .._resolution import Attempt
from ..errors import ErrorCategory


@dataclass(frozen=True)
class RetryPolicy:
    """How one attempt retries a source that was throttled or unavailable.

    Attributes:
        attempts: Calls at most, the first included; 1 turns retries off.
        timeout: Seconds within which all tries and waits of one attempt must fit, answers'
            bodies included: a remote source's try still running then is abandoned as a
            timeout, and a wait that would end past it is not made.
        wait_initial: Backoff before the first retry (then doubling).
        wait_max: Longest backoff.
        wait_jitter: Random seconds (0 to this) added to each backoff.
        max_retry_after: Longest ``Retry-After`` honoured; longer asks fail the attempt.
        retry_on: Categories that are retried.
    """

    attempts: int = 3
    timeout: float = 8.0
    wait_initial: float = 0.05
    wait_max: float = 2.0
    wait_jitter: float = 0.1
    max_retry_after: float = 5.0
    retry_on: frozenset[ErrorCategory] = frozenset(
        {ErrorCategory.UNAVAILABLE, ErrorCategory.THROTTLED}
    )


def backoff(policy: RetryPolicy, attempt: Attempt, tries: int) -> float | None:
    """Return the wait before the next try, or ``None`` when no retry should be made."""
    retry_after = asked_wait(attempt)
    if retry_after is not None:
        # A server asking for a longer wait than we allow: fail over now instead.
        return retry_after if retry_after <= policy.max_retry_after else None
    exponential: float = policy.wait_initial * 2.0 ** (tries - 1)
    return min(policy.wait_max, exponential + random.uniform(0, policy.wait_jitter))  # noqa: S311 - jitter, not crypto


def asked_wait(attempt: Attempt) -> float | None:
    """Return the error's ``retry_after`` when it is a wait at all: a number, 0 or more.

    A source's translation is one line away from the wire, so a negative, NaN or non-number
    is ignored (normal backoff) rather than trusted; ``inf`` stays, to fail over as too long.
    """
    value: object = None if attempt.error is None else attempt.error.retry_after
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value >= 0 else None  # NaN compares false: ignored too
