"""Chain settings: the config file's ``secrets`` section, profiles, and environment.

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
        "audit": {"journal": "~/.abstractcore/audit/journal.jsonl", "sinks": ["log"],
                  "hits": "summary", "summary_window": 60},
        "telemetry": {"hits": "event"},
        "profiles": {"dev": {"chain": ["env", "config"]}}
      }
    }

Every section with fixed options (``cache``, ``resilience``, ``audit``, ``telemetry``) is a frozen
dataclass read by one function, :func:`read_section`: its options and their types are the
dataclass's fields, an option's environment variable and its check are the field's
metadata. The sources' options come from each source's constructor (``sources.spec``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import inspect
import math
import os
import re
import stat
import typing
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from . import envvars
from ._config_file import SECRETS, ConfigFile
from ._files import InsecureFilePolicy, InsecureFileWarning
from .audit import DEFAULT_SINKS, BatchingSinkProcessor, find_sink
from .audit._sink_registry import unknown_sink_message
from .errors import ConfigurationError
from .llm_providers import looks_like_key
from .resilience import Resilience, RetryPolicy
from .source_factories import checked_options, find_source, managed_sources, shown, source_names
from .sources.spec import nearest

__all__ = [
    "AuditSettings",
    "CacheSettings",
    "ChainSettings",
    "ResilienceSettings",
    "TelemetrySettings",
    "load_settings",
    "read_section",
]

Check = Callable[[Any], "str | None"]
"""Returns what is wrong with an option's value (completing ``option=value ...``), or None."""


def _option(default: object, *, env: str | None = None, check: Check | None = None) -> Any:  # noqa: ANN401 - a dataclass field
    """A section's option: its default, the variable that overrides it, and its check."""
    return field(default=default, metadata={"env": env, "check": check})


def _seconds(value: float) -> str | None:
    return (
        None
        if math.isfinite(value) and value >= 0
        else "must be a finite number, 0 or more seconds"
    )


def _positive_seconds(value: float) -> str | None:
    return (
        None if math.isfinite(value) and value > 0 else "must be a finite number of seconds above 0"
    )


def _at_least_one(value: int) -> str | None:
    return None if value >= 1 else "must be a whole number of 1 or more"


def _one_of(*choices: str) -> Check:
    def check(value: str) -> str | None:
        return None if value in choices else f"must be one of {', '.join(map(repr, choices))}"

    return check


def _sink_names(value: tuple[str, ...]) -> str | None:
    if len(set(value)) != len(value):
        return "names a sink twice (each would receive every event twice)"
    for name in value:
        if not isinstance(name, str) or find_sink(name) is None:
            return unknown_sink_message(name).replace("secrets.audit.sinks names ", "names ")
    return None


def _default_of(cls: type, parameter: str) -> Any:  # noqa: ANN401 - whatever the default is
    """The default of ``cls``'s constructor parameter: read there, so never a copy of it."""
    return inspect.signature(cls).parameters[parameter].default


@dataclass(frozen=True)
class CacheSettings:
    """``secrets.cache``: seconds values, misses and stale values are kept (``ttl`` 0: off)."""

    ttl: float = _option(300.0, env=envvars.CACHE_TTL, check=_seconds)
    negative_ttl: float = _option(30.0, env=envvars.NEGATIVE_TTL, check=_seconds)
    max_stale: float = _option(900.0, env=envvars.MAX_STALE, check=_seconds)


@dataclass(frozen=True)
class ResilienceSettings:
    """``secrets.resilience``: retries, deadlines and circuit breakers (defaults: theirs)."""

    attempts: int = _option(RetryPolicy.attempts, check=_at_least_one)
    timeout: float = _option(RetryPolicy.timeout, check=_positive_seconds)
    deadline: float = _option(_default_of(Resilience, "deadline"), check=_positive_seconds)
    workers: int = _option(_default_of(Resilience, "workers"), check=_at_least_one)
    failure_threshold: int = _option(
        _default_of(Resilience, "failure_threshold"), check=_at_least_one
    )
    reset_timeout: float = _option(_default_of(Resilience, "reset_timeout"), check=_seconds)


