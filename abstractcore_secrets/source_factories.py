"""Build each named source from its options in the config file's ``secrets.sources``.

Options are checked before anything is built: an unknown option (a typo) or a value of
the wrong type is a ``ConfigurationError`` naming the file, the option and what it takes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConfigurationError
from .files import InsecureFilePolicy, check_permissions

if TYPE_CHECKING:
    from .providers.base import SecretProvider
    from .providers.vault_auth import VaultAuth

_Schema = Mapping[str, type]


class SourceSettings(Protocol):
    """What building a source reads of the chain settings (``config.ChainSettings`` has it).

    A protocol rather than the settings class, so that this module stays below ``config``,
    which checks its options with it.
    """

    @property
    def config_path(self) -> Path:
        """The config file."""

    @property
    def sources(self) -> Mapping[str, Mapping[str, Any]]:
        """``secrets.sources``: each source's options."""

    @property
    def insecure_files(self) -> InsecureFilePolicy:
        """What to do with key files that others can read."""


_VAULT: _Schema = {
    "addr": str,
    "token": str,
    "token_file": str,
    "path": str,
    "kv_version": int,
    "mount_point": str,
    "field": str,
    "namespace": str,
    "timeout": float,
    "connect_timeout": float,
    "verify": object,
    "auth": dict,
}
_VAULT_AUTH: _Schema = {
    "method": str,
    "role_id": str,
    "role_id_file": str,
    "secret_id_file": str,
    "role": str,
    "jwt_file": str,
    "token_file": str,
    "mount_point": str,
}
_AWS: _Schema = {
    "region": str,
    "secret_id_template": str,
    "field": str,
    "version_stage": str,
    "version_id": str,
    "endpoint_url": str,
    "connect_timeout": float,
    "read_timeout": float,
}
_AZURE: _Schema = {
    "vault_url": str,
    "name_template": str,
    "version": str,
    "connect_timeout": float,
    "read_timeout": float,
}


def checked_options(raw: Mapping[str, Any], schema: _Schema, where: str) -> dict[str, Any]:
    """Return ``raw`` with numbers converted, or raise naming the bad option.

    An unknown option's name is repeated only when it reads as a name (it may be a key
    pasted in the wrong place); a number must be finite and within a float's range.

    Raises:
        ConfigurationError: An option is unknown or of the wrong type.
    """
    unknown = sorted(shown(name) for name in set(raw) - set(schema))
    if unknown:
        raise ConfigurationError(
            f"{where} has unknown options [{', '.join(unknown)}]; known: {sorted(schema)}"
        )
    options: dict[str, Any] = {}
    for name, value in raw.items():
        expected = schema[name]
        if (
            expected in (int, float)
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        ):
            if not _finite(value):
                raise ConfigurationError(f"{where}.{name} must be a finite number")
            options[name] = expected(value)
        elif expected is object or isinstance(value, expected):
            options[name] = value
        else:
            raise ConfigurationError(
                f"{where}.{name} must be a {expected.__name__}, not {type(value).__name__}"
            )
    return options


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past a float's range
        return False


# What a message may repeat of a setting: a short name. Anything else may be a key.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,16}")


def shown(value: object) -> str:
    """Return ``value`` as a message may show it: a short name or number, else its kind.

    A key pasted into the wrong setting must not travel on into logs with the error.
    """
    if isinstance(value, str):
        return repr(value) if _NAME.fullmatch(value) else f"(a text of {len(value)} characters)"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**16 else "(a very large integer)"
    if isinstance(value, float):
        return repr(value)
    return f"(a JSON {'array' if isinstance(value, list) else type(value).__name__})"


def _where(settings: SourceSettings, name: str) -> str:
    return f"{settings.config_path} secrets.sources.{name}"


def _guard_inline_credentials(settings: SourceSettings) -> None:
    """A token written into the config file makes it a key file: refuse it if others can read."""
    if settings.config_path.exists():
        check_permissions(settings.config_path, settings.insecure_files, source="config")


def vault_source(settings: SourceSettings) -> SecretProvider:
    """Build the ``vault`` source."""
    from .providers import vault_auth
    from .providers.vault import DEFAULT_PATH, VaultSecretProvider

    where = _where(settings, "vault")
    options = checked_options(settings.sources.get("vault", {}), _VAULT, where)
    token = options.pop("token", None)
    if token is not None:
        _guard_inline_credentials(settings)
    token_file = options.pop("token_file", None)
    auth_options = options.pop("auth", None)
    auth = None if auth_options is None else _vault_auth(auth_options, where)
    if auth is None and token is None and token_file is not None:
        # Read at each login, so that a token an agent rewrites keeps working.
        auth = vault_auth.TokenAuth(token_file=token_file)
    return VaultSecretProvider(
        options.pop("addr", None), token, options.pop("path", DEFAULT_PATH), auth=auth, **options
    )


def _vault_auth(raw: Mapping[str, Any], where: str) -> VaultAuth:
    from .providers import vault_auth

    where = f"{where}.auth"
    options = checked_options(raw, _VAULT_AUTH, where)
    method = options.pop("method", None)
    try:
        if method == "approle":
            # The secret id file is read at each login (and refused if others can read it);
            # without one, $VAULT_SECRET_ID is used.
            return vault_auth.AppRoleAuth(**options)
        if method == "jwt":
            return vault_auth.JWTAuth(options.pop("role"), options.pop("jwt_file"), **options)
        if method == "kubernetes":
            return vault_auth.KubernetesAuth(options.pop("role"), **options)
        if method == "token":
            return vault_auth.TokenAuth(**options)
    except (KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"{where}: {method} auth is missing or has a wrong option ({exc})"
        ) from None
    raise ConfigurationError(
        f"{where}.method must be one of approle, jwt, kubernetes, token (got {method!r})"
    )


def aws_source(settings: SourceSettings) -> SecretProvider:
    """Build the ``aws`` source."""
    from .providers.aws import AWSSecretsProvider

    options = checked_options(settings.sources.get("aws", {}), _AWS, _where(settings, "aws"))
    return AWSSecretsProvider(options.pop("region", None), **options)


def azure_source(settings: SourceSettings) -> SecretProvider:
    """Build the ``azure`` source (credentials: ``DefaultAzureCredential``)."""
    from .providers.azure import AzureKeyVaultProvider

    where = _where(settings, "azure")
    options = checked_options(settings.sources.get("azure", {}), _AZURE, where)
    vault_url = options.pop("vault_url", None)
    if not vault_url:
        raise ConfigurationError(
            f"{where}.vault_url is required, e.g. 'https://myvault.vault.azure.net'"
        )
    return AzureKeyVaultProvider(vault_url, **options)


def env_source(settings: SourceSettings) -> SecretProvider:
    """Build the ``env`` source."""
    from .providers.environment import EnvironmentSecretProvider

    return EnvironmentSecretProvider(insecure_files=settings.insecure_files)


def config_source(settings: SourceSettings) -> SecretProvider:
    """Build the ``config`` source."""
    from .providers.config import ConfigFileSecretProvider

    return ConfigFileSecretProvider(settings.config_path, insecure_files=settings.insecure_files)


SOURCE_FACTORIES: Mapping[str, Callable[[SourceSettings], SecretProvider]] = {
    "env": env_source,
    "vault": vault_source,
    "aws": aws_source,
    "azure": azure_source,
    "config": config_source,
}
"""Every source name a chain may use, with how to build it."""

MANAGED_SOURCES = ("vault", "aws", "azure")
"""Sources enabled by default where ``secrets.sources`` configures them, in this order."""
