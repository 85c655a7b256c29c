"""Probe one source of the chain: build it from the settings, then run its checks.

Each source has its probe (:func:`_probes`, a literal table; a plugin's source gets
:func:`generic`): Vault, AWS and Azure check their
server (reachability, TLS, the server itself, authentication) before reading; the
environment and the config file only read. Every probe ends by reading each provider's key
as the resolver would (:func:`read_keys`): the values read are checked by the resolver's
rule, taught to the redaction policy, and never shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import (
    ConfigurationError,
    ErrorCategory,
    InvalidSourceError,
    MissingDependencyError,
    SecretsError,
    SourceError,
)
from . import _checks as checks
from . import _console as console
from ._checks import Check, Problem, Status

if TYPE_CHECKING:
    from ..settings import ChainSettings
    from ..sources.base import SecretProvider

PROBLEM_OF: dict[ErrorCategory, Problem] = {
    ErrorCategory.FORBIDDEN: Problem.DENIED,
    ErrorCategory.UNAUTHENTICATED: Problem.DENIED,
    ErrorCategory.INVALID: Problem.CONFIGURATION,
    ErrorCategory.UNAVAILABLE: Problem.FAILED,
    ErrorCategory.TIMEOUT: Problem.FAILED,
    ErrorCategory.THROTTLED: Problem.FAILED,
}
"""What each failure category of a source means for doctor's exit code."""

_DOWN = {ErrorCategory.UNAVAILABLE, ErrorCategory.TIMEOUT, ErrorCategory.THROTTLED}


@dataclass(frozen=True)
class ProbeContext:
    """What every probe reads: the settings, the providers to read, the time allowed."""

    settings: ChainSettings
    providers: tuple[str, ...]
    timeout: float

    def where(self, source: str) -> str:
        """Return where a source's settings live: ``<config file> secrets.sources.<name>``."""
        return f"{self.settings.config_path} secrets.sources.{source}"

    def configured(self, source: str, option: str) -> bool:
        """Return whether the settings give ``option`` for ``source`` (else a default or
        the environment applies)."""
        return option in self.settings.sources.get(source, {})


@dataclass
class SourceReport:
    """One source's checks, in the order they ran."""

    source: str
    target: str | None = None
    checks: list[Check] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """Return the report as ``--json`` shows it."""
        return {
            "source": self.source,
            "target": self.target,
            "checks": [check.as_dict() for check in self.checks],
        }


Probe = Callable[["SecretProvider", ProbeContext, SourceReport], None]
"""A source's checks: appended to the report, ending with :func:`read_keys`."""


def probe(name: str, context: ProbeContext) -> SourceReport:
    """Build the source ``name`` from the settings and run its probe."""
    from ..source_factories import build_source

    report = SourceReport(name)
    problem: Check | None = None
    try:
        source = build_source(name, context.settings)
    except MissingDependencyError as exc:
        problem = checks.failure(
            "settings",
            str(exc),
            f"run: pip install 'abstractcore-secrets[{exc.extra}]'",
            Problem.CONFIGURATION,
        )
    except (ConfigurationError, InvalidSourceError) as exc:
        problem = checks.failure("settings", str(exc), _settings_fix(name), Problem.CONFIGURATION)
    except Exception as exc:  # noqa: BLE001 - an SDK refusing a setting (botocore's ValueError)
        # Only the type: the SDK's message may quote anything it was given.
        problem = checks.failure(
            "settings",
            f"the settings cannot build the source ({type(exc).__name__})",
            _settings_fix(name),
            Problem.CONFIGURATION,
        )
    if problem is not None:
        report.checks.append(problem)
        return report
    with source:
        report.checks.append(checks.ok("settings", _built_from(name, context)))
        try:
            _probes().get(name, generic)(source, context, report)
        finally:
            # A server may quote the credential it was sent (a Location host, an error
            # code): the policy masks it, as the resolver's learner does for status and get.
            _learn_credentials(source)
    return report


def _learn_credentials(source: SecretProvider) -> None:
    try:
        credentials = source.credentials()
    except Exception:  # noqa: BLE001 - AWS may refresh over the network here; never fatal
        return
    console.learn(*credentials)


def _settings_fix(name: str) -> str:
    from ..source_factories import MANAGED_SOURCES

    if name in MANAGED_SOURCES:
        return (
            f"configure it again: abstractcore-secrets --set-secrets-provider {name} ... "
            "('abstractcore-secrets --help' lists the flags), or correct "
            f"secrets.sources.{name} in the config file"
        )
    return f"correct the settings of the source {name!r} in the config file"


def _built_from(name: str, context: ProbeContext) -> str:
    from ..source_factories import find_source

    spec = find_source(name)
    if spec is not None and spec.options is None:
        return "nothing to configure"
    if name in context.settings.sources:
        return f"from {context.where(name)}"
    return "defaults, and the environment's variables"


def _probes() -> dict[str, Probe]:
    from . import _probe_cloud, _probe_local, _probe_vault

    return {
        "env": _probe_local.probe_environment,
        "vault": _probe_vault.probe_vault,
        "aws": _probe_cloud.probe_aws,
        "azure": _probe_cloud.probe_azure,
        "config": _probe_local.probe_config_file,
    }


def generic(source: SecretProvider, context: ProbeContext, report: SourceReport) -> None:
    """Probe a source this package does not know (a plugin's): its server, then reads."""
    from . import _net

    address = source.endpoint()
    if address is not None:
        host, port = address
        endpoint = _net.Endpoint("https" if port == 443 else "http", host, port)
        report.target = str(endpoint)
        reached = _net.reach(endpoint, context.timeout, "check the source's address")
        report.checks.append(reached)
        if reached.status is Status.FAIL:
            report.checks += checks.skipped(["read"], "the server cannot be reached")
            return
    report.checks += read_keys(source, context, expect_keys=False)


