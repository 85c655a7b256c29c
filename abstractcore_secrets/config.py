"""Chain configuration: the config file's ``secrets`` section, profiles, and environment.

Precedence, lowest first: built-in defaults, the ``secrets`` section, the active profile
(``secrets.profiles.<name>``, chosen by ``ABSTRACTCORE_SECRETS_PROFILE`` or
``secrets.profile``), then ``ABSTRACTCORE_SECRETS_*`` variables. For example::

    {
      "api_keys": {"openai": "sk-..."},
      "secrets": {
        "chain": ["env", "vault", "config"],
        "cache": {"ttl": 300, "negative_ttl": 30, "max_stale": 900},
        "sources": {"vault": {"addr": "https://vault.example.com:8200",
                              "path": "secret/data/abstractcore"}},
        "resilience": {"attempts": 3, "failure_threshold": 5, "reset_timeout": 30},
        "profiles": {"dev": {"chain": ["env", "config"]}}
      }
    }
"""

from __future__ import annotations

import math
import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import envvars
from .config_file import SECRETS, ConfigFile
from .errors import ConfigurationError
from .files import InsecureFilePolicy, InsecureFileWarning
from .source_factories import checked_options, find_source, managed_sources, shown, source_names

if TYPE_CHECKING:
    from .manager import SecretsManager
    from .telemetry.setup import Telemetry


@dataclass(frozen=True)
class ChainSettings:
    """Everything needed to build a ``SecretsManager``; see the module docstring."""

    config_path: Path
    chain: tuple[str, ...]
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cache_ttl: float = 300.0
    negative_ttl: float = 30.0
    max_stale: float = 900.0
    insecure_files: InsecureFilePolicy = InsecureFilePolicy.REFUSE
    profile: str | None = None
    resilience: Mapping[str, Any] = field(default_factory=dict)
    audit: Mapping[str, Any] = field(default_factory=dict)


