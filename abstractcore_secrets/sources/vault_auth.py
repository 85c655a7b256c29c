"""How the Vault source logs in: a token, AppRole, JWT or Kubernetes.

Each method returns a :class:`Login`. Methods that can log in again (AppRole, JWT,
Kubernetes, and a token read from a file that an agent refreshes) let the source replace an
expired or revoked token without a failed resolution.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .. import envvars
from .._files import KEY_FILE_LIMIT, InsecureFilePolicy, read_small_text
from ..errors import ConfigurationError
from .spec import checked_options, shown

KUBERNETES_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path


@dataclass(frozen=True)
class Login:
    """A token with its lifetime; ``ttl`` 0 means it does not expire."""

    token: str
    ttl: float
    renewable: bool


class VaultAuth(Protocol):
    """A way to get a Vault token."""

    method: str
    """Name in messages and docs: ``token``, ``approle``, ``jwt``, ``kubernetes``."""
    can_login_again: bool
    """Whether :meth:`login` can produce a new token when the current one dies."""

    def login(self, client: Any) -> Login:  # noqa: ANN401 - hvac.Client is untyped
        """Return a fresh token, using ``client`` (an ``hvac.Client``) to ask Vault."""
        ...


def _read_file(path: Path, what: str, *, private: bool) -> str:
    """Read a credential file; ``private`` ones that others can read are refused (or warned).

    Service-account and workload JWTs are not ``private``: orchestrators mount them 0644,
    and they are short-lived and bound to an audience.
    """
    problem = None
    try:
        policy = InsecureFilePolicy.from_environment() if private else None
        text = read_small_text(path, limit=KEY_FILE_LIMIT, policy=policy, source="vault").strip()
    except OSError as exc:
        problem = type(exc).__name__
    if problem is not None:
        raise ConfigurationError(f"cannot read the {what} from {path} ({problem}); check the path")
    if not text:
        raise ConfigurationError(f"the {what} file {path} is empty")
    return text


def _login_result(response: dict[str, Any]) -> Login:
    auth = response["auth"]
    return Login(
        auth["client_token"], float(auth.get("lease_duration") or 0), bool(auth.get("renewable"))
    )


class TokenAuth:
    """Use a token: given, from ``$VAULT_TOKEN``, or from a file (default ``~/.vault-token``).

    A token read from a file is read again when it stops working, so a Vault Agent that
    refreshes the file keeps the source working.
    """

    method = "token"

    def __init__(self, token: str | None = None, *, token_file: Path | str | None = None) -> None:
        self._token = token or os.environ.get(envvars.VAULT_TOKEN) or None
        default_file = Path.home() / ".vault-token"
        self._file = Path(token_file).expanduser() if token_file else default_file
        self.can_login_again = self._token is None
        self._presented: tuple[str, ...] = (self._token,) if self._token else ()
        if self._token is None and not self._file.exists():
            raise ConfigurationError(
                f"no Vault token: pass vault_token=, set {envvars.VAULT_TOKEN}, log in with "
                "the vault CLI (~/.vault-token), or configure AppRole, JWT or Kubernetes auth"
            )

    def credentials(self) -> tuple[str, ...]:
        """Return what the last login presented (a token, a secret id, a JWT), or what it
        will: the redaction policy masks it wherever a server echoes it back."""
        return self._presented

    def login(self, client: Any) -> Login:  # noqa: ANN401 - hvac.Client
        """Return the token with the TTL Vault reports for it (one lookup-self call)."""
        token = self._token or _read_file(self._file, "Vault token", private=True)
        self._presented = (token,)
        client.token = token
        data = client.auth.token.lookup_self()["data"]
        return Login(token, float(data.get("ttl") or 0), bool(data.get("renewable")))


class AppRoleAuth:
    """Log in with an AppRole role id and secret id.

    Each is given, read from a file, or taken from ``$VAULT_ROLE_ID`` / ``$VAULT_SECRET_ID``.
    """

    method = "approle"
    can_login_again = True

    def __init__(
        self,
        role_id: str | None = None,
        secret_id: str | None = None,
        *,
        role_id_file: Path | str | None = None,
        secret_id_file: Path | str | None = None,
        mount_point: str = "approle",
    ) -> None:
        role_id = role_id or os.environ.get(envvars.VAULT_ROLE_ID)
        secret_id = secret_id or os.environ.get(envvars.VAULT_SECRET_ID)
        if not (role_id or role_id_file) or not (secret_id or secret_id_file):
            raise ConfigurationError(
                "AppRole needs a role id and a secret id: pass role_id= or role_id_file= (or "
                f"set {envvars.VAULT_ROLE_ID}), and secret_id= or secret_id_file= (or set "
                f"{envvars.VAULT_SECRET_ID})"
            )
        self._role_id = role_id
        self._secret_id = secret_id
        self._role_id_file = Path(role_id_file) if role_id_file else None
        self._secret_id_file = Path(secret_id_file) if secret_id_file else None
        self.mount_point = mount_point
        self._presented: tuple[str, ...] = (secret_id,) if secret_id else ()

    def credentials(self) -> tuple[str, ...]:
        """Return what the last login presented (a token, a secret id, a JWT), or what it
        will: the redaction policy masks it wherever a server echoes it back."""
        return self._presented

    def login(self, client: Any) -> Login:  # noqa: ANN401 - hvac.Client
        """Log in at ``auth/<mount>/login``."""
        role_id = self._role_id or _read_file(
            self._role_id_file or Path(), "AppRole role id", private=False
        )
        secret_id = self._secret_id or _read_file(
            self._secret_id_file or Path(), "AppRole secret id", private=True
        )
        self._presented = (secret_id,)
        return _login_result(
            client.auth.approle.login(
                role_id=role_id, secret_id=secret_id, mount_point=self.mount_point, use_token=False
            )
        )


class JWTAuth:
    """Log in with a JWT read from a file at each login (CI and workload identity tokens)."""

    method = "jwt"
    can_login_again = True

    def __init__(self, role: str, jwt_file: Path | str, *, mount_point: str = "jwt") -> None:
        self.role = role
        self.jwt_file = Path(jwt_file)
        self.mount_point = mount_point
        self._presented: tuple[str, ...] = ()

    def credentials(self) -> tuple[str, ...]:
        """Return what the last login presented (a token, a secret id, a JWT), or what it
        will: the redaction policy masks it wherever a server echoes it back."""
        return self._presented

    def login(self, client: Any) -> Login:  # noqa: ANN401 - hvac.Client
        """Log in at ``auth/<mount>/login`` with the file's current JWT."""
        jwt = _read_file(self.jwt_file, "JWT", private=False)
        self._presented = (jwt,)
        return _login_result(
            client.auth.jwt.jwt_login(
                role=self.role, jwt=jwt, use_token=False, path=self.mount_point
            )
        )


