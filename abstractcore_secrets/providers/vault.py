"""Keys from HashiCorp Vault or OpenBao, KV secrets engine, through hvac."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import envvars
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
from .base import SecretProvider

DEFAULT_PATH = "secret/data/abstractcore"


class VaultSecretProvider(SecretProvider):
    """Get keys from Vault or OpenBao: one KV secret, one field per provider.

    The proposal's ``path`` (``secret/data/abstractcore``) names the KV v2 API path; it is
    split into the mount (``secret``) and the secret's path (``abstractcore``) because hvac
    adds ``data/`` itself. A path without ``/data/`` is read as ``<mount>/<path>``.

    Args:
        vault_addr: Server URL; default ``$VAULT_ADDR``.
        vault_token: Token; default ``$VAULT_TOKEN``, then ``~/.vault-token``.
        path: KV path holding a field per provider.
        kv_version: 2 (default) or 1.
        timeout: Seconds to wait for the server on each request.
        verify: TLS verification: ``True``, ``False`` or a CA bundle path; default
            ``$VAULT_CACERT`` when set, else ``True``.

    Raises:
        ConfigurationError: No address or no token could be found.
        MissingDependencyError: hvac is not installed.
    """

    name = "vault"

    def __init__(
        self,
        vault_addr: str | None = None,
        vault_token: str | None = None,
        path: str = DEFAULT_PATH,
        *,
        kv_version: int = 2,
        timeout: float = 5.0,
        verify: bool | str | None = None,
    ) -> None:
        hvac = require("hvac", "vault")
        address = vault_addr or os.environ.get(envvars.VAULT_ADDR)
        if not address:
            raise ConfigurationError(
                f"no Vault address: pass vault_addr= or set {envvars.VAULT_ADDR}"
            )
        token = vault_token or os.environ.get(envvars.VAULT_TOKEN) or _token_file()
        if not token:
            raise ConfigurationError(
                f"no Vault token: pass vault_token=, set {envvars.VAULT_TOKEN}, "
                "or log in with the vault CLI so that ~/.vault-token exists"
            )
        if kv_version not in (1, 2):
            raise ConfigurationError(f"kv_version must be 1 or 2, not {kv_version!r}")
        self.address = address
        self.kv_version = kv_version
        self.mount_point, self.path = _split_path(path, kv_version)
        if verify is None:
            verify = os.environ.get("VAULT_CACERT") or True
        self.client = hvac.Client(url=address, token=token, timeout=timeout, verify=verify)

    def get_secret(self, key: str) -> str | None:
        """Return the field ``key`` of the configured KV secret, or ``None``."""
        record = self.fetch(key)
        return None if record is None else record.secret.reveal()

    def locator(self, key: str) -> str:
        """Return mount, path and field: ``vault:secret/abstractcore#openai``."""
        return f"vault:{self.mount_point}/{self.path}#{key}"

    def fetch(self, key: str) -> SecretRecord | None:
        """Read the KV secret and return its ``key`` field with version and request id."""
        locator = self.locator(key)
        response = self._read(locator)
        if response is None:
            return None
        fields, version = _fields_and_version(response, self.kv_version)
        value = fields.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise InvalidSourceError(
                f"{locator} is a {type(value).__name__}, not a string; store the key as text",
                source=self.name,
                locator=locator,
            )
        return SecretRecord(
            Secret(value),
            locator=locator,
            version=version,
            request_id=response.get("request_id"),
        )

    def close(self) -> None:
        """Close the HTTP session."""
        self.client.adapter.close()

    def _read(self, locator: str) -> dict[str, Any] | None:
        hvac_exceptions = require("hvac.exceptions", "vault")
        try:
            if self.kv_version == 2:
                response = self.client.secrets.kv.v2.read_secret_version(
                    path=self.path, mount_point=self.mount_point, raise_on_deleted_version=True
                )
            else:
                response = self.client.secrets.kv.v1.read_secret(
                    path=self.path, mount_point=self.mount_point
                )
        except hvac_exceptions.InvalidPath:
            return None
        except Exception as exc:
            raise translate_error(exc, locator) from exc
        if not isinstance(response, dict):
            raise InvalidSourceError(
                f"{locator}: Vault answered with no JSON body; check the address points at "
                "the Vault API",
                source=self.name,
                locator=locator,
            )
        return response


def translate_error(exc: Exception, locator: str) -> SourceError:
    """Map an hvac or requests error to the ``SourceError`` of its category."""
    hvac_exceptions = require("hvac.exceptions", "vault")
    requests_exceptions = require("requests.exceptions", "vault")
    # Most specific first: requests' Timeout types are also ConnectionErrors.
    table: tuple[tuple[type[BaseException], type[SourceError], str], ...] = (
        (
            hvac_exceptions.Forbidden,
            SourceForbiddenError,
            "Vault denied access (403): the token lacks a policy granting read on this path, "
            "or it expired or was revoked",
        ),
        (
            hvac_exceptions.Unauthorized,
            SourceUnauthenticatedError,
            "Vault rejected the token (401); log in again",
        ),
        (
            hvac_exceptions.RateLimitExceeded,
            SourceThrottledError,
            "Vault's rate limit was reached (429)",
        ),
        (
            hvac_exceptions.VaultDown,
            SourceUnavailableError,
            "Vault is sealed or in maintenance (503); unseal it",
        ),
        (
            hvac_exceptions.InvalidRequest,
            InvalidSourceError,
            "Vault called the request invalid (400); check the mount and the KV version",
        ),
        (requests_exceptions.Timeout, SourceTimeoutError, "Vault did not answer in time"),
        (
            requests_exceptions.ConnectionError,
            SourceUnavailableError,
            "cannot connect to Vault; check VAULT_ADDR and that the server is up",
        ),
    )
    for sdk_error, our_error, problem in table:
        if isinstance(exc, sdk_error):
            return our_error(f"{locator}: {problem}", source="vault", locator=locator)
    return SourceUnavailableError(
        f"{locator}: Vault failed ({type(exc).__name__}); see the server's logs",
        source="vault",
        locator=locator,
    )


def _split_path(path: str, kv_version: int) -> tuple[str, str]:
    parts = path.strip("/").split("/")
    if kv_version == 2 and len(parts) >= 3 and parts[1] == "data":
        return parts[0], "/".join(parts[2:])
    if len(parts) < 2:
        raise ConfigurationError(
            f"Vault path {path!r} needs a mount and a path, e.g. 'secret/data/abstractcore'"
        )
    return parts[0], "/".join(parts[1:])


def _fields_and_version(
    response: dict[str, Any], kv_version: int
) -> tuple[dict[str, Any], str | None]:
    data = response.get("data") or {}
    if kv_version == 1:
        return data, None
    metadata = data.get("metadata") or {}
    version = metadata.get("version")
    return data.get("data") or {}, None if version is None else str(version)


def _token_file() -> str | None:
    path = Path.home() / ".vault-token"
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
