"""Keys from HashiCorp Vault or OpenBao, KV secrets engine v2 or v1, through hvac."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .. import envvars
from .._files import check_permissions
from .._resolution import SecretRecord
from .._secret import Secret
from ..errors import (
    ConfigurationError,
    InvalidSourceError,
    SecretNotFoundError,
    SourceError,
    SourceForbiddenError,
)
from ._imports import require
from ._values import json_type
from ._vault_errors import (
    login_catches,
    login_errors,
    read_errors,
    sdk_errors,
    translate_error,
)
from ._vault_kv import fields_and_version, split_path
from ._vault_session import harden_session
from .base import SecretProvider, host_and_port
from .spec import SourceContext, source_spec
from .vault_auth import Login, TokenAuth, VaultAuth, auth_from_options, check_auth_options

__all__ = ["DEFAULT_PATH", "SPEC", "VaultSecretProvider", "translate_error"]

DEFAULT_PATH = "secret/data/abstractcore"
RENEW_AT = 2 / 3
"""Fraction of a token's TTL after which it is renewed."""


class VaultSecretProvider(SecretProvider):
    """Get keys from Vault or OpenBao.

    Two layouts: the proposal's, one KV secret with a field per provider
    (``path="secret/data/abstractcore"``), or a secret per provider, with ``{provider}`` in
    the path (``path="secret/data/llm/{provider}"``) and the key in ``field`` (default
    ``api_key``). The proposal's path names the KV v2 API path; it is split into the mount
    (``secret``) and the secret's path (``abstractcore``), because hvac adds ``data/`` itself.

    Args:
        vault_addr: Server URL; default ``$VAULT_ADDR``.
        vault_token: Token; default ``$VAULT_TOKEN``, then ``~/.vault-token``. Ignored
            when ``auth`` is given.
        path: KV path, with or without ``{provider}``.
        auth: How to log in: :mod:`.vault_auth` (``AppRoleAuth``, ``JWTAuth``,
            ``KubernetesAuth``, ``TokenAuth``).
        kv_version: 2 (default) or 1.
        mount_point: The KV mount, when ``path`` does not start with it.
        field: The field holding the key; default the provider's name (one secret for
            all) or ``api_key`` (a secret per provider).
        namespace: Vault Enterprise / OpenBao namespace; default ``$VAULT_NAMESPACE``.
        timeout: Seconds to wait for an answer, per request.
        connect_timeout: Seconds to connect, per request.
        verify: TLS verification: ``True``, ``False`` or a CA bundle path; default
            ``$VAULT_CACERT`` when set, else ``True``.
        clock: Monotonic clock, for token lifetimes (tests).

    Raises:
        ConfigurationError: No address, no way to get a token, or a malformed setting.
        MissingDependencyError: hvac is not installed.
    """

    name = "vault"

    def __init__(
        self,
        vault_addr: str | None = None,
        vault_token: str | None = None,
        path: str = DEFAULT_PATH,
        *,
        auth: VaultAuth | None = None,
        kv_version: int = 2,
        mount_point: str | None = None,
        field: str | None = None,
        namespace: str | None = None,
        timeout: float = 5.0,
        connect_timeout: float = 2.0,
        verify: bool | str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        hvac = require("hvac", "vault")
        address = vault_addr or os.environ.get(envvars.VAULT_ADDR)
        if not address:
            raise ConfigurationError(
                f"no Vault address: pass vault_addr= or set {envvars.VAULT_ADDR}"
            )
        if kv_version not in (1, 2):
            raise ConfigurationError(f"kv_version must be 1 or 2, not {kv_version!r}")
        self.auth = auth or TokenAuth(vault_token)
        self.address = address
        self.kv_version = kv_version
        self.mount_point, self.path = split_path(path, kv_version, mount_point)
        self.per_provider = "{provider}" in self.path
        self.field = field or ("api_key" if self.per_provider else None)
        if verify is None:
            verify = os.environ.get("VAULT_CACERT") or True
        self.client = hvac.Client(
            url=address,
            timeout=(connect_timeout, timeout),
            verify=verify,
            namespace=namespace or os.environ.get("VAULT_NAMESPACE") or None,
            allow_redirects=False,
        )
        harden_session(self.client.session)
        self.logins = 0
        self.renewals = 0
        self._clock = clock
        self._token_lock = threading.Lock()
        self._login: Login | None = None
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._login_failures = 0
        self._last_login_error: SourceError | None = None

    def secret_path(self, key: str) -> str:
        """Return the KV path read for provider ``key`` (without the mount)."""
        return self.path.format(provider=key) if self.per_provider else self.path

    def locator(self, key: str) -> str:
        """Return mount, path and field: ``vault:secret/abstractcore#openai``."""
        return f"vault:{self.mount_point}/{self.secret_path(key)}#{self.field or key}"

    def fetch(self, key: str) -> SecretRecord | None:
        """Read the secret; return its field with the KV version and Vault's request id."""
        locator = self.locator(key)
        response = self._read_with_valid_token(self.secret_path(key), locator)
        if response is None:
            return None
        fields, version = fields_and_version(response, self.kv_version, locator)
        value = fields.get(self.field or key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise InvalidSourceError(
                f"{locator} is a JSON {json_type(value)}, not a string; store the key as text",
                source=self.name,
                locator=locator,
            )
        return SecretRecord(
            Secret(value),
            locator=locator,
            version=version,
            request_id=response.get("request_id"),
        )

    def endpoint(self) -> tuple[str, int] | None:
        """Return Vault's host and port."""
        return host_and_port(self.address)

    def credentials(self) -> tuple[str, ...]:
        """Return the current token (it changes at each login) and what the login method
        presented for it (a secret id, a JWT), when it says."""
        token = self.client.token
        presented = getattr(self.auth, "credentials", None)
        login = tuple(presented()) if callable(presented) else ()
        return (token, *login) if token else login

    def close(self) -> None:
        """Close the HTTP session."""
        self.client.adapter.close()

    def _read_with_valid_token(self, path: str, locator: str) -> dict[str, Any] | None:
        token = self._current_token(locator)
        denied = self._read(path, locator)
        if not isinstance(denied, SourceForbiddenError):
            return denied
        # A 403 means a missing policy, or a token that died early (revoked). Only the
        # latter is helped by a login, and each AppRole login may use up a secret id.
        if self.auth.can_login_again and not self._token_alive():
            self._log_in(locator, replacing=token)
            denied = self._read(path, locator)
            if not isinstance(denied, SourceForbiddenError):
                return denied
        raise denied

    def _read(self, path: str, locator: str) -> dict[str, Any] | SourceForbiddenError | None:
        """Read; return ``None`` when absent, or the 403 as an error for the caller to judge."""
        error: SourceError | None = None
        response: Any = None
        try:
            if self.kv_version == 2:
                response = self.client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=self.mount_point, raise_on_deleted_version=True
                )
            else:
                response = self.client.secrets.kv.v1.read_secret(
                    path=path, mount_point=self.mount_point
                )
        except sdk_errors() as exc:
            error = read_errors().translate(exc, locator)
        # Raised here, outside the except block: the SDK's exception and its frames hold
        # the token and request headers, and must not ride along as __context__.
        if isinstance(error, SecretNotFoundError):
            return None
        if isinstance(error, SourceForbiddenError):
            return error
        if error is not None:
            raise error
        if response is None:
            return None
        if not isinstance(response, dict):
            raise InvalidSourceError(
                f"{locator}: Vault answered with no JSON body; check that the address points "
                "at the Vault API",
                source=self.name,
                locator=locator,
            )
        return response

    def _token_alive(self) -> bool:
        hvac_exceptions = require("hvac.exceptions", "vault")
        try:
            self.client.auth.token.lookup_self()
        except hvac_exceptions.Forbidden:
            return False
        except sdk_errors():
            return True  # unknown: do not spend a login on it
        return True

    def _current_token(self, locator: str) -> str:
        """Return a live token: log in first, renew at 2/3 of its TTL, log in again at expiry."""
        failures_seen = self._login_failures
        with self._token_lock:
            if self._login_failures != failures_seen and self._last_login_error is not None:
                # A login failed while we waited: fail now rather than queue up behind
                # another one that would fail the same way.
                raise self._last_login_error
            now = self._clock()
            login = self._login
            if login is None or (login.ttl and now >= self._expires_at):
                return self._log_in_locked(locator)
            if login.ttl and login.renewable and now >= self._renew_at:
                self._renew_locked(locator)
            return self.client.token  # type: ignore[no-any-return]

    def _log_in(self, locator: str, *, replacing: str) -> None:
        with self._token_lock:
            if self.client.token == replacing:  # another thread may have done it already
                self._log_in_locked(locator)

    def _log_in_locked(self, locator: str) -> str:
        error = self._login_error(locator)
        if isinstance(error, SourceError):
            self._login_failures += 1
            self._last_login_error = error
            raise error
        login = error
        self._last_login_error = None
        self.client.token = login.token
        self._login = login
        self.logins += 1
        self._schedule(login.ttl)
        return login.token

    def _login_error(self, locator: str) -> Login | SourceError:
        """Log in; return the login, or the error (raised by the caller, unchained)."""
        try:
            return self.auth.login(self.client)
        except login_catches() as exc:
            return login_errors().translate(exc, locator, method=self.auth.method)

    def _renew_locked(self, locator: str) -> None:
        hvac_exceptions = require("hvac.exceptions", "vault")
        try:
            auth = self.client.auth.token.renew_self()["auth"]
        except hvac_exceptions.Forbidden:
            if self.auth.can_login_again:
                self._log_in_locked(locator)
            return
        except sdk_errors():
            # Vault busy or unreachable: the token still works until it expires; try the
            # renewal again a little later, and let the read meet (and report) any outage.
            self._renew_at = self._clock() + max(1.0, (self._expires_at - self._clock()) / 10)
            return
        self.renewals += 1
        self._schedule(float(auth.get("lease_duration") or 0))

    def _schedule(self, ttl: float) -> None:
        now = self._clock()
        self._renew_at = now + ttl * RENEW_AT
        self._expires_at = now + ttl


def _build(options: dict[str, Any], context: SourceContext) -> SecretProvider:
    """Build the source: a token, a token file, or an ``auth`` method from the options."""
    token = options.pop("token", None)
    if token is not None and context.config_path.exists():
        # A token written into the config file makes it a key file: refuse it if others can read.
        check_permissions(context.config_path, context.insecure_files, source="config")
    token_file = options.pop("token_file", None)
    auth_options = options.pop("auth", None)
    auth = None if auth_options is None else auth_from_options(auth_options, context.where)
    if auth is None and token is None and token_file is not None:
        # Read at each login, so that a token an agent rewrites keeps working.
        auth = TokenAuth(token_file=token_file)
    return VaultSecretProvider(
        options.pop("addr", None), token, options.pop("path", DEFAULT_PATH), auth=auth, **options
    )


def _check_options(options: Mapping[str, Any], where: str) -> None:
    """The login method's own options, checked without logging in."""
    if options.get("auth") is not None:
        check_auth_options(options["auth"], where)


SPEC = source_spec(
    VaultSecretProvider,
    build=_build,
    managed=True,
    extra="vault",
    exclude=("clock",),
    rename={"vault_addr": "addr", "vault_token": "token"},
    # The file names a login method and its options, not an object; or a token file.
    also={"auth": dict, "token_file": str},
    check=_check_options,
)
"""The ``vault`` source: its options are the constructor's (``addr``, ``token``), but a clock."""
