"""Doctor's checks of Vault or OpenBao: address, reachability, TLS, the server, the login.

Each runs on the source built from the settings, through its public attributes (its
address, its HTTP client, its login method), so that what is checked is what the
resolver will use. Fixes name the CLI's flags, or the variable the setting comes from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, ErrorCategory, SourceError
from . import _checks as checks
from . import _net
from ._checks import Check, Problem, Status
from ._probe import PROBLEM_OF, ProbeContext, SourceReport, read_keys
from ._usage import shown_value

if TYPE_CHECKING:
    from ..sources.base import SecretProvider
    from ..sources.vault import VaultSecretProvider

SHORT_TOKEN_LIFE = 24 * 3600
"""A token that cannot be renewed and expires sooner than this is warned about."""

_AFTER_SERVER = ("server", "auth", "read")


def probe_vault(source: SecretProvider, context: ProbeContext, report: SourceReport) -> None:
    """Check the Vault source: address, reachability, TLS, health, login, then reads."""
    from ..sources.vault import VaultSecretProvider

    assert isinstance(source, VaultSecretProvider)  # noqa: S101 - the probe table says so
    report.target = source.address
    endpoint = _net.endpoint_of(source.address)
    if endpoint is None:
        report.checks.append(
            checks.failure(
                "address",
                f"the Vault address {shown_value(source.address)} is not an http:// or "
                "https:// URL",
                _address_fix(context),
                Problem.CONFIGURATION,
            )
        )
        report.checks += checks.skipped(("reachable", *_AFTER_SERVER), "no address to reach")
        return
    steps: list[Callable[[], Check | None]] = [
        lambda: _net.reach(endpoint, context.timeout, _address_fix(context, down=True)),
        lambda: _transport(source, endpoint, context),
        lambda: _server(source, context),
        lambda: _login(source, context),
    ]
    for number, step in enumerate(steps):
        check = step()
        if check is None:
            continue
        report.checks.append(check)
        if check.status is Status.FAIL:
            later = ("tls", *_AFTER_SERVER)[number:]
            report.checks += checks.skipped(later, f"not checked: {check.name} failed")
            return
    report.checks += read_keys(
        source, context, expect_keys=True, fix_for=lambda error: _read_fix(source, error)
    )


def _address_fix(context: ProbeContext, *, down: bool = False) -> str:
    """Say where the address is set and how to change it; ``down``: check the server first."""
    first = "check that Vault is up at this address" if down else "check the address"
    if context.configured("vault", "addr"):
        return (
            f"{first} (secrets.sources.vault.addr; change it with: abstractcore-secrets "
            "--set-secrets-provider vault --vault-addr URL)"
        )
    return f"{first} (VAULT_ADDR; or set one with --set-secrets-provider vault --vault-addr URL)"


def _transport(
    source: VaultSecretProvider, endpoint: _net.Endpoint, context: ProbeContext
) -> Check | None:
    """Check TLS on https; warn about plain http to another host; nothing on loopback http."""
    if endpoint.scheme == "http":
        if endpoint.loopback:
            return None
        return checks.warning(
            "tls",
            f"plain http to {endpoint.host}: the token and the keys cross the network unencrypted",
            "use the https:// address of Vault (--vault-addr https://...)",
        )
    verify: Any = source.client.session.verify
    if verify is True:
        verify = _net.default_ca_bundle(_net.REQUESTS_CA_VARIABLES)
    return _net.tls(
        endpoint,
        verify if verify else False,
        context.timeout,
        "give the CA bundle that signs it: --vault-cacert FILE, or set VAULT_CACERT",
    )


def _server(source: VaultSecretProvider, context: ProbeContext) -> Check:
    """Check that the address answers as Vault does, initialised and unsealed."""

    def health() -> object:
        # Every state answered with 200, so that the body says which it is.
        return source.client.sys.read_health_status(
            method="GET",
            standby_ok=True,
            sealed_code=200,
            uninit_code=200,
            performance_standby_code=200,
            dr_secondary_code=200,
        )

    answer, took, failed = _call(source, context, "server", health)
    if failed is not None:
        return failed
    status = getattr(answer, "status_code", None)  # hvac's answer when the body is no JSON
    if isinstance(status, int) and status >= 500:
        return checks.failure(
            "server",
            f"{source.address} answered HTTP {status}: Vault, or what stands in front of it, "
            "is unavailable",
            "check that Vault is up behind its address (its load balancer, its logs)",
            Problem.FAILED,
            took,
        )
    if not isinstance(answer, dict) or not isinstance(answer.get("sealed"), bool):
        return checks.failure(
            "server",
            f"{source.address} answers, but not as Vault's API does (sys/health)",
            _address_fix(context) + ": it must be Vault's API (its port is usually 8200)",
            Problem.CONFIGURATION,
            took,
        )
    if answer.get("initialized") is False:
        return checks.failure(
            "server",
            "Vault is not initialised",
            "initialise it: vault operator init (bao operator init)",
            Problem.FAILED,
            took,
        )
    if answer["sealed"]:
        return checks.failure(
            "server",
            "Vault is sealed: it serves no secret",
            "unseal it: vault operator unseal (bao operator unseal)",
            Problem.FAILED,
            took,
        )
    version = answer.get("version")
    named = f"version {version}, " if isinstance(version, str) and len(version) < 40 else ""
    role = "standby" if answer.get("standby") else "active"
    return checks.ok("server", f"{named}unsealed, {role}, in {checks.milliseconds(took)}", took)


def _login(source: VaultSecretProvider, context: ProbeContext) -> Check:
    """Log in as the source does; report the token's time left, renewal and policies."""
    method = source.auth.method
    login, took, failed = _call(source, context, "auth", lambda: source.auth.login(source.client))
    if failed is not None:
        return failed
    source.client.token = login.token
    policies = _policies(source, context)
    life = f"{checks.time_left(login.ttl)} left" if login.ttl else "never expires"
    renewal = "renewable" if login.renewable else "not renewable"
    detail = f"{method} login accepted: token {life}, {renewal}{policies}"
    if login.ttl and not login.renewable and login.ttl < SHORT_TOKEN_LIFE:
        return checks.warning(
            "auth",
            detail,
            "the token expires soon and cannot be renewed: resolutions fail after that. "
            + _long_lived_fix(source),
            took,
        )
    return checks.ok("auth", detail, took)


