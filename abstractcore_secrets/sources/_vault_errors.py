"""What hvac's, requests' and our session hook's exceptions mean, for the Vault source.

Three tables: :func:`errors` for any Vault call, :func:`read_errors` for a KV read (a 404
is "not here", unless Vault says the mount or the engine version is wrong) and
:func:`login_errors` for a login (its 400, 401 and 403 name the login method).
"""

from __future__ import annotations

import functools
from typing import Any

from ..errors import (
    ConfigurationError,
    InvalidSourceError,
    SecretNotFoundError,
    SourceError,
    SourceForbiddenError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
)
from ._imports import require
from ._translate import ErrorTable, Rule
from ._vault_session import VaultRateLimited

_NOT_A_URL = (
    "the Vault address is not a URL; set it (VAULT_ADDR, or secrets.sources.vault.addr) like "
    "https://vault.example.com:8200"
)
_NOT_A_HOST = (
    "the Vault address does not name a valid host; set it (VAULT_ADDR, or "
    "secrets.sources.vault.addr) like https://vault.example.com:8200"
)
_CANNOT_CONNECT = (
    "cannot connect to Vault; check its address (VAULT_ADDR, or secrets.sources.vault.addr) "
    "and that the server is up"
)
_TIMEOUT = "Vault did not answer in time"
_LOGIN_FAILED = "Vault {method} login failed; check the role and its credentials"


def sdk_errors() -> tuple[type[Exception], ...]:
    """Return the errors a Vault call raises: hvac's, requests', and our session hook's."""
    hvac_exceptions = require("hvac.exceptions", "vault")
    requests_exceptions = require("requests.exceptions", "vault")
    urllib3_exceptions = require("urllib3.exceptions", "vault")
    return (
        hvac_exceptions.VaultError,
        requests_exceptions.RequestException,
        # An address whose host no resolver accepts (a label over 63 characters): urllib3
        # raises it before requests wraps anything.
        urllib3_exceptions.LocationValueError,
        VaultRateLimited,
    )


def login_catches() -> tuple[type[Exception], ...]:
    """Return the errors a login raises: a Vault call's, and a credential file's problem."""
    return (*sdk_errors(), ConfigurationError)


@functools.cache
def errors() -> ErrorTable:
    """Return the table of any Vault call.

    A TLS failure and an address that is no URL are configuration problems, not outages to
    fall through; requests' ``SSLError`` and ``ConnectTimeout`` are also ``ConnectionError``
    subclasses, hence their own rows.
    """
    hvac = require("hvac.exceptions", "vault")
    requests = require("requests.exceptions", "vault")
    urllib3 = require("urllib3.exceptions", "vault")
    return ErrorTable(
        "vault",
        [
            # From our session hook, which read the 429's Retry-After (hvac's error has none).
            Rule(
                VaultRateLimited,
                SourceThrottledError,
                str,
                retry_after=lambda exc: exc.retry_after,
            ),
            # Our hook's message names the status and the Location's host, never a credential.
            Rule(requests.TooManyRedirects, InvalidSourceError, _redirect_refused),
            Rule(requests.MissingSchema, InvalidSourceError, _NOT_A_URL),
            Rule(requests.InvalidSchema, InvalidSourceError, _NOT_A_URL),
            Rule(requests.InvalidURL, InvalidSourceError, _NOT_A_URL),
            Rule(urllib3.LocationValueError, InvalidSourceError, _NOT_A_HOST),
            Rule(requests.SSLError, InvalidSourceError, _tls_failed),
            Rule(
                hvac.Forbidden,
                SourceForbiddenError,
                "Vault denied access (403): the token lacks a policy granting read on this path, "
                "or it expired or was revoked",
            ),
            Rule(
                hvac.Unauthorized,
                SourceUnauthenticatedError,
                "Vault rejected the token (401); log in again",
            ),
            Rule(
                hvac.RateLimitExceeded, SourceThrottledError, "Vault's rate limit was reached (429)"
            ),
            Rule(
                hvac.VaultDown,
                SourceUnavailableError,
                "Vault is sealed or in maintenance (503); unseal it",
            ),
            Rule(
                hvac.InvalidRequest,
                InvalidSourceError,
                "Vault called the request invalid (400); check the mount and the KV version",
            ),
            Rule(requests.Timeout, SourceTimeoutError, _TIMEOUT),
            Rule(requests.ConnectTimeout, SourceTimeoutError, _TIMEOUT),
            Rule(requests.ConnectionError, SourceUnavailableError, _CANNOT_CONNECT),
        ],
        default="Vault failed ({type}); see the server's logs",
    )


@functools.cache
def read_errors() -> ErrorTable:
    """Return the table of a KV read: a 404 is ``not_found`` unless the mount is wrong."""
    hvac = require("hvac.exceptions", "vault")
    return errors().extended(
        Rule(
            hvac.InvalidPath,
            InvalidSourceError,
            "Vault has no secrets engine at this mount; check mount_point and path",
            when=lambda exc: "no handler for route" in _notes(exc),
        ),
        Rule(
            hvac.InvalidPath,
            InvalidSourceError,
            "the mount is a versioned (v2) KV engine; set kv_version=2",
            when=lambda exc: "versioned" in _notes(exc).lower(),
        ),
        Rule(hvac.InvalidPath, SecretNotFoundError, "Vault has no secret at this path"),
    )


@functools.cache
def login_errors() -> ErrorTable:
    """Return the table of a login; its messages take the ``method`` field."""
    hvac = require("hvac.exceptions", "vault")
    return errors().extended(
        Rule(
            hvac.Forbidden,
            SourceForbiddenError,
            "Vault refused the {method} token or login (403); check that it is valid and not "
            "revoked",
        ),
        Rule(hvac.InvalidRequest, SourceUnauthenticatedError, _LOGIN_FAILED),
        Rule(hvac.Unauthorized, SourceUnauthenticatedError, _LOGIN_FAILED),
        # A credential file missing, empty or insecure: our own message, naming the file.
        Rule(ConfigurationError, InvalidSourceError, str),
    )


def translate_error(exc: Exception, locator: str) -> SourceError:
    """Map an hvac or requests error to the ``SourceError`` of its category."""
    return errors().translate(exc, locator)


def _tls_failed(exc: Any) -> str:  # noqa: ANN401 - requests' SSLError
    """Say which TLS failure it was, from the SSL library's reason (never its text)."""
    reason = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in reason:
        return (
            "TLS verification failed: the server's certificate is not trusted; set VAULT_CACERT "
            "(or secrets.sources.vault.verify) to the CA bundle that signed it"
        )
    if "WRONG_VERSION_NUMBER" in reason or "record layer failure" in reason:
        return "the server at this address does not speak TLS: use http:// or the TLS port"
    return (
        "the TLS handshake with Vault did not finish (the server closed the connection); "
        "check the address and the server's TLS settings"
    )


def _redirect_refused(exc: Any) -> str:  # noqa: ANN401 - requests' TooManyRedirects
    return (
        f"{exc}; credentials are never sent on after a redirect (they could reach another "
        "host, or travel over plain http): set VAULT_ADDR to the address that answers itself "
        "(the active node, or the load balancer)"
    )


def _notes(exc: Any) -> str:  # noqa: ANN401 - hvac's InvalidPath
    """Return the errors and warnings of Vault's 404 body, joined."""
    body = getattr(exc, "json", None) or {}
    notes = [*(getattr(exc, "errors", None) or []), *(body.get("warnings") or [])]
    return " ".join(str(item) for item in notes)