@dataclass(frozen=True)
class AuditSettings:
    """``secrets.audit``: the journal, the other sinks, and what a failure to record does.

    ``fsync`` unset means ``always`` in ``block`` mode (a durable record before a key is
    served), else ``batch``.
    """

    journal: str | None = _option(None, env=envvars.AUDIT_JOURNAL)
    signing_key: str | None = None
    checkpoint_every: int = _option(1000, check=_at_least_one)
    fsync: str | None = _option(None, check=_one_of("always", "batch"))
    max_bytes: int | None = _option(None, check=_at_least_one)
    failure_mode: str = _option(
        "warn", env=envvars.AUDIT_FAILURE_MODE, check=_one_of("warn", "block")
    )
    pseudonymize: bool = False
    sinks: tuple[str, ...] = _option(DEFAULT_SINKS, check=_sink_names)
    queue_size: int = _option(
        _default_of(BatchingSinkProcessor, "max_queue_size"),
        env=envvars.AUDIT_QUEUE_SIZE,
        check=_at_least_one,
    )
    batch_size: int = _option(
        _default_of(BatchingSinkProcessor, "max_batch_size"), check=_at_least_one
    )
    schedule_delay: float = _option(
        _default_of(BatchingSinkProcessor, "schedule_delay"), check=_seconds
    )
    hits: str | None = _option(None, env=envvars.AUDIT_HITS, check=_one_of("every", "summary"))
    summary_window: float = _option(60.0, env=envvars.AUDIT_SUMMARY_WINDOW, check=_positive_seconds)

    @property
    def hits_mode(self) -> str:
        """``hits``, or its default: ``every`` in ``block`` mode, else ``summary``."""
        if self.hits is not None:
            return self.hits
        return "every" if self.failure_mode == "block" else "summary"


@dataclass(frozen=True)
class TelemetrySettings:
    """``secrets.telemetry``: what a cache hit adds to traces.

    ``hits``: ``event`` (default) adds an event to the caller's span when it is recording,
    and no span; ``span`` makes a ``secrets.resolve`` span of every hit.
    """

    hits: str = _option("event", env=envvars.TELEMETRY_HITS, check=_one_of("event", "span"))


@dataclass(frozen=True)
class ChainSettings:
    """Everything needed to build a ``SecretsManager``; see the module docstring."""

    config_path: Path
    chain: tuple[str, ...]
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cache: CacheSettings = field(default_factory=CacheSettings)
    insecure_files: InsecureFilePolicy = InsecureFilePolicy.REFUSE
    profile: str | None = None
    resilience: ResilienceSettings = field(default_factory=ResilienceSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)

    @property
    def cache_ttl(self) -> float:
        """``cache.ttl``, under its older name."""
        return self.cache.ttl

    @property
    def negative_ttl(self) -> float:
        """``cache.negative_ttl``, under its older name."""
        return self.cache.negative_ttl

    @property
    def max_stale(self) -> float:
        """``cache.max_stale``, under its older name."""
        return self.cache.max_stale


Section = TypeVar("Section")


def read_section(
    kind: type[Section], raw: object, where: str, environ: Mapping[str, str]
) -> Section:
    """Read one settings section into ``kind``, a dataclass of :func:`_option` fields.

    The file's options are checked by name and type (a key pasted in the wrong place is not
    repeated), then the environment's overrides are applied, then each option's check.

    Raises:
        ConfigurationError: Naming the option, where it was set, and what it must be.
    """
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where} must be a JSON object")
    fields = {item.name: item for item in dataclasses.fields(kind)}  # type: ignore[arg-type]
    schema = _schema(kind)
    # null, where an option may be unset: a profile switching off what the base section set.
    unset = {name for name, value in raw.items() if value is None and name in _optional(kind)}
    written = {
        # A number written as text ("300"), as the file always allowed.
        name: _parsed(value, schema[name], f"{where}.{name}")
        if schema.get(name) in (int, float) and isinstance(value, str)
        else value
        for name, value in raw.items()
        if name not in unset
    }
    options = checked_options(written, schema, where)
    options.update(dict.fromkeys(unset))
    origin = {name: f"{where}.{name}" for name in options}
    for name, item in fields.items():
        variable: str | None = item.metadata.get("env")
        text = environ.get(variable, "").strip() if variable else ""
        if variable and text:  # a blank variable counts as unset
            options[name] = _parsed(text, schema[name], variable)
            origin[name] = variable
    for name in options:
        if schema[name] is list and options[name] is not None:
            if not all(isinstance(item, str) for item in options[name]):
                raise ConfigurationError(f"{origin[name]} must be a list of names")
            options[name] = tuple(options[name])
        check = fields[name].metadata.get("check")
        problem = check(options[name]) if check is not None and options[name] is not None else None
        if problem is not None:
            setting = (
                origin[name] if schema[name] is list else f"{origin[name]}={shown(options[name])}"
            )
            raise ConfigurationError(f"{setting} {problem}")
    return kind(**options)