def _policies(source: VaultSecretProvider, context: ProbeContext) -> str:
    """Return ``; policies: a, b`` from a lookup of the token, or nothing if it cannot be had."""
    try:
        answer, _ = checks.bounded(context.timeout, source.client.auth.token.lookup_self)
    except Exception:  # noqa: BLE001 - the policies are a nicety; the login is what counts
        return ""
    data = answer.get("data") if isinstance(answer, dict) else None
    names = data.get("policies") if isinstance(data, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return ""
    return "; policies: " + (", ".join(shown_value(n).strip("'") for n in names) or "none")


def _long_lived_fix(source: VaultSecretProvider) -> str:
    if source.auth.can_login_again:
        return "Keep the token file refreshed (Vault Agent), or use --vault-auth approle."
    return (
        "Give a renewable or longer-lived token (--vault-token -), or use --vault-auth "
        "approle, jwt or kubernetes, which log in again."
    )


def _call(
    source: VaultSecretProvider,
    context: ProbeContext,
    name: str,
    call: Any,  # noqa: ANN401
) -> tuple[Any, float | None, Check | None]:
    """Run ``call`` bounded; return its answer and time, or the failed check it makes."""
    error: SourceError | None = None
    try:
        answer, took = checks.bounded(context.timeout, call)
    except checks.TimedOut:
        return (
            None,
            None,
            checks.failure(
                name,
                f"Vault accepted the connection but did not answer within {context.timeout:g} s",
                "check the server's load and logs, and that the address is Vault's API port",
                Problem.FAILED,
            ),
        )
    except ConfigurationError as exc:  # a token or credential file missing or unsafe
        return (
            None,
            None,
            checks.failure(
                name, str(exc), _credentials_fix(source, context), Problem.CONFIGURATION
            ),
        )
    except Exception as exc:  # noqa: BLE001 - translated: the source's own table
        from ..sources.vault import translate_error

        error = translate_error(exc, source.address)
    if error is None:
        return answer, took, None
    problem = PROBLEM_OF.get(error.category, Problem.FAILED)
    if name == "auth" and error.category in (
        ErrorCategory.FORBIDDEN,
        ErrorCategory.UNAUTHENTICATED,
    ):
        detail = f"Vault refused the {source.auth.method} login ({error.category.value}): " + (
            "the token is invalid, expired or revoked"
            if source.auth.method == "token"
            else "check the role and its credentials"
        )
        return None, None, checks.failure(name, detail, _credentials_fix(source, context), problem)
    return None, None, checks.failure(name, str(error), _fix_for(error, context), problem)


def _credentials_fix(source: VaultSecretProvider, context: ProbeContext) -> str:
    if source.auth.method != "token":
        return (
            "check the role and its credentials (--vault-role, --vault-role-id-file, "
            "--vault-secret-id-file, --vault-jwt-file) and that the auth method is enabled "
            "at its mount (--vault-auth-mount)"
        )
    if context.configured("vault", "token"):
        return (
            "store a valid token: abstractcore-secrets --set-secrets-provider vault "
            "--vault-addr URL --vault-token - (the token on stdin)"
        )
    if context.configured("vault", "token_file"):
        return f"write a valid token into the file {context.where('vault')}.token_file names"
    return (
        "set VAULT_TOKEN to a valid token (or run 'vault login'), or store one: "
        "abstractcore-secrets --set-secrets-provider vault --vault-addr URL --vault-token -"
    )


def _fix_for(error: SourceError, context: ProbeContext) -> str:
    if error.category is ErrorCategory.INVALID:
        return _address_fix(context)
    if error.category is ErrorCategory.THROTTLED:
        return "Vault is rate limiting: try again later, or raise its rate limit quota"
    return _address_fix(context, down=True)


def _read_fix(source: VaultSecretProvider, error: SourceError) -> str | None:
    if error.category is ErrorCategory.FORBIDDEN:
        path = source.path.replace("{provider}", "*")
        api = (
            f"{source.mount_point}/data/{path}"
            if source.kv_version == 2
            else (f"{source.mount_point}/{path}")
        )
        return (
            f'give the token a policy that reads {api}: path "{api}" {{ capabilities = ["read"] }}'
        )
    if error.category is ErrorCategory.UNAUTHENTICATED:
        return "the token stopped working: log in again, or store a valid token (--vault-token -)"
    return None
