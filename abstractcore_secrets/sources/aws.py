"""Keys from AWS Secrets Manager, through boto3."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Any

from .._resolution import SecretRecord
from .._secret import Secret
from ..errors import (
    ConfigurationError,
    InvalidSourceError,
    SecretNotFoundError,
    SourceError,
)
from ._aws_errors import read_catches, read_errors, translate_error
from ._imports import require
from ._values import json_object, json_type
from .base import SecretProvider, host_and_port
from .spec import shown, source_spec

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = ["DEFAULT_TEMPLATE", "SPEC", "AWSSecretsProvider", "translate_error"]

DEFAULT_TEMPLATE = "abstractcore/{provider}"


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
            client = None
            with contextlib.suppress(ValueError):  # raised below, without the SDK's text
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
            if client is None:
                # botocore refuses an endpoint it cannot parse, or a region name that no
                # host could carry, with a ValueError quoting it: said here in our terms.
                raise ConfigurationError(
                    f"AWS Secrets Manager refuses endpoint_url={shown(endpoint_url)} "
                    f"or region={shown(region)}: give a URL such as "
                    "https://secretsmanager.eu-west-1.amazonaws.com and a region name such as "
                    "eu-west-1 (secrets.sources.aws, or --aws-endpoint-url and --aws-region)"
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
        error: SourceError | None = None
        try:
            response = self.client.get_secret_value(**request)
        except read_catches() as exc:
            error = read_errors().translate(exc, locator)
        if isinstance(error, SecretNotFoundError):
            return None
        if error is not None:
            # Raised here, outside the except block, and not ``from exc`` (the one place we
            # part from translating with a cause): botocore's exceptions hold the signed
            # request, X-Amz-Security-Token included, in their attributes (``request=``) and
            # their frames' locals, and a cause or a __context__ is pickled by no one but
            # read by every error reporter. The message names botocore's error type and
            # AWS's error code instead: what a cause would have told, without the request.
            # A malformed answer's parser error and frames hold the answer: only its type
            # is named, never its message.
            raise error
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


def _field_names(document: dict[str, Any]) -> str:
    """Name the document's fields for a message, leaving out any shaped like a key.

    A key stored by mistake as a field's name would otherwise be printed in the error.
    """
    from ..llm_providers import looks_like_key

    shown = sorted(name for name in document if len(name) <= 32 and not looks_like_key(name))
    hidden = len(document) - len(shown)
    return repr(shown) + (f" and {hidden} not shown: shaped like keys" if hidden else "")


SPEC = source_spec(AWSSecretsProvider, managed=True, extra="aws", exclude=("client",))
"""The ``aws`` source: its options are the constructor's, but a ready client."""
