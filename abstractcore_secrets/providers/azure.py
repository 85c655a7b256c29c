"""Keys from Azure Key Vault, through azure-keyvault-secrets and azure-identity."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any

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
from ._imports import require
from .base import SecretProvider, host_and_port
from .values import checked_value

_VALID_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")

_DELTA_SECONDS = re.compile(r"[0-9]+")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (" + "|".join(_MONTHS) + r") ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)


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
            ``verify_challenge_resource``, ...).

    Raises:
        MissingDependencyError: the Azure SDK is not installed.
        ConfigurationError: The template has no ``{provider}``.
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
        self.client = secrets_module.SecretClient(
            self.vault_url,
            credential,
            # One call per try: retries (and Retry-After) are ours, visible in the attempts.
            retry_total=0,
            connection_timeout=connect_timeout,
            read_timeout=read_timeout,
            **(client_options or {}),
        )

    def get_secret(self, key: str) -> str | None:
        """Return the key for provider ``key``, or ``None`` when no such secret exists."""
        record = self.fetch(key)
        return None if record is None else record.secret.reveal()

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
        """Read the secret; return the key with its version and the ``x-ms-request-id``."""
        exceptions = require("azure.core.exceptions", "azure")
        locator = self.locator(key)
        request_ids: list[str] = []

        def remember_request_id(response: Any) -> None:  # noqa: ANN401 - azure-core's PipelineResponse
            request_id = response.http_response.headers.get("x-ms-request-id")
            if request_id:
                request_ids.append(request_id)

        try:
            secret = self.client.get_secret(
                self.secret_name(key), self.version, raw_response_hook=remember_request_id
            )
        except exceptions.ResourceNotFoundError:
            return None
        except exceptions.AzureError as exc:
            raise translate_error(exc, locator, request_ids[-1] if request_ids else None) from exc
        if not secret.value:
            return None
        return SecretRecord(
            Secret(checked_value(secret.value, source=self.name, locator=locator)),
            locator=locator,
            version=secret.properties.version,
            request_id=request_ids[-1] if request_ids else None,
        )

    def endpoint(self) -> tuple[str, int] | None:
        """Return the vault's host and port."""
        return host_and_port(self.vault_url)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()


_BY_STATUS: dict[int, tuple[type[SourceError], str]] = {
    401: (
        SourceUnauthenticatedError,
        "Azure rejected or could not get credentials; configure DefaultAzureCredential "
        "(managed identity, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, az login) "
        "or pass credential=",
    ),
    403: (
        SourceForbiddenError,
        "Key Vault denied access (403); grant the identity the 'Key Vault Secrets User' "
        "role (or a 'get' secret access policy)",
    ),
    429: (SourceThrottledError, "Key Vault throttled the request (429)"),
}


def translate_error(exc: Exception, locator: str, request_id: str | None) -> SourceError:
    """Map an azure-core error to the ``SourceError`` of its category."""
    error_type, problem = _classify(exc)
    response = getattr(exc, "response", None)
    return error_type(
        f"{locator}: {problem}",
        source="azure",
        locator=locator,
        request_id=request_id,
        retry_after=_retry_after(response) if error_type is SourceThrottledError else None,
    )


def _classify(exc: Exception) -> tuple[type[SourceError], str]:
    exceptions = require("azure.core.exceptions", "azure")
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is None and isinstance(exc, exceptions.ClientAuthenticationError):
        status = 401  # raised by the credential itself: no token could be had
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status is not None and status >= 500:
        return SourceUnavailableError, f"Key Vault failed ({status}); try again"
    timeouts = tuple(
        getattr(exceptions, name)
        for name in ("ServiceRequestTimeoutError", "ServiceResponseTimeoutError")
        if hasattr(exceptions, name)
    )
    if isinstance(exc, timeouts):
        return SourceTimeoutError, "Key Vault did not answer in time"
    if isinstance(exc, (exceptions.ServiceRequestError, exceptions.ServiceResponseError)):
        return (
            SourceUnavailableError,
            f"cannot reach Key Vault ({type(exc).__name__}); check vault_url and the network",
        )
    return (
        InvalidSourceError,
        f"Key Vault refused the request ({status or type(exc).__name__}); check the secret "
        "name and vault_url",
    )


def _retry_after(response: Any) -> float | None:  # noqa: ANN401 - azure-core's HttpResponse
    raw = None if response is None else response.headers.get("Retry-After")
    return parse_retry_after(raw) if isinstance(raw, str) else None


def parse_retry_after(value: str, *, now: float | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait, or ``None`` for garbage.

    Only RFC 9110's own forms count: delta-seconds (ASCII digits) and an IMF-fixdate, whose
    wait is the time left until it (0 for a date past). A negative or fractional number,
    ``nan``, an empty value, an obsolete date form, or two headers (joined with a comma) are
    garbage: the caller falls back to its own backoff. A huge number may come back as
    ``inf``; how long a wait is honoured is the caller's decision.

    Args:
        value: The header's value.
        now: The current time (seconds since the epoch), for tests; default the clock's.

    Returns:
        Seconds, 0 or more (``inf`` included), or ``None`` when the value is not valid.
    """
    value = value.strip(" \t")
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    date = _IMF_FIXDATE.fullmatch(value)
    if date is None:
        return None
    day, month, year, hour, minute, second = date.groups()
    try:
        when = datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone.utc,
        )
    except ValueError:  # 31 Feb, hour 25, year 0
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