class KubernetesAuth:
    """Log in with the pod's service-account token (re-read at each login: it rotates)."""

    method = "kubernetes"
    can_login_again = True

    def __init__(
        self,
        role: str,
        *,
        token_file: Path | str = KUBERNETES_TOKEN_FILE,
        mount_point: str = "kubernetes",
    ) -> None:
        self.role = role
        self.token_file = Path(token_file)
        self.mount_point = mount_point
        self._presented: tuple[str, ...] = ()

    def credentials(self) -> tuple[str, ...]:
        """Return what the last login presented (a token, a secret id, a JWT), or what it
        will: the redaction policy masks it wherever a server echoes it back."""
        return self._presented

    def login(self, client: Any) -> Login:  # noqa: ANN401 - hvac.Client
        """Log in at ``auth/<mount>/login`` with the service-account token."""
        jwt = _read_file(self.token_file, "Kubernetes service-account token", private=False)
        self._presented = (jwt,)
        return _login_result(
            client.auth.kubernetes.login(
                role=self.role, jwt=jwt, use_token=False, mount_point=self.mount_point
            )
        )


AUTH_OPTIONS: dict[str, type] = {
    "method": str,
    "role_id": str,
    "role_id_file": str,
    "secret_id_file": str,
    "role": str,
    "jwt_file": str,
    "token_file": str,
    "mount_point": str,
}
"""``secrets.sources.vault.auth``: the methods' options, secrets themselves left out (files
or the environment hold those)."""


_METHODS = ("approle", "jwt", "kubernetes", "token")
_REQUIRED = {"jwt": ("role", "jwt_file"), "kubernetes": ("role",)}


def check_auth_options(raw: Mapping[str, Any], where: str) -> None:
    """Check ``secrets.sources.vault.auth`` without logging in or reading a file: its
    options' names and types, the method, and the options the method requires.

    Raises:
        ConfigurationError: Naming the option and what it must be.
    """
    where = f"{where}.auth"
    options = checked_options(raw, AUTH_OPTIONS, where)
    method = options.get("method")
    if method not in _METHODS:
        raise ConfigurationError(
            f"{where}.method must be one of {', '.join(_METHODS)} (got {shown(method)})"
        )
    missing = [name for name in _REQUIRED.get(method, ()) if name not in options]
    if missing:
        raise ConfigurationError(f"{where}: {method} auth is missing {', '.join(missing)}")


def auth_from_options(raw: Mapping[str, Any], where: str) -> VaultAuth:
    """Return the login that ``secrets.sources.vault.auth`` describes.

    Raises:
        ConfigurationError: The method is unknown, or an option is missing or wrong.
    """
    where = f"{where}.auth"
    options = checked_options(raw, AUTH_OPTIONS, where)
    method = options.pop("method", None)
    try:
        if method == "approle":
            # The secret id file is read at each login (and refused if others can read it);
            # without one, $VAULT_SECRET_ID is used.
            return AppRoleAuth(**options)
        if method == "jwt":
            return JWTAuth(options.pop("role"), options.pop("jwt_file"), **options)
        if method == "kubernetes":
            return KubernetesAuth(options.pop("role"), **options)
        if method == "token":
            return TokenAuth(**options)
    except (KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"{where}: {method} auth is missing or has a wrong option ({exc})"
        ) from None
    raise ConfigurationError(
        f"{where}.method must be one of {', '.join(_METHODS)} (got {shown(method)})"
    )