def _optional(kind: type) -> set[str]:
    """The fields of ``kind`` that may be ``None``."""
    return {
        name
        for name, hint in typing.get_type_hints(kind).items()
        if type(None) in typing.get_args(hint)
    }


def _schema(kind: type) -> dict[str, type]:
    """Each field of ``kind`` with the JSON type it takes: ``None`` left out of a union, a
    tuple read from a JSON array."""
    schema: dict[str, type] = {}
    for name, hint in typing.get_type_hints(kind).items():
        if typing.get_origin(hint) is tuple:
            schema[name] = list
            continue
        kinds = [k for k in typing.get_args(hint) if k is not type(None)]
        schema[name] = kinds[0] if len(kinds) == 1 else hint
    return schema


def _parsed(text: str, kind: type, where: str) -> object:
    """Read ``text`` (a variable's, or a number written as text) as ``kind``, or raise naming
    ``where`` and describing the text (it could be a key)."""
    text = text.strip()
    if kind is str:
        return text
    value: object = None
    # Raised below, outside the handler: the error's context would hold the text.
    with contextlib.suppress(TypeError, ValueError, OverflowError):
        value = float(text) if kind is float else kind(text)
    if value is None:
        expected = {int: "whole number", float: "number"}.get(kind, kind.__name__)
        raise ConfigurationError(f"{where}={shown(text)} is not a {expected}")
    return value


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
    _check_variables(environ)
    config = ConfigFile(config_path)
    path = config.path
    section = _as_dict(config.section(SECRETS), "secrets", path)
    if section:
        _check_settings_file(path, environ)
    profile = environ.get(envvars.PROFILE) or section.get("profile")
    if profile is not None:
        if not isinstance(profile, str):
            raise ConfigurationError(f"{path} secrets.profile must be a profile name")
        profiles = _as_dict(section.get("profiles", {}), "secrets.profiles", path)
        if profile not in profiles:
            known = ", ".join(sorted(map(shown, profiles))) or "none defined"
            raise ConfigurationError(
                f"profile {shown(profile)} is not in {path} secrets.profiles ({known}); "
                f"define it there or change {envvars.PROFILE}"
            )
        section = _deep_merge(
            section, _as_dict(profiles[profile], f"profile {shown(profile)}", path)
        )
    sources = _as_dict(section.get("sources", {}), "secrets.sources", path)
    for name, options in sources.items():
        _as_dict(options, f"secrets.sources.{shown(name)}", path)
    _check_profiles(_as_dict(config.section(SECRETS), "secrets", path), path)

    def section_of(kind: type[Section], name: str) -> Section:
        return read_section(kind, section.get(name, {}), f"{path} secrets.{name}", environ)

    return ChainSettings(
        config_path=path,
        chain=_chain(environ.get(envvars.CHAIN), section.get("chain"), sources, path),
        sources=sources,
        cache=section_of(CacheSettings, "cache"),
        insecure_files=_insecure_policy(environ, section),
        profile=profile,
        resilience=section_of(ResilienceSettings, "resilience"),
        audit=section_of(AuditSettings, "audit"),
        telemetry=section_of(TelemetrySettings, "telemetry"),
    )


SECTION_SETTINGS = (
    "chain",
    "sources",
    "cache",
    "insecure_files",
    "resilience",
    "audit",
    "telemetry",
    "profile",
    "profiles",
)
"""What the ``secrets`` section may set; a profile, the same but ``profile`` and ``profiles``."""

_SECTIONS: dict[str, type[Any]] = {
    "cache": CacheSettings,
    "resilience": ResilienceSettings,
    "audit": AuditSettings,
    "telemetry": TelemetrySettings,
}


