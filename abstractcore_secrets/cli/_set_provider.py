"""``--set-secrets-provider``: the original proposal's way to configure a managed source.

Nothing is written until everything is known good: each flag's value is checked (a URL
has a scheme, a file exists, a region is one), flags of another source are refused, a
token read from stdin must be one, the settings must build a source, and, unless
``--no-verify``, doctor's checks of that source must pass against the server (reachable,
TLS, login, permission to read). Then ``secrets.sources.<source>`` is replaced whole.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import ConfigurationError, InvalidSourceError, MissingDependencyError, SecretsError
from ..source_factories import MANAGED_SOURCES
from . import _console as console
from ._source_flags import BY_DEST, TOKEN_FROM_STDIN, SourceFlag, problem_with, stored_value

if TYPE_CHECKING:
    from ..settings import ChainSettings

PROVIDERS = MANAGED_SOURCES
"""The managed sources this command configures, as their specs declare them."""

_AUTH_FLAGS = {
    "approle": ("--vault-role-id-file", "--vault-secret-id-file"),
    "jwt": ("--vault-role", "--vault-jwt-file"),
    "kubernetes": ("--vault-role",),
    "token": (),
}
"""Which login flags go with which ``--vault-auth`` method (``--vault-auth-mount`` with any)."""


def check_flags(provider: str | None, given: Mapping[str, str]) -> None:
    """Exit 2 when the source flags given cannot be used as they are.

    Without ``--set-secrets-provider``, any source flag is a mistake (it would be ignored);
    with it, every flag must be one of that source and its value must be usable.
    """
    flags = [BY_DEST[name] for name in given]
    if provider is None:
        if flags:
            _usage(
                f"{_flag_names(flags)} configure{'s' if len(flags) == 1 else ''} a secrets "
                f"source: add --set-secrets-provider {flags[0].source}"
            )
        return
    foreign = [flag for flag in flags if flag.source != provider]
    if foreign:
        owner = foreign[0].source
        _usage(
            f"{_flag_names(foreign)} {'is an option' if len(foreign) == 1 else 'are options'} "
            f"of --set-secrets-provider {owner}, not {provider}; configure one source per "
            "command"
        )
    for flag in flags:
        problem = problem_with(flag, given[flag.dest])
        if problem is not None:
            _usage(problem)
    if provider == "vault":
        _check_vault_flags({flag.flag: given[flag.dest] for flag in flags})
    if provider == "azure" and "vault_url" not in given:
        _usage("--set-secrets-provider azure needs --vault-url https://NAME.vault.azure.net")


def _check_vault_flags(given: Mapping[str, str]) -> None:
    if "--vault-addr" not in given:
        _usage(
            "--set-secrets-provider vault needs --vault-addr URL, e.g. https://vault.example.com:8200"
        )
    token = given.get("--vault-token")
    if token is not None and token != TOKEN_FROM_STDIN:
        _usage(
            "refusing a token typed on the command line (ps and shell history keep it); "
            "use '--vault-token -' and give it on stdin or at the prompt, or set VAULT_TOKEN "
            "where the application runs"
        )
    if token is not None and "--vault-token-file" in given:
        _usage("give the token one way: --vault-token - or --vault-token-file FILE, not both")
    method = given.get("--vault-auth", "token")
    login_flags = {flag for flags in _AUTH_FLAGS.values() for flag in flags}
    stray = sorted((login_flags - set(_AUTH_FLAGS[method])) & set(given))
    if stray:
        _usage(
            f"{', '.join(stray)} {'does' if len(stray) == 1 else 'do'} not go with "
            f"--vault-auth {method}"
        )
    if method != "token" and ("--vault-token" in given or "--vault-token-file" in given):
        _usage(f"--vault-auth {method} logs in without a token: drop --vault-token(-file)")
    if "--vault-auth-mount" in given and "--vault-auth" not in given:
        _usage("--vault-auth-mount needs --vault-auth approle, jwt or kubernetes")
    needed = [flag for flag in _AUTH_FLAGS[method] if flag not in given]
    if method == "approle":
        # Each may instead come from the application's environment, as the library allows.
        variables = {
            "--vault-role-id-file": "VAULT_ROLE_ID",
            "--vault-secret-id-file": "VAULT_SECRET_ID",
        }
        needed = [flag for flag in needed if not os.environ.get(variables[flag])]
        if needed:
            _usage(
                f"--vault-auth approle needs {' and '.join(f'{f} FILE' for f in needed)} "
                f"(or {' and '.join(variables[f] for f in needed)} set)"
            )
    if method in ("jwt", "kubernetes") and needed:
        _usage(f"--vault-auth {method} needs {' and '.join(needed)}")


def configure(provider: str, given: Mapping[str, str], *, verify: bool) -> None:
    """Check, verify and write ``secrets.sources.<provider>`` into the config file (0600).

    Args:
        provider: The managed source to configure.
        given: The source flags given, by their Python names, already checked by
            :func:`check_flags`.
        verify: Run doctor's checks of the source before saving.
    """
    from .._config_file import SECRETS, ConfigFile
    from ..settings import load_settings

    options = _options(given)
    try:
        settings = load_settings()
    except SecretsError as error:
        console.fail_for(error)
    # What the resolver will use: these options, under what the active profile sets.
    effective = _under_profile(settings, provider, options)
    candidate = dataclasses.replace(settings, sources={**settings.sources, provider: effective})
    _check_builds(provider, candidate)
    if verify:
        _verify(provider, candidate)
    try:
        config = ConfigFile(settings.config_path)
        document = config.load()
        section = document.setdefault(SECRETS, {})
        if not isinstance(section, dict) or not isinstance(section.setdefault("sources", {}), dict):
            console.fail(
                f"{config.path} has a 'secrets' section that is not a JSON object; fix it "
                "or move the file aside",
                console.Exit.CONFIGURATION,
            )
        section["sources"][provider] = options
        config.write(document)
    except SecretsError as error:
        console.fail_for(error)
    where = options.get("addr") or options.get("vault_url") or options.get("region") or "defaults"
    console.say(f"configured {provider} ({where}) in {config.path}")
    try:
        chain = load_settings().chain
    except SecretsError:  # written, but now unreadable: doctor and status will say why
        return
    if provider not in chain:
        console.warn(
            f"the chain ({' > '.join(chain)}) does not include {provider}: it is set "
            "by secrets.chain or ABSTRACTCORE_SECRETS_CHAIN; add it there to use it"
        )


def _under_profile(
    settings: ChainSettings, provider: str, options: dict[str, Any]
) -> dict[str, Any]:
    """Return ``options`` merged under the active profile's ``sources.<provider>``.

    Exits 2 when the profile sets an option to another value than the flags give: the
    flags would be written where the profile overrides them, verified, and never used.
    """
    from .._config_file import SECRETS, ConfigFile
    from ..sources.spec import shown

    if settings.profile is None:
        return options
    profiles = ConfigFile(settings.config_path).section(SECRETS).get("profiles")
    profile = profiles.get(settings.profile) if isinstance(profiles, dict) else None
    sources = profile.get("sources") if isinstance(profile, dict) else None
    override = sources.get(provider) if isinstance(sources, dict) else None
    if not isinstance(override, dict) or not override:
        return options
    clashing = sorted(
        name for name in override if name in options and override[name] != options[name]
    )
    if clashing:
        where = f"secrets.profiles.{shown(settings.profile)}.sources.{provider}"
        _usage(
            f"the active profile {shown(settings.profile)} sets {', '.join(clashing)} in {where}, "
            "which overrides what these flags would write to secrets.sources."
            f"{provider}: they would never be used. Change them in the profile, or run "
            "without it (ABSTRACTCORE_SECRETS_PROFILE, secrets.profile); nothing was saved"
        )
    merged = dict(options)
    for name, value in override.items():
        below = merged.get(name)
        merged[name] = (
            {**below, **value} if isinstance(below, dict) and isinstance(value, dict) else value
        )
    return merged


def _options(given: Mapping[str, str]) -> dict[str, Any]:
    """Return ``secrets.sources.<source>`` as the flags describe it; read a token from stdin."""
    from ._secret_input import read_secret

    options: dict[str, Any] = {}
    for name, value in given.items():
        flag: SourceFlag = BY_DEST[name]
        if flag.kind == "stdin":
            options["token"] = read_secret("Vault token")
            continue
        section, _, option = flag.option.rpartition(".")
        target = options.setdefault(section, {}) if section else options
        target[option] = stored_value(flag, value)
    return options


def _check_builds(provider: str, candidate: ChainSettings) -> None:
    """Build the source from the new settings, offline: what the library refuses, refused."""
    from ..source_factories import build_source

    problem: str | None = None
    code = console.Exit.USAGE
    try:
        build_source(provider, candidate).close()
    except (MissingDependencyError, InvalidSourceError) as error:
        # Not the flags' fault: an extra to install, a config file others can read.
        problem, code = str(error), console.Exit.CONFIGURATION
    except ConfigurationError as error:
        problem = f"these settings cannot be used: {error}"
    except Exception as error:  # noqa: BLE001 - an SDK refusing a setting (botocore's ValueError)
        # Only the type: the SDK's message may quote anything it was given.
        refused = type(error).__name__
        problem = f"these settings cannot be used: the {provider} SDK refused them ({refused})"
    if problem is not None:
        console.fail(f"{problem}; nothing was saved", code)


def _verify(provider: str, candidate: ChainSettings) -> None:
    """Run doctor's checks of the new source; exit with doctor's code if one fails."""
    from ..llm_providers import KNOWN_ENV_VARS
    from . import _checks as checks
    from ._doctor import DEFAULT_TIMEOUT, say_reports
    from ._probe import ProbeContext, probe

    report = probe(provider, ProbeContext(candidate, tuple(KNOWN_ENV_VARS), DEFAULT_TIMEOUT))
    say_reports([report])
    code = checks.exit_code(report.checks)
    if code is not console.Exit.OK:
        console.fail(
            f"{provider} does not work with these settings (see above); nothing was saved. "
            "Fix the problem, or add --no-verify to save them anyway",
            code,
        )


def _flag_names(flags: list[SourceFlag]) -> str:
    return ", ".join(flag.flag for flag in flags)


def _usage(message: str) -> NoReturn:
    console.fail(message, console.Exit.USAGE)
