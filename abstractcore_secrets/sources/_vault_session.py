"""What Vault's HTTP session does with an answer before hvac reads it.

Two answers are turned into errors in the session's response hook, where the status and the
headers are still at hand (hvac's own errors keep neither):

- a redirect (3xx) is never followed. It would re-send the request as it was: the
  ``X-Vault-Token`` header, and for a 307 or 308 an AppRole login's ``secret_id``, to whatever
  host the ``Location`` names, over http even when the address is https;
- a 429 carries its ``Retry-After`` on to the error, so that a wait longer than the retry
  policy honours fails over at once, and a short one is waited for, not guessed.

Neither error holds the request or the response: the request's headers carry the token.
"""

from __future__ import annotations

from typing import Any

from ._http import location_host, parse_retry_after
from ._imports import require


class VaultRateLimited(Exception):  # noqa: N818 - named for what Vault said, as hvac's are
    """Vault answered 429; ``retry_after`` is the wait its ``Retry-After`` asked for, if valid.

    Raised by the session's response hook, before hvac sees the answer; it holds a message
    and a number, nothing of the request.
    """

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def harden_session(session: Any) -> None:  # noqa: ANN401 - a requests.Session
    """Make ``session`` raise on any 3xx answer, and carry a 429's ``Retry-After``.

    hvac is told not to follow (``allow_redirects=False``); the session is also capped at
    none, and the hook turns the 3xx into ``TooManyRedirects``, which
    :func:`~abstractcore_secrets.sources.vault.translate_error` reports as ``invalid``. A
    429 becomes :class:`VaultRateLimited`, reported as ``throttled`` with its wait.
    """
    session.max_redirects = 0
    session.hooks["response"].append(_check_answer)


def _check_answer(response: Any, **_: object) -> None:  # noqa: ANN401 - requests.Response
    """Raise for a 3xx or a 429; each message names only the status and, for a 3xx, the host."""
    status = response.status_code
    if status == 429:
        raw = response.headers.get("Retry-After")
        response.close()  # the body is never read: hvac's message from it is not needed
        raise VaultRateLimited(
            "Vault's rate limit was reached (429)",
            parse_retry_after(raw) if isinstance(raw, str) else None,
        )
    if not 300 <= status < 400:
        return
    requests_exceptions = require("requests.exceptions", "vault")
    target = location_host(response.url, response.headers.get("Location"))
    response.close()  # the body is never read: it may be huge
    # No response= or request=: the request carries the token in its headers.
    raise requests_exceptions.TooManyRedirects(
        f"Vault answered {status} redirecting to {target}, which was not followed"
    )