FixFor = Callable[[SourceError], "str | None"]


def read_keys(
    source: SecretProvider,
    context: ProbeContext,
    *,
    expect_keys: bool,
    fix_for: FixFor | None = None,
) -> list[Check]:
    """Read each provider's key from ``source`` as the resolver would; show none of them.

    A value found is checked by the resolver's rule (no whitespace or control
    characters, at most 8 KiB); one that fails is a configuration problem, as the
    resolver would refuse it. Reading stops at the first outage or timeout: the
    providers left are skipped. With ``expect_keys`` (a managed source), finding no key at
    all is a warning: the secret's path or names are probably not the ones written to.

    Returns:
        One ``read`` check summing up what was read, then one per kind of failure.
    """
    outcomes: dict[str, str] = {}
    failures: dict[ErrorCategory, tuple[list[str], str, str | None]] = {}
    durations: list[float] = []
    for index, provider in enumerate(context.providers):
        category, message, error, took = _read_one(source, provider, context.timeout)
        if took is not None:
            durations.append(took)
        outcomes[provider] = (
            "found"
            if category is None and message is None
            else ("not_found" if category is None else category.value)
        )
        if category is None:
            continue
        fix = (fix_for(error) if fix_for is not None and error is not None else None) or (
            _generic_fix(category)
        )
        failures.setdefault(category, ([], message or "", fix))[0].append(provider)
        if category in _DOWN:
            for rest in context.providers[index + 1 :]:
                outcomes[rest] = "skipped"
            break
    summary = _summary(
        source,
        outcomes,
        durations if expect_keys else [],
        warn_if_none=expect_keys and not failures,
    )
    return [*([] if summary is None else [summary]), *_failed(failures)]


def _read_one(  # noqa: PLR0911 - one return per kind of answer reads best
    source: SecretProvider, provider: str, timeout: float
) -> tuple[ErrorCategory | None, str | None, SourceError | None, float | None]:
    """Return (category, message, error, seconds): all ``None`` but seconds when found;
    category ``None`` with a message when not found."""
    from ..sources._values import checked_value

    try:
        record, took = checks.bounded(timeout, lambda: source.fetch(provider))
    except checks.TimedOut:
        return ErrorCategory.TIMEOUT, f"no answer within {timeout:g} s", None, None
    except SourceError as exc:
        if exc.category is ErrorCategory.NOT_FOUND:
            return None, "not here", None, None
        return exc.category, str(exc), exc, None
    except SecretsError as exc:  # a setting only a read shows (Key Vault's secret names)
        return ErrorCategory.INVALID, str(exc), None, None
    except Exception as exc:  # noqa: BLE001 - a plugin's bug; only its type is named
        return (
            ErrorCategory.UNAVAILABLE,
            f"the source raised {type(exc).__name__}; sources must raise a SourceError",
            None,
            None,
        )
    if record is None:
        return None, "not here", None, took
    console.learn(record.secret.reveal())
    try:
        checked_value(record.secret.reveal(), source=source.name, locator=record.locator)
    except InvalidSourceError as exc:
        # Without its traceback: the check's frames hold the value.
        return exc.category, str(exc), exc.with_traceback(None), took
    return None, None, None, took


def _summary(
    source: SecretProvider, outcomes: dict[str, str], durations: list[float], *, warn_if_none: bool
) -> Check | None:
    """Return what was read, or ``None`` when every read failed (the failures tell it all).

    ``durations``: the reads' times, to show their mean (a remote source's latency).
    """
    found = [p for p, outcome in outcomes.items() if outcome == "found"]
    missing = [p for p, outcome in outcomes.items() if outcome == "not_found"]
    if outcomes and not found and not missing:
        return None
    parts = []
    if found:
        parts.append(f"{_names(found)} readable")
    if missing:
        parts.append(f"{len(missing)} not stored here")
    skipped = sum(outcome == "skipped" for outcome in outcomes.values())
    if skipped:
        parts.append(f"{skipped} not read")
    per_read = sum(durations) / len(durations) if durations else None
    detail = "; ".join(parts) or "no provider to read"
    if per_read is not None:
        detail += f" ({checks.milliseconds(per_read)} a read)"
    if warn_if_none and missing and not found:
        return Check(
            "read",
            Status.WARN,
            f"{detail}: no key at all, e.g. none at {source.locator(missing[0])}",
            "store the keys there, or correct where this source looks (its path or names)",
            providers=outcomes,
        )
    return Check("read", Status.OK, detail, providers=outcomes)


def _failed(failures: dict[ErrorCategory, tuple[list[str], str, str | None]]) -> list[Check]:
    return [
        Check(
            "read",
            Status.FAIL,
            f"{category.value} for {_names(providers)}: {message}",
            fix,
            PROBLEM_OF[category],
            providers=dict.fromkeys(providers, category.value),
        )
        for category, (providers, message, fix) in failures.items()
    ]


def _names(providers: list[str], shown: int = 5) -> str:
    if len(providers) <= shown:
        return ", ".join(providers)
    return f"{', '.join(providers[:shown])} and {len(providers) - shown} more"


def _generic_fix(category: ErrorCategory) -> str:
    return {
        ErrorCategory.FORBIDDEN: "grant the identity read access to these secrets",
        ErrorCategory.UNAUTHENTICATED: "give the source valid credentials",
        ErrorCategory.INVALID: "correct the stored value or the source's settings",
        ErrorCategory.UNAVAILABLE: "check that the server is up and reachable",
        ErrorCategory.TIMEOUT: "check the network path to the server, and its load",
        ErrorCategory.THROTTLED: "ask for a higher quota, or cache longer",
    }.get(category, "see the message")
