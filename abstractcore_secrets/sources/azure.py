"""Keys from Azure Key Vault, through azure-keyvault-secrets and azure-identity."""

from __future__ import annotations

import json
import re
from typing import Any

from .._resolution import SecretRecord
from .._secret import Secret
from ..errors import (
    ConfigurationError,
    InvalidSourceError,
    SecretNotFoundError,
    SourceError,
)
from ._azure_errors import read_errors, redirect_problem, translate_error
from ._http import parse_retry_after
from ._imports import require
from ._values import json_type
from .base import SecretProvider, host_and_port
from .spec import SourceContext, source_spec

__all__ = ["AzureKeyVaultProvider", "parse_retry_after", "translate_error"]

_VALID_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")


class AzureKeyVaultProvider(SecretProvider):
    """Get keys from Azure Key Vault: one secret per provider.

    The secret's name is ``name_template`` with the provider filled in, underscores and dots
    turned into hyphens (Key Vault names allow letters, digits and hyphens): ``openai``,
    or ``openai-api-key`` with ``name_template="{provider}-api-key"``.

    Args:
        vault_url: The vault, e.g. ``https://myvault.vault.azure.net``.
        credential: Any azure-core ``TokenCredential``; default ``DefaultAzureCredential()``.
        name_template: Secret name with ``{provider}`` in it.
        version: A fixed secret version to read; default the latest.
        connect_timeout: Seconds to connect.
        read_timeout: Seconds to wait for the answer.
        client_options: More keyword arguments for ``SecretClient`` (``connection_verify``,
            ``verify_challenge_resource``, ...). Redirects are never followed: an answer
            from another host would be served as this vault's key.

    Raises:
        MissingDependencyError: the Azure SDK is not installed.
        ConfigurationError: The template has no ``{provider}``, or ``client_options`` would
            follow redirects (``permit_redirects``, a ``RedirectPolicy`` that allows them).
    """

    name = "azure"

    def __init__(
        self,
        vault_url: str,
        *,
        credential: Any = None,  # noqa: ANN401 - azure-core's TokenCredential protocol
        name_template: str = "{provider}",
        version: str | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        if "{provider}" not in name_template:
            raise ConfigurationError(
                f"name_template {name_template!r} must contain '{{provider}}', "
                "e.g. '{provider}-api-key'"
            )
        self.name_template = name_template
        self.secret_name("openai")  # a template that makes invalid names fails here, not later
        secrets_module = require("azure.keyvault.secrets", "azure")
        if credential is None:
            credential = require("azure.identity", "azure").DefaultAzureCredential()
        self.vault_url = vault_url.rstrip("/")
        self.version = version
        options: dict[str, Any] = {
            # One call per try: retries (and Retry-After) are ours, visible in the attempts.
            "retry_total": 0,
            "connection_timeout": connect_timeout,
            "read_timeout": read_timeout,
            **_refuse_redirect_options(client_options or {}),
            # azure-core's RedirectPolicy reads this: a 3xx comes back to us as an error.
            "permit_redirects": False,
        }
        self.client = secrets_module.SecretClient(self.vault_url, credential, **options)

    def secret_name(self, key: str) -> str:
        """Return the Key Vault secret name read for provider ``key``.

        Raises:
            ConfigurationError: The name is not a valid Key Vault secret name.
        """
        name = self.name_template.format(provider=key).replace("_", "-").replace(".", "-")
        if not _VALID_NAME.match(name):
            raise ConfigurationError(
                f"{name!r} is not a Key Vault secret name (1-127 letters, digits, hyphens); "
                "change name_template"
            )
        return name

    def locator(self, key: str) -> str:
        """Return the secret's URL (and version, when pinned)."""
        version = f"/{self.version}" if self.version else ""
        return f"azure:{self.vault_url}/secrets/{self.secret_name(key)}{version}"

    def fetch(self, key: str) -> SecretRecord | None:
        """Read the secret; return the key with its version and the ``x-ms-request-id``.

        Raises:
            InvalidSourceError: Key Vault answered with a redirect, or with a secret whose
                ``value`` is not a JSON string (the SDK would turn ``12345`` into ``"12345"``).
        """
        exceptions = require("azure.core.exceptions", "azure")
        locator = self.locator(key)
        answers = _Answers()
        error: SourceError | None = None
        try:
            secret = self.client.get_secret(
                self.secret_name(key), self.version, raw_response_hook=answers
            )
        except exceptions.AzureError as exc:
            if answers.refused is None:
                error = read_errors().translate(exc, locator, request_id=answers.request_id)
        except (AttributeError, TypeError, ValueError):
            # The SDK's models meet a body of the wrong shape (a JSON array): the hook has
            # said why; anything else is not ours to hide.
            if answers.refused is None:
                raise
        if isinstance(error, SecretNotFoundError):
            return None
        if error is not None:
            # Raised here, outside the except blocks, and not ``from exc``: azure-core's
            # errors hold the request (its bearer token in the Authorization header) and the
            # answer. The message names the status and the error code instead.
            raise error
        if answers.refused is not None:
            # Raised here, outside the except blocks: the SDK's error holds the request,
            # bearer token included, and the answer.
            raise InvalidSourceError(
                f"{locator}: {answers.refused}",
                source=self.name,
                locator=locator,
                request_id=answers.request_id,
            )
        if not secret.value:
            return None
        return SecretRecord(
            Secret(secret.value),
            locator=locator,
            version=secret.properties.version,
            request_id=answers.request_id,
        )

    def endpoint(self) -> tuple[str, int] | None:
        """Return the vault's host and port."""
        return host_and_port(self.vault_url)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


def _refuse_redirect_options(options: dict[str, Any]) -> dict[str, Any]:
    """Return ``options``, or raise if any of them would make the client follow a redirect."""
    policies = require("azure.core.pipeline.policies", "azure")
    if options.get("permit_redirects", False) is not False:
        raise ConfigurationError(
            "client_options permit_redirects must be False or left out: a redirect would "
            "serve another host's answer as this vault's key"
        )
    given = [options.get("redirect_policy")]
    for name in ("policies", "per_call_policies", "per_retry_policies"):
        given += list(options.get(name) or [])
    for policy in given:
        if isinstance(policy, policies.RedirectPolicy) and policy.allow:
            raise ConfigurationError(
                "client_options holds a RedirectPolicy that follows redirects; pass "
                "RedirectPolicy.no_redirects() or leave it out: a redirect would serve "
                "another host's answer as this vault's key"
            )
    return options


class _Answers:
    """A ``raw_response_hook``: keep the request id, and say why an answer is refused.

    It runs for every answer the pipeline receives, redirects included, before the SDK's
    models read the body: there the JSON types are still those Key Vault sent. It never
    raises (the pipeline would wrap it); :meth:`AzureKeyVaultProvider.fetch` reads
    :attr:`refused` afterwards. Messages name a status, a host or a JSON type, never a value.
    """

    def __init__(self) -> None:
        self.request_id: str | None = None
        self.refused: str | None = None

    def __call__(self, response: Any) -> None:  # noqa: ANN401 - azure-core's PipelineResponse
        http_response = response.http_response
        self.request_id = http_response.headers.get("x-ms-request-id") or self.request_id
        status = http_response.status_code
        if 300 <= status < 400:
            self.refused = self.refused or redirect_problem(http_response)
        elif status == 200 and self.refused is None:
            self.refused = _secret_bundle_problem(http_response.body())


def _secret_bundle_problem(body: bytes) -> str | None:
    """Return why a 200 answer to a secret read is not a secret bundle, or ``None``."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON at all: the SDK refuses it, and the error says so
    if not isinstance(document, dict):
        return (
            f"Key Vault answered with a JSON {json_type(document)}, not an object; check that "
            "vault_url points at Key Vault"
        )
    if "value" not in document:
        return "Key Vault answered with no 'value'; check that vault_url points at Key Vault"
    value = document["value"]
    if not isinstance(value, str):
        # The type's name only: the value may be anything, keys included.
        return (
            f"Key Vault answered with 'value' as a JSON {json_type(value)}, not a string; "
            "check that vault_url points at Key Vault"
        )
    return None


def _build(options: dict[str, Any], context: SourceContext) -> SecretProvider:
    """Build the source, its credentials from ``DefaultAzureCredential``."""
    vault_url = options.pop("vault_url", None)
    if not vault_url:
        raise ConfigurationError(
            f"{context.where}.vault_url is required, e.g. 'https://myvault.vault.azure.net'"
        )
    return AzureKeyVaultProvider(vault_url, **options)


SPEC = source_spec(
    AzureKeyVaultProvider,
    build=_build,
    managed=True,
    extra="azure",
    exclude=("credential", "client_options"),
)
"""The ``azure`` source: its options are the constructor's, but SDK objects."""