def load_settings(
    config_path: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ChainSettings:
    """Read the chain settings from the config file and the environment.

    Raises:
        ConfigurationError: A setting is malformed or names an unknown source or profile.
        InvalidSourceError: The config file is corrupt.
    """
    environ = os.environ if environ is None else environ
    config = ConfigFile(config_path)
    section = _as_dict(config.section(SECRETS), "secrets", config.path)
    if section:
        _check_settings_file(config.path, environ)
    profile = environ.get(envvars.PROFILE) or section.get("profile")
    if profile is not None:
        if not isinstance(profile, str):
            raise ConfigurationError(f"{config.path} secrets.profile must be a profile name")
        profiles = _as_dict(section.get("profiles", {}), "secrets.profiles", config.path)
        if profile not in profiles:
            known = ", ".join(sorted(map(shown, profiles))) or "none defined"
            raise ConfigurationError(
                f"profile {shown(profile)} is not in {config.path} secrets.profiles ({known}); "
                f"define it there or change {envvars.PROFILE}"
            )
        section = _deep_merge(
            section, _as_dict(profiles[profile], f"profile {shown(profile)}", config.path)
        )
    sources = _as_dict(section.get("sources", {}), "secrets.sources", config.path)
    for name, options in sources.items():
        _as_dict(options, f"secrets.sources.{shown(name)}", config.path)
    cache = _as_dict(section.get("cache", {}), "secrets.cache", config.path)
    return ChainSettings(
        config_path=config.path,
        chain=_chain(environ.get(envvars.CHAIN), section.get("chain"), sources, config.path),
        sources=sources,
        cache_ttl=_seconds(environ, envvars.CACHE_TTL, cache, "ttl", 300.0),
        negative_ttl=_seconds(environ, envvars.NEGATIVE_TTL, cache, "negative_ttl", 30.0),
        max_stale=_seconds(environ, envvars.MAX_STALE, cache, "max_stale", 900.0),
        insecure_files=_insecure_policy(environ, section),
        profile=profile,
        resilience=checked_options(
            _as_dict(section.get("resilience", {}), "secrets.resilience", config.path),
            _RESILIENCE,
            f"{config.path} secrets.resilience",
        ),
        audit=_audit_settings(environ, section, config.path),
    )


_AUDIT = {
    "journal": str,
    "signing_key": str,
    "checkpoint_every": int,
    "fsync": str,
    "max_bytes": int,
    "failure_mode": str,
    "pseudonymize": bool,
}


def _audit_settings(
    environ: Mapping[str, str], section: Mapping[str, Any], path: Path
) -> dict[str, Any]:
    options = checked_options(
        _as_dict(section.get("audit", {}), "secrets.audit", path),
        _AUDIT,
        f"{path} secrets.audit",
    )
    if environ.get(envvars.AUDIT_JOURNAL):
        options["journal"] = environ[envvars.AUDIT_JOURNAL]
    if environ.get(envvars.AUDIT_FAILURE_MODE):
        options["failure_mode"] = environ[envvars.AUDIT_FAILURE_MODE]
    return options


def build_secrets_manager(
    settings: ChainSettings | None = None, *, telemetry: Telemetry | None = None
) -> SecretsManager:
    """Build a ``SecretsManager``: kept here for old imports; see :mod:`.assembly`."""
    # Imported on call: the assembly sits above this module and imports it.
    from .assembly import build_secrets_manager as build

    return build(settings, telemetry=telemetry)


_RESILIENCE = {
    "attempts": int,
    "timeout": float,
    "deadline": float,
    "workers": int,
    "failure_threshold": int,
    "reset_timeout": float,
}


def _chain(
    from_env: str | None,
    from_file: object,
    sources: Mapping[str, object],
    path: Path,
) -> tuple[str, ...]:
    if from_env:
        names = [name.strip() for name in from_env.split(",") if name.strip()]
        where = envvars.CHAIN
    elif from_file is not None:
        if not isinstance(from_file, list) or not all(isinstance(n, str) for n in from_file):
            raise ConfigurationError(f"{path} secrets.chain must be a list of source names")
        names, where = list(from_file), f"{path} secrets.chain"
    else:
        return ("env", *managed_sources(sources), "config")
    unknown = [shown(name) for name in names if find_source(name) is None]
    if unknown or not names:
        raise ConfigurationError(
            f"{where} names unknown sources [{', '.join(unknown) or '(none given)'}]; "
            f"known: {', '.join(source_names())}"
        )
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{where} names a source twice: {names}")
    return tuple(names)


def _seconds(
    environ: Mapping[str, str], variable: str, cache: Mapping[str, Any], key: str, default: float
) -> float:
    raw: object = environ.get(variable)
    where = variable
    if raw is None:
        raw, where = cache.get(key, default), f"secrets.cache.{key}"
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        # OverflowError: an integer past a float's range, read as too large below.
        value = math.inf if isinstance(raw, int) else math.nan
    if math.isnan(value) and not isinstance(raw, float):
        raise ConfigurationError(f"{where}={shown(raw)} is not a number of seconds")
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{where}={shown(raw)} must be a finite number, 0 or more seconds")
    return value


def _check_settings_file(path: Path, environ: Mapping[str, str]) -> None:
    """Refuse ``secrets`` settings that someone else could have written.

    They decide where credentials go (a Vault address, an AWS endpoint): a file that group or
    others can write, or one in a folder they can write (without the sticky bit), lets them
    send the token to a server of their choosing. Only the environment can relax this: the
    file's own ``insecure_files`` would be the attacker's word.
    """
    file_mode = stat.S_IMODE(path.stat().st_mode)
    folder_mode = path.parent.stat().st_mode
    writable = []
    if file_mode & 0o022:
        writable.append(f"the file (mode {file_mode:04o}; fix: chmod go-w {path})")
    if folder_mode & 0o022 and not folder_mode & stat.S_ISVTX:
        folder = path.parent
        writable.append(
            f"its folder (mode {stat.S_IMODE(folder_mode):04o}; fix: chmod go-w {folder})"
        )
    if not writable:
        return
    message = (
        f"{path} holds secrets settings, which decide where credentials are sent, and group "
        f"or others can write {' and '.join(writable)}"
    )
    raw = environ.get(envvars.INSECURE_FILES, "").strip().lower()
    if raw == InsecureFilePolicy.WARN.value:
        warnings.warn(message, InsecureFileWarning, stacklevel=3)
        return
    raise ConfigurationError(f"{message}; or set {envvars.INSECURE_FILES}=warn to use it anyway")


def _insecure_policy(environ: Mapping[str, str], section: Mapping[str, Any]) -> InsecureFilePolicy:
    raw = environ.get(envvars.INSECURE_FILES) or section.get("insecure_files", "refuse")
    # Looked up, not tried: the enum's ValueError would repeat the value as __context__.
    policies = {policy.value: policy for policy in InsecureFilePolicy}
    policy = policies.get(str(raw).lower())
    if policy is None:
        raise ConfigurationError(
            f"insecure_files={shown(raw)} is not a policy; use 'refuse' or 'warn'"
        )
    return policy


def _as_dict(value: object, where: str, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{path} {where} must be a JSON object")
    return value


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