def _check_profiles(raw: object, path: Path) -> None:
    """Refuse a typo anywhere in the ``secrets`` section, whichever profile is active.

    The base section, and each profile as if it were active (merged over the base, without
    the environment's overrides): unknown settings, unknown sources, sources' unknown or
    mistyped options, and the fixed sections' options. A profile used once a month must not
    fail only on that day, nor a source outside the chain be configured in vain.
    """
    section = _as_dict(raw, "secrets", path)
    _check_names(section, SECTION_SETTINGS, f"{path} secrets")
    # null: no profiles; any other value that is no object fails as load_settings would.
    profiles = section.get("profiles")
    profiles = _as_dict({} if profiles is None else profiles, "secrets.profiles", path)
    merged_profiles: dict[str | None, dict[str, Any]] = {None: section}
    for name, raw_profile in profiles.items():
        where = f"{path} secrets.profiles.{shown(name)}"
        profile = _as_dict(raw_profile, f"secrets.profiles.{shown(name)}", path)
        _check_names(profile, SECTION_SETTINGS[:-2], where)
        merged_profiles[name] = _deep_merge(section, profile)
    for profile_name, merged in merged_profiles.items():
        try:
            _check_merged(merged, path)
        except ConfigurationError as error:
            if profile_name is None:
                raise
            # Raised anew, without its cause: the message is all the caller needs.
            raise ConfigurationError(f"{error} (in profile {shown(profile_name)})") from None


def _check_merged(merged: Mapping[str, Any], path: Path) -> None:
    """Check a section (the base one, or a profile merged over it) as if it were active."""
    where = f"{path} secrets"
    sources = _as_dict(merged.get("sources", {}), "secrets.sources", path)
    _check_sources(sources, where, path)
    if merged.get("chain") is not None:
        _chain(None, merged["chain"], sources, path)
    if "insecure_files" in merged:
        _insecure_policy({}, merged)
    for key, kind in _SECTIONS.items():
        if key in merged:
            read_section(kind, merged[key], f"{where}.{key}", {})


def _check_sources(sources: object, where: str, path: Path) -> None:
    """Every configured source exists, and its options are its own (in the chain or not)."""
    for name, options in _as_dict(sources, "secrets.sources", path).items():
        spec = find_source(name) if isinstance(name, str) else None
        if spec is None:
            raise ConfigurationError(
                f"{where}.sources names an unknown source {shown(name)}"
                f"{nearest([name], source_names())}; known: {', '.join(source_names())}"
            )
        if spec.options is not None:
            checked = checked_options(
                _as_dict(options, f"secrets.sources.{name}", path),
                spec.options,
                f"{where}.sources.{name}",
            )
            if spec.check is not None:
                spec.check(checked, f"{where}.sources.{name}")


def _check_variables(environ: Mapping[str, str]) -> None:
    """Refuse an ``ABSTRACTCORE_SECRETS_*`` variable we do not read: a typo that would
    otherwise leave a setting silently at its default."""
    known = envvars.ours()
    unknown = sorted(
        name for name in environ if name.startswith(envvars.PREFIX) and name not in known
    )
    if unknown:
        # Each named (a key pasted into a name is described instead), with its likely fix.
        listed = ", ".join(_shown_variable(name, known) for name in unknown)
        raise ConfigurationError(
            f"the environment sets {listed}, which this version does not read; unset "
            f"{'it' if len(unknown) == 1 else 'them'} or correct the name (known: "
            f"{', '.join(known)})"
        )


_VARIABLE_SUFFIX = re.compile(r"[A-Z0-9_]{0,40}")


def _shown_variable(name: str, known: tuple[str, ...]) -> str:
    """Return a variable's name as a message may show it, with the known one it is likely a
    typo of: whole when what follows the prefix reads as a name, else only its length (it
    may be a key pasted as a name)."""
    suffix = name[len(envvars.PREFIX) :]
    if not _VARIABLE_SUFFIX.fullmatch(suffix) or looks_like_key(suffix):
        return f"a variable of {len(name)} characters (not shown: its name could be a key)"
    # Compared without the prefix, which every one shares and would make all look close.
    by_suffix = {variable[len(envvars.PREFIX) :]: variable for variable in known}
    close = difflib.get_close_matches(suffix, list(by_suffix), n=1)
    return name + (f" (did you mean {by_suffix[close[0]]!r}?)" if close else "")


def _check_names(section: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    unknown = sorted((name for name in section if name not in known), key=str)
    if unknown:
        raise ConfigurationError(
            f"{where} has unknown settings [{', '.join(map(shown, unknown))}]"
            f"{nearest(unknown, known)}; known: {', '.join(known)}"
        )


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
    unknown = [name for name in names if find_source(name) is None]
    if unknown or not names:
        raise ConfigurationError(
            f"{where} names unknown sources [{', '.join(map(shown, unknown)) or '(none given)'}]"
            f"{nearest(unknown, source_names())}; known: {', '.join(source_names())}"
        )
    if len(set(names)) != len(names):
        raise ConfigurationError(f"{where} names a source twice: {names}")
    return tuple(names)


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
