"""``doctor``: check every source of the chain, say what is wrong and how to fix it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ..errors import SecretsError
from . import _checks as checks
from . import _console as console
from ._checks import Check, Status
from ._probe import ProbeContext, SourceReport, probe
from ._providers import provider_argument

if TYPE_CHECKING:
    from ..settings import ChainSettings

DEFAULT_TIMEOUT = 10.0

EXIT_CODES = """\b
Exit codes:
  0  every check passed (warnings allowed)
  3  a configuration problem: settings, a missing extra, TLS trust, an answer
     that is not the source's, a stored key the resolver would refuse
  4  a source refused: authentication or permission
  5  a source failed: unreachable, down, or too slow
When several apply, the first of 3, 4, 5."""


@click.command("doctor", epilog=EXIT_CODES)
@click.argument("providers", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=300),
    metavar="SECONDS",
    callback=lambda _context, _parameter, value: _finite(value),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds each check may take: a server that does not answer fails it.",
)
def doctor_command(providers: tuple[str, ...], as_json: bool, timeout: float) -> None:
    """Check each source of the chain and every provider's key, and say how to fix problems.

    For each source: its settings, whether its server is reachable, TLS, the server's
    state, the login (the token's time left and renewal), then permission to read each
    provider's key (all known providers, or PROVIDERS), with each read's latency. Keys are
    read as the resolver reads them and never shown. The environment checked is the one
    doctor runs in.
    """
    from ..llm_providers import KNOWN_ENV_VARS
    from ..redaction import default_policy
    from ..redaction._processors import install_logging_redaction
    from ..settings import load_settings

    install_logging_redaction(default_policy())
    names = tuple(dict.fromkeys(provider_argument(p) for p in providers)) or tuple(KNOWN_ENV_VARS)
    try:
        settings = load_settings()
    except SecretsError as error:
        report = SourceReport("settings")
        report.checks.append(
            checks.failure(
                "load",
                str(error),
                "correct the config file (or move it aside), or the "
                "ABSTRACTCORE_SECRETS_* variable named",
                checks.Problem(console.exit_code_of(error)),
            )
        )
        _render([report], as_json, None)
        raise SystemExit(int(console.exit_code_of(error))) from None
    context = ProbeContext(settings, names, timeout)
    reports = [probe(name, context) for name in settings.chain]
    _render(reports, as_json, settings)
    raise SystemExit(int(checks.exit_code(c for r in reports for c in r.checks)))


def _finite(seconds: float) -> float:
    # FloatRange lets nan through: every comparison with it is false.
    if not math.isfinite(seconds):
        raise click.BadParameter("must be a number of seconds from 0.1 to 300")
    return seconds


def _render(reports: Sequence[SourceReport], as_json: bool, settings: ChainSettings | None) -> None:
    """Print the reports, under the settings they were made with (none: they did not load)."""
    every = [check for report in reports for check in report.checks]
    code = checks.exit_code(every)
    if as_json:
        header: dict[str, object] = {}
        if settings is not None:
            header = {
                "config_file": str(settings.config_path),
                "profile": settings.profile,
                "chain": list(settings.chain),
            }
        console.print_json(
            {
                **header,
                "sources": [report.as_dict() for report in reports],
                "problems": sum(c.status is Status.FAIL for c in every),
                "warnings": sum(c.status is Status.WARN for c in every),
                "exit_code": int(code),
            }
        )
        return
    if settings is not None:
        console.say(f"config:  {settings.config_path}")
        console.say(f"profile: {settings.profile or '-'}")
        console.say(f"chain:   {' > '.join(('explicit', *settings.chain))}")
        console.say("")
    say_reports(reports)
    console.say("")
    console.say(summary(every))


def say_reports(reports: Sequence[SourceReport]) -> None:
    """Print each source's checks, aligned, with the fix under each warning or failure."""
    width = max((len(c.name) for r in reports for c in r.checks), default=4)
    hanging = " " * (2 + 4 + 2 + width + 2)  # under the detail
    for report in reports:
        target = f"  ({console.one_line(report.target)})" if report.target else ""
        console.say(report.source + target)
        for check in report.checks:
            detail = console.one_line(check.detail)
            console.say_wrapped(
                f"  {check.status.value:<4}  {check.name:<{width}}  {detail}", hanging
            )
            if check.fix and check.status in (Status.FAIL, Status.WARN):
                fix = console.one_line(check.fix)
                console.say_wrapped(f"{hanging}fix: {fix}", hanging + "     ")


def summary(every: Sequence[Check]) -> str:
    """Return the closing line: how many problems and warnings, and the exit code."""
    problems = sum(c.status is Status.FAIL for c in every)
    warnings = sum(c.status is Status.WARN for c in every)
    if not problems and not warnings:
        return "doctor: every check passed"
    said = [_count(problems, "problem"), _count(warnings, "warning")]
    return f"doctor: {' and '.join(s for s in said if s)} (exit {int(checks.exit_code(every))})"


def _count(number: int, noun: str) -> str:
    if not number:
        return ""
    return f"{number} {noun}{'s' if number > 1 else ''}"
