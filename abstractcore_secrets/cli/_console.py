"""All CLI printing, ``--json`` output and exit codes, in one voice.

Nothing printed here ever holds a secret value: rows carry sources, locators and
fingerprints. Only ``get --reveal`` prints a value, through :func:`reveal`.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import click

from .._resolution import Resolution
from ..errors import SecretsError


class Exit(enum.IntEnum):
    """Exit codes; scripts can rely on them."""

    OK = 0
    NOT_FOUND = 1
    USAGE = 2
    CONFIGURATION = 3
    DENIED = 4
    FAILED = 5
    INTERNAL = 70  # EX_SOFTWARE: a bug of ours, never confused with "not found"


def resolution_row(resolution: Resolution) -> dict[str, Any]:
    """Return what the CLI shows of a resolution: provenance, never the value."""
    return {
        "provider": resolution.provider,
        "outcome": resolution.outcome.value,
        "source": resolution.source,
        "locator": resolution.locator,
        "version": resolution.version,
        "fingerprint": resolution.fingerprint,
        "cache_hit": resolution.cache_hit,
        "stale": resolution.stale,
        "degraded": resolution.degraded,
        "attempts": [
            {
                "source": a.source,
                "outcome": a.outcome.value,
                "error_type": a.error_type,
                "locator": a.locator,
            }
            for a in resolution.attempts
        ],
        "error": None if resolution.error is None else str(resolution.error),
    }


def warn_if_standing_in(resolution: Resolution) -> None:
    """Warn on standard error when a key was served while a source was down."""
    reasons = ", ".join(resolution.degraded_reasons) or "sources failed"
    if resolution.stale:
        warn(
            f"{resolution.provider}: {resolution.source} answer served stale from the cache "
            f"({reasons})"
        )
    elif resolution.degraded:
        warn(f"{resolution.provider}: degraded, answered by {resolution.source} ({reasons})")


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON."""
    click.echo(json.dumps(data, indent=2, default=str))


def print_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> None:
    """Print ``rows`` as an aligned plain-text table of ``columns``."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def say(message: str) -> None:
    """Print a line of prose to standard output."""
    click.echo(message)


def warn(message: str) -> None:
    """Print a warning to standard error; the command goes on."""
    click.echo(f"warning: {message}", err=True)


def fail(message: str, code: Exit) -> NoReturn:
    """Print an error to standard error and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(int(code))


def usage_error(error: click.ClickException, message: str) -> NoReturn:
    """Print a usage error as click does, with ``message`` in place of click's, and exit 2.

    ``message`` comes from :func:`.usage.describe`, which echoes no token that could be a key;
    the usage line and the help hint name only the commands that were found.
    """
    context = error.ctx if isinstance(error, click.UsageError) else None
    if context is not None:
        click.echo(context.get_usage(), err=True)
        help_names = context.command.get_help_option_names(context)
        if help_names:
            click.echo(
                f"Try '{context.command_path} {max(help_names, key=len)}' for help.", err=True
            )
        click.echo("", err=True)
    click.echo(f"Error: {message}", err=True)
    sys.exit(int(Exit.USAGE))


def fail_for(error: SecretsError) -> NoReturn:
    """Exit with the code that fits ``error``'s kind.

    Configuration (3): bad settings, or a key file that is corrupt, insecure or unusable,
    whether met while loading settings or during a resolution.
    """
    from ..errors import ConfigurationError, InvalidSourceError, ResolutionDeniedError

    if isinstance(error, ResolutionDeniedError):
        fail(str(error), Exit.DENIED)
    if isinstance(error, (ConfigurationError, InvalidSourceError)) or isinstance(
        error.__cause__, InvalidSourceError
    ):
        fail(str(error), Exit.CONFIGURATION)
    fail(str(error), Exit.FAILED)


def exit_code_for(resolutions: Sequence[Resolution]) -> Exit:
    """Return the exit code for a set of resolutions: the worst outcome wins."""
    outcomes = {r.outcome.value for r in resolutions}
    for outcome, code in (
        ("denied", Exit.DENIED),
        ("error", Exit.FAILED),
        ("not_found", Exit.NOT_FOUND),
    ):
        if outcome in outcomes:
            return code
    return Exit.OK


def reveal(value: str) -> None:
    """Print a secret value: only for ``--reveal``, the one sanctioned way."""
    click.echo(value)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith("hmac-sha256:"):
        return value[len("hmac-sha256:") :][:12]
    return str(value)
