"""Keys from AWS Secrets Manager, through boto3."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..errors import (
    ConfigurationError,
    InvalidSourceError,
    SourceError,
    SourceForbiddenError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
)
from ..resolution import SecretRecord
from ..secret import Secret
from ._http import parse_retry_after
from ._imports import require
from .base import SecretProvider, host_and_port
from .spec import source_spec
from .values import json_object, json_type

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

DEFAULT_TEMPLATE = "abstractcore/{provider}"

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


class AWSSecretsProvider(SecretProvider):
    """Get keys from AWS Secrets Manager: one secret per provider.

    The secret id is ``abstractcore/{provider}`` (the proposal's) or ``secret_id_template``.
    A plain-string secret is the key; a JSON object secret holds it in the field named
    ``field`` (default: the provider's name).

    Args:
        region: AWS region; default the SDK's (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the
            profile), else us-east-1 (the proposal's).
        secret_id_template: Secret name or ARN with ``{provider}`` in it.
        field: JSON field holding the key, for JSON secrets.
        version_stage: Version stage to read (default ``AWSCURRENT``).
        version_id: A fixed version id to read.
        endpoint_url: A custom endpoint (VPC endpoint, a local test server).
        connect_timeout: Seconds to connect.
        read_timeout: Seconds to wait for the answer.
        client: A ready boto3 ``secretsmanager`` client; the settings above are then unused
            but for the secret's naming.

    Raises:
        MissingDependencyError: boto3 is not installed.
        ConfigurationError: The template has no ``{provider}``.
    """

    name = "aws"

    def __init__(
        self,
        region: str | None = None,
        *,
        secret_id_template: str = DEFAULT_TEMPLATE,
        field: str | None = None,
        version_stage: str | None = None,
        version_id: str | None = None,
        endpoint_url: str | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        client: SecretsManagerClient | None = None,
    ) -> None:
        if "{provider}" not in secret_id_template:
            raise ConfigurationError(
                f"secret_id_template {secret_id_template!r} must contain '{{provider}}', "
                "e.g. 'abstractcore/{provider}'"
            )
        self.secret_id_template = secret_id_template
        self.field = field
        self.version_stage = version_stage
        self.version_id = version_id
        if client is None:
            boto3 = require("boto3", "aws")
            botocore_config = require("botocore.config", "aws")
            config = botocore_config.Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                # One call per try: retries are ours, visible in the attempts. (botocore's
                # max_attempts counts retries after the first call; total_max_attempts all.)
                retries={"total_max_attempts": 1, "mode": "standard"},
            )
            session = boto3.session.Session()
            client = session.client(
                "secretsmanager",
                # botocore reads AWS_DEFAULT_REGION; AWS_REGION is what the other SDKs read.
                region_name=region
                or os.environ.get("AWS_REGION")
                or session.region_name
                or "us-east-1",
                endpoint_url=endpoint_url,
                config=config,
            )
        self.client = client

    def secret_id(self, key: str) -> str:
        """Return the secret id read for provider ``key``."""
        return self.secret_id_template.format(provider=key)

    def locator(self, key: str) -> str:
        """Return the secret id, and the JSON field when one is configured."""
        suffix = f"#{self.field}" if self.field else ""
        return f"aws:{self.secret_id(key)}{suffix}"

    def fetch(self, key: str) -> SecretRecord | None:
        """Read the secret; return the key with its VersionId and the AWS request id."""
        locator = self.locator(key)
        request: dict[str, Any] = {"SecretId": self.secret_id(key)}
        if self.version_id:
            request["VersionId"] = self.version_id
        if self.version_stage:
            request["VersionStage"] = self.version_stage
        botocore_exceptions = require("botocore.exceptions", "aws")
        botocore_parsers = require("botocore.parsers", "aws")
        error: SourceError | None = None
        malformed: str | None = None
        try:
            response = self.client.get_secret_value(**request)
        except botocore_exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return None
            error = translate_error(exc, locator)
        except botocore_exceptions.BotoCoreError as exc:
            error = translate_error(exc, locator)
        except (ValueError, TypeError, AttributeError, botocore_parsers.ResponseParserError) as exc:
            # botocore could not parse a 200 answer into GetSecretValue's shape: a
            # SecretBinary that is not base64, a body that is not a JSON object.
            malformed = type(exc).__name__
        if error is not None:
            # Raised here, outside the except blocks, and not ``from exc`` (the one place we
            # part from translating with a cause): botocore's exceptions hold the signed
            # request, X-Amz-Security-Token included, in their attributes (``request=``) and
            # their frames' locals, and a cause or a __context__ is pickled by no one but
            # read by every error reporter. The message names botocore's error type and
            # AWS's error code instead: what a cause would have told, without the request.
            raise error
        if malformed is not None:
            # Raised here, outside the except block: the parser's error and frames hold
            # the answer. Only the error's type is named, never its message.
            raise InvalidSourceError(
                f"{locator}: AWS answered with a malformed GetSecretValue body ({malformed}); "
                "check that endpoint_url points at Secrets Manager",
                source=self.name,
                locator=locator,
            )
        value = self._value_of(response, key, locator)
        if value is None:
            return None
        return SecretRecord(
            Secret(value),
            locator=locator,
            version=response.get("VersionId"),
            request_id=response.get("ResponseMetadata", {}).get("RequestId"),
        )

    def endpoint(self) -> tuple[str, int] | None:
        """Return the endpoint's host and port."""
        return host_and_port(self.client.meta.endpoint_url)

    def credentials(self) -> tuple[str, ...]:
        """Return the secret access key and session token the client signs with."""
        signer = getattr(self.client, "_request_signer", None)
        found = getattr(signer, "_credentials", None)
        if found is None:
            return ()
        frozen = found.get_frozen_credentials()
        return tuple(value for value in (frozen.secret_key, frozen.token) if value)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def _value_of(self, response: Any, key: str, locator: str) -> str | None:  # noqa: ANN401 - boto3's response dict
        text = self._text_of(response, locator)
        if not text:
            return None
        document = json_object(text, source=self.name, locator=locator)
        if document is None:
            if self.field:
                raise InvalidSourceError(
                    f"{locator}: field {self.field!r} is configured but the secret is not a "
                    "JSON object; store it as JSON or drop the field setting",
                    source=self.name,
                    locator=locator,
                )
            return text
        field = self.field or key
        value = document.get(field)
        if value is None:
            raise InvalidSourceError(
                f"{locator}: the JSON secret has no field {field!r} (fields: "
                f"{_field_names(document)}); add it or set field= to the one holding the key",
                source=self.name,
                locator=locator,
            )
        if not isinstance(value, str):
            raise InvalidSourceError(
                f"{locator}: field {field!r} is not a string", source=self.name, locator=locator
            )
        return value or None

    def _text_of(self, response: Any, locator: str) -> str:  # noqa: ANN401 - boto3's response dict
        """Return the secret's text; any other shape of answer is invalid, never an outage."""
        text = response.get("SecretString")
        binary = response.get("SecretBinary")
        where: dict[str, Any] = {"source": self.name, "locator": locator}
        if text is not None:
            if not isinstance(text, str):
                raise InvalidSourceError(
                    f"{locator}: AWS answered with a SecretString that is a JSON "
                    f"{json_type(text)}, not a string",
                    **where,
                )
            return text
        if binary is None:
            raise InvalidSourceError(
                f"{locator}: AWS answered with neither SecretString nor SecretBinary; check "
                "that endpoint_url points at Secrets Manager",
                **where,
            )
        if not isinstance(binary, (bytes, bytearray)):
            raise InvalidSourceError(
                f"{locator}: AWS answered with a SecretBinary that is not bytes", **where
            )
        try:
            return bytes(binary).decode("utf-8")
        except UnicodeDecodeError:
            pass  # raised below, outside the except block: the error holds the bytes
        raise InvalidSourceError(
            f"{locator} is binary and not UTF-8 text; store the key as a string", **where
        )


def translate_error(exc: Exception, locator: str) -> SourceError:
    """Map a botocore error to the ``SourceError`` of its category.

    The error returned holds nothing of ``exc`` but its type's name, AWS's error code and
    request id: raise it with no cause (botocore's errors hold the signed request).
    """
    botocore_exceptions = require("botocore.exceptions", "aws")
    where: dict[str, Any] = {"source": "aws", "locator": locator}
    if isinstance(exc, botocore_exceptions.ClientError):
        return _client_error(exc, locator)
    if isinstance(
        exc, (botocore_exceptions.ConnectTimeoutError, botocore_exceptions.ReadTimeoutError)
    ):
        return SourceTimeoutError(
            f"{locator}: AWS did not answer in time ({type(exc).__name__})", **where
        )
    if isinstance(exc, botocore_exceptions.NoCredentialsError):
        return SourceUnauthenticatedError(
            f"{locator}: no AWS credentials found; configure a profile, a role or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            **where,
        )
    if isinstance(exc, botocore_exceptions.NoRegionError):
        return InvalidSourceError(
            f"{locator}: no AWS region; pass region= or set AWS_REGION", **where
        )
    return SourceUnavailableError(
        f"{locator}: cannot reach AWS Secrets Manager ({type(exc).__name__}); check the "
        "network, the region and endpoint_url",
        **where,
    )


_BY_CODE: tuple[tuple[set[str], type[SourceError], str], ...] = (
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


def _client_error(exc: Any, locator: str) -> SourceError:  # noqa: ANN401 - botocore's ClientError
    code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
    metadata = exc.response.get("ResponseMetadata", {})
    where: dict[str, Any] = {
        "source": "aws",
        "locator": locator,
        "request_id": metadata.get("RequestId"),
    }
    for codes, our_error, problem in _BY_CODE:
        if code in codes:
            if our_error is SourceThrottledError:
                where["retry_after"] = _retry_after(metadata)
            return our_error(f"{locator}: {code}: {problem}", **where)
    status = metadata.get("HTTPStatusCode") or 0
    if status >= 500:  # a gateway or load balancer answering for AWS, body not AWS's
        return SourceUnavailableError(f"{locator}: HTTP {status} from AWS; try again", **where)
    if status == 429:
        where["retry_after"] = _retry_after(metadata)
        return SourceThrottledError(f"{locator}: HTTP 429 from AWS", **where)
    return InvalidSourceError(
        f"{locator}: {code}: check the secret id, its state and the region", **where
    )


def _retry_after(metadata: dict[str, Any]) -> float | None:
    """Return the wait a throttling answer's ``Retry-After`` asks for, or ``None``.

    botocore keeps the answer's headers, lowercased, in the response metadata; only that one
    header is read, and only its parsed number is kept.
    """
    raw = (metadata.get("HTTPHeaders") or {}).get("retry-after")
    return parse_retry_after(raw) if isinstance(raw, str) else None


def _field_names(document: dict[str, Any]) -> str:
    """Name the document's fields for a message, leaving out any shaped like a key.

    A key stored by mistake as a field's name would otherwise be printed in the error.
    """
    from ..provider_names import looks_like_key

    shown = sorted(name for name in document if len(name) <= 32 and not looks_like_key(name))
    hidden = len(document) - len(shown)
    return repr(shown) + (f" and {hidden} not shown: shaped like keys" if hidden else "")


SPEC = source_spec(AWSSecretsProvider, managed=True, extra="aws", exclude=("client",))
"""The ``aws`` source: its options are the constructor's, but a ready client."""
