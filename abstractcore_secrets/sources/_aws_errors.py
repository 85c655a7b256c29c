"""What botocore's exceptions mean, for the AWS source: by AWS's error code, then HTTP status.

:func:`errors` holds any Secrets Manager call's; :func:`read_errors` adds what a
GetSecretValue answer means (a missing secret is not here, a garbled answer is invalid).
No error holds the exception: botocore's carry the signed request, session token included.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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
from ._http import parse_retry_after
from ._imports import require
from ._translate import ErrorTable, Rule

# Error codes of GetSecretValue, and of the AWS auth layer, by category.
_NOT_FOUND = {"ResourceNotFoundException"}
_FORBIDDEN = {
    "AccessDeniedException",
    "AccessDenied",
    "DecryptionFailure",
    "KMSAccessDeniedException",
}
_UNAUTHENTICATED = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}
_THROTTLED = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}
_UNAVAILABLE = {
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeoutException",
    "RequestTimeout",
}


_CODES: tuple[tuple[set[str], type[SourceError], str], ...] = (
    (
        _FORBIDDEN,
        SourceForbiddenError,
        "the identity lacks secretsmanager:GetSecretValue on this secret (or kms:Decrypt on its "
        "key); grant it in IAM",
    ),
    (
        _UNAUTHENTICATED,
        SourceUnauthenticatedError,
        "AWS rejected the credentials; refresh them (aws sso login, new keys, role)",
    ),
    (
        _THROTTLED,
        SourceThrottledError,
        "AWS throttled GetSecretValue; cache longer or ask for a higher quota",
    ),
    (_UNAVAILABLE, SourceUnavailableError, "AWS had an internal error; try again"),
)
_TOO_SLOW = "AWS did not answer in time ({type})"
_MALFORMED = (
    "AWS answered with a malformed GetSecretValue body ({type}); check that endpoint_url "
    "points at Secrets Manager"
)
_UNREACHABLE = (
    "cannot reach AWS Secrets Manager ({type}); check the network, the region and endpoint_url"
)


def translate_error(exc: Exception, locator: str) -> SourceError:
    """Map a botocore error to the ``SourceError`` of its category.

    The error returned holds nothing of ``exc`` but its type's name, AWS's error code and
    request id: raise it with no cause (botocore's errors hold the signed request).
    """
    return errors().translate(exc, locator)


@functools.cache
def errors() -> ErrorTable:
    """Return the table of botocore's errors: AWS's error code first, then the HTTP status."""
    botocore = require("botocore.exceptions", "aws")
    client_error = botocore.ClientError
    by_code = [
        Rule(
            client_error,
            our_error,
            _coded(problem),
            when=_code_in(codes),
            retry_after=_retry_after if our_error is SourceThrottledError else None,
            request_id=_request_id,
        )
        for codes, our_error, problem in _CODES
    ]
    return ErrorTable(
        "aws",
        [
            *by_code,
            # A gateway or load balancer answering for AWS, body not AWS's.
            Rule(
                client_error,
                SourceUnavailableError,
                lambda exc: f"HTTP {_status(exc)} from AWS; try again",
                when=lambda exc: _status(exc) >= 500,
                request_id=_request_id,
            ),
            Rule(
                client_error,
                SourceThrottledError,
                "HTTP 429 from AWS",
                when=lambda exc: _status(exc) == 429,
                retry_after=_retry_after,
                request_id=_request_id,
            ),
            Rule(
                client_error,
                InvalidSourceError,
                lambda exc: f"{_code(exc)}: check the secret id, its state and the region",
                request_id=_request_id,
            ),
            Rule(botocore.ConnectTimeoutError, SourceTimeoutError, _TOO_SLOW),
            Rule(botocore.ReadTimeoutError, SourceTimeoutError, _TOO_SLOW),
            Rule(
                botocore.NoCredentialsError,
                SourceUnauthenticatedError,
                "no AWS credentials found; configure a profile, a role or "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            ),
            Rule(
                botocore.NoRegionError,
                InvalidSourceError,
                "no AWS region; pass region= or set AWS_REGION",
            ),
            # Its own row: some of botocore's errors are also ValueErrors (see the read's).
            Rule(botocore.BotoCoreError, SourceUnavailableError, _UNREACHABLE),
        ],
        default=_UNREACHABLE,
    )


@functools.cache
def read_errors() -> ErrorTable:
    """Return the table of GetSecretValue: a missing secret is not here, a garbled 200 invalid.

    botocore raises ValueError, TypeError or AttributeError when it cannot parse a 200
    answer into GetSecretValue's shape: a SecretBinary that is not base64, a body that is
    not a JSON object.
    """
    botocore = require("botocore.exceptions", "aws")
    parsers = require("botocore.parsers", "aws")
    return errors().extended(
        Rule(
            botocore.ClientError,
            SecretNotFoundError,
            "no such secret",
            when=lambda exc: exc.response.get("Error", {}).get("Code") in _NOT_FOUND,
        ),
        *(
            Rule(malformed, InvalidSourceError, _MALFORMED)
            for malformed in (ValueError, TypeError, AttributeError, parsers.ResponseParserError)
        ),
    )


def read_catches() -> tuple[type[Exception], ...]:
    """Return what GetSecretValue's call is caught for: botocore's errors and a parser's."""
    botocore = require("botocore.exceptions", "aws")
    parsers = require("botocore.parsers", "aws")
    return (
        botocore.ClientError,
        botocore.BotoCoreError,
        ValueError,
        TypeError,
        AttributeError,
        parsers.ResponseParserError,
    )


def _code(exc: Any) -> str:  # noqa: ANN401 - botocore's ClientError
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _code_in(codes: set[str]) -> Callable[[Any], bool]:
    return lambda exc: _code(exc) in codes


def _coded(problem: str) -> Callable[[Any], str]:
    """Return a message maker naming AWS's error code, then ``problem``."""
    return lambda exc: f"{_code(exc)}: {problem}"


def _metadata(exc: Any) -> dict[str, Any]:  # noqa: ANN401 - botocore's ClientError
    return exc.response.get("ResponseMetadata", {})  # type: ignore[no-any-return]


def _request_id(exc: Any) -> str | None:  # noqa: ANN401 - botocore's ClientError
    return _metadata(exc).get("RequestId")


def _status(exc: Any) -> int:  # noqa: ANN401 - botocore's ClientError
    return _metadata(exc).get("HTTPStatusCode") or 0


def _retry_after(exc: Any) -> float | None:  # noqa: ANN401 - botocore's ClientError
    """Return the wait a throttling answer's ``Retry-After`` asks for, or ``None``.

    botocore keeps the answer's headers, lowercased, in the response metadata; only that one
    header is read, and only its parsed number is kept.
    """
    raw = (_metadata(exc).get("HTTPHeaders") or {}).get("retry-after")
    return parse_retry_after(raw) if isinstance(raw, str) else None
