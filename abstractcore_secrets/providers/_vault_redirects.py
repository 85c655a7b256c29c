"""Vault requests never follow a redirect: it would carry the credentials elsewhere.

A redirect re-sends the request as it was: the ``X-Vault-Token`` header, and for a 307 or
308 an AppRole login's ``secret_id``, to whatever host the ``Location`` names, over http
even when the address is https.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

from ._imports import require


def refuse_redirects(session: Any) -> None:  # noqa: ANN401 - a requests.Session
    """Make ``session`` raise on any 3xx answer instead of following it.

    A redirect re-sends the request as it was: the ``X-Vault-Token`` header, and for a 307 or
    308 an AppRole login's ``secret_id``, to whatever host the ``Location`` names, over http
    even when the address is https. hvac is told not to follow (``allow_redirects=False``);
    the session is also capped at none, and the hook turns the 3xx into an error, which
    :func:`~abstractcore_secrets.providers.vault.translate_error` reports as ``invalid``.
    """
    session.max_redirects = 0
    session.hooks["response"].append(_raise_on_redirect)


def _raise_on_redirect(response: Any, **_: object) -> None:  # noqa: ANN401 - requests.Response
    """Raise ``TooManyRedirects`` for a 3xx answer; its message names only the status and host."""
    status = response.status_code
    if not 300 <= status < 400:
        return
    requests_exceptions = require("requests.exceptions", "vault")
    target = _location_host(response.url, response.headers.get("Location"))
    response.close()  # the body is never read: it may be huge
    # No response= or request=: the request carries the token in its headers.
    raise requests_exceptions.TooManyRedirects(
        f"Vault answered {status} redirecting to {target}, which was not followed"
    )


def _location_host(url: str, location: str | None) -> str:
    """Return ``scheme://host:port`` of where ``location`` points, never its path or user."""
    if not location:
        return "no Location"
    try:
        target = urlsplit(urljoin(url, location))
        port = target.port
    except ValueError:
        return "a malformed Location"
    host = (target.hostname or "")[:100]
    if not host or not all(c.isalnum() or c in ".-:[]_" for c in host):
        return "a Location with no usable host"
    scheme = target.scheme[:10] if target.scheme.isalpha() else "?"
    return f"{scheme}://{host}" + (f":{port}" if port else "")
