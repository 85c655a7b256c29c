"""What azure-core's exceptions mean, for the Azure source: by HTTP status, then by type.

Any azure-core error carrying an answer is judged by its status; one without (a timeout, a
connection refused, a credential that could get no token) by its type. :func:`read_errors`
adds that a 404 on a secret read is "not here". No error holds the exception: azure-core's
carry the request, its bearer token included, and the answer.
"""

from __future__ import annotations

import functools
from typing import Any

from ..errors import (
    InvalidSourceError,
    SecretNotFoundError,
    SourceError,
    SourceForbiddenError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
)
from ._http import location_host, parse_retry_after
from ._imports import require
from ._translate import ErrorTable, Rule

_UNAUTHENTICATED = (
    "Azure rejected or could not get credentials; configure DefaultAzureCredential "
    "(managed identity, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, az login) "
    "or pass credential="
)


@functools.cache
def errors() -> ErrorTable:
    """Return the table of any Key Vault call."""
    exceptions = require("azure.core.exceptions", "azure")
    azure_error = exceptions.AzureError
    return ErrorTable(
        "azure",
        [
            # Raised by the credential itself, with no answer: no token could be had.
            Rule(
                exceptions.ClientAuthenticationError,
                SourceUnauthenticatedError,
                _UNAUTHENTICATED,
                when=lambda exc: _status(exc) is None,
            ),
            Rule(
                azure_error,
                SourceUnauthenticatedError,
                _UNAUTHENTICATED,
                when=lambda exc: _status(exc) == 401,
            ),
            Rule(
                azure_error,
                SourceForbiddenError,
                "Key Vault denied access (403); grant the identity the 'Key Vault Secrets User' "
                "role (or a 'get' secret access policy)",
                when=lambda exc: _status(exc) == 403,
            ),
            Rule(
                azure_error,
                SourceThrottledError,
                "Key Vault throttled the request (429)",
                when=lambda exc: _status(exc) == 429,
                retry_after=_retry_after,
            ),
            Rule(
                azure_error,
                InvalidSourceError,
                lambda exc: redirect_problem(exc.response),
                when=lambda exc: _status(exc) is not None and 300 <= _status(exc) < 400,
            ),
            Rule(
                azure_error,
                SourceUnavailableError,
                lambda exc: f"Key Vault failed ({_status(exc)}); try again",
                when=lambda exc: _status(exc) is not None and _status(exc) >= 500,
            ),
            *(
                Rule(timeout, SourceTimeoutError, "Key Vault did not answer in time")
                for timeout in _timeouts(exceptions)
            ),
            *(
                Rule(
                    unreachable,
                    SourceUnavailableError,
                    "cannot reach Key Vault ({type}); check vault_url and the network",
                )
                for unreachable in (exceptions.ServiceRequestError, exceptions.ServiceResponseError)
            ),
            Rule(
                azure_error,
                InvalidSourceError,
                lambda exc: (
                    f"Key Vault refused the request ({_status(exc) or type(exc).__name__}); "
                    "check the secret name and vault_url"
                ),
            ),
        ],
        default="Key Vault failed ({type}); try again",
    )


@functools.cache
def read_errors() -> ErrorTable:
    """Return the table of a secret read: 404 is ``not_found``."""
    exceptions = require("azure.core.exceptions", "azure")
    return errors().extended(
        Rule(exceptions.ResourceNotFoundError, SecretNotFoundError, "no such secret")
    )


def translate_error(exc: Exception, locator: str, request_id: str | None) -> SourceError:
    """Map an azure-core error to the ``SourceError`` of its category."""
    return errors().translate(exc, locator, request_id=request_id)


def redirect_problem(response: Any) -> str:  # noqa: ANN401 - azure-core's HttpResponse
    """Say that a 3xx answer was not followed, naming its status and its target's host."""
    target = location_host(response.request.url, response.headers.get("Location"))
    return (
        f"Key Vault answered {response.status_code} redirecting to {target}, which was not "
        "followed: another host's answer is never served as this vault's key; set vault_url "
        "to the vault's own address"
    )


def _refused(exc: Any) -> str:  # noqa: ANN401 - azure-core's AzureError
    return (
        f"Key Vault refused the request ({_status(exc) or type(exc).__name__}); check the "
        "secret name and vault_url"
    )


def _timeouts(exceptions: Any) -> tuple[type[Exception], ...]:  # noqa: ANN401 - a module
    """Return azure-core's timeout errors (older versions have none)."""
    return tuple(
        getattr(exceptions, name)
        for name in ("ServiceRequestTimeoutError", "ServiceResponseTimeoutError")
        if hasattr(exceptions, name)
    )


def _status(exc: Any) -> Any:  # noqa: ANN401 - any exception; its answer's status, if any
    return getattr(getattr(exc, "response", None), "status_code", None)


def _retry_after(exc: Any) -> float | None:  # noqa: ANN401 - azure-core's HttpResponseError
    response = getattr(exc, "response", None)
    raw = None if response is None else response.headers.get("Retry-After")
    return parse_retry_after(raw) if isinstance(raw, str) else None
