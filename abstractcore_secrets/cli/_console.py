"""All CLI printing, ``--json`` output and exit codes, in one voice.

Nothing printed here ever holds a secret value: rows carry sources, locators, fingerprints
and the sources' own error messages, which name no value. As a second line of defence,
every text goes through the redaction policy on its way out (the values this process
resolved or was given, and known key formats). Only ``get --reveal`` prints a value,
through :func:`reveal`.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ..errors import SecretsError

if TYPE_CHECKING:
    from .._resolution import Attempt, Resolution


class Exit(enum.IntEnum):
    """Exit codes; scripts can rely on them (docs/cli.md lists them per command)."""

    OK = 0
    NOT_FOUND = 1
    USAGE = 2
    CONFIGURATION = 3
    DENIED = 4
    FAILED = 5
    INTERNAL = 70  # EX_SOFTWARE: a bug of ours, never confused with "not found"


def scrubbed(text: str) -> str:
    """Return ``text`` as it may leave the process: learnt values and key formats masked.

    A file name that is not UTF-8 reaches Python as surrogates, which no terminal can
    print: they are shown as U+FFFD instead of failing the command.
    """
    from ..redaction import default_policy

    return default_policy().scrub_text(_printable(text))


def _printable(text: str) -> str:
    try:
        # A byte the file system gave (surrogateescape) back to a byte, then U+FFFD.
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # any other lone surrogate
        raw = text.encode("utf-8", "surrogatepass")
    # What a server, a file or a file name holds reaches the terminal as text only: an
    # escape sequence could retitle the window, clear the screen or forge a line.
    return _UNPRINTABLE.sub(_escaped, raw.decode("utf-8", "replace"))


# C0 controls but tab and newline, DEL, C1 controls, and the marks that reorder text.
_UNPRINTABLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """Return ``text`` (a source's message, a server's answer) as one line: its line
    breaks shown as ``\\n``, so that it cannot pass for lines of the CLI's own."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def learn(*values: str | None) -> None:
    """Teach the redaction policy values this command holds (a token read from stdin, ...)."""
    from ..redaction import default_policy

    default_policy().add(*values)


def failure_reasons(attempts: Iterable[Attempt]) -> list[dict[str, str | None]]:
    """Return each failed attempt as ``source``, ``error_type`` and the source's message."""
    return [
        {
            "source": attempt.source,
            "error_type": attempt.error_type,
            "message": None if attempt.error is None else str(attempt.error),
        }
        for attempt in attempts
        if attempt.category is not None
    ]


def mark(resolution: Resolution) -> str | None:
    """Return ``stale`` or ``degraded`` when a failed source stood behind the answer."""
    if resolution.stale:
        return "stale"
    if resolution.degraded:
        return "degraded"
    return None


def resolution_row(resolution: Resolution) -> dict[str, Any]:
    """Return what the CLI shows of a resolution: provenance and reasons, never the value."""
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
        "note": mark(resolution),
        "attempts": [
            {
                "source": a.source,
                "outcome": a.outcome.value,
                "error_type": a.error_type,
                "locator": a.locator,
                "error": None if a.category is None or a.error is None else str(a.error),
            }
            for a in resolution.attempts
        ],
        "reasons": failure_reasons(resolution.attempts),
        "error": None if resolution.error is None else str(resolution.error),
    }


def say_reasons(resolutions: Sequence[Resolution]) -> None:
    """Print, under a table, why each source that failed did: grouped by source and kind.

    A source that is down fails alike for every provider: one line names it, the
    providers it failed for, and its message for the first of them.
    """
    groups: dict[tuple[str, str | None], tuple[list[str], str]] = {}
    for resolution in resolutions:
        for reason in failure_reasons(resolution.attempts):
            key = (str(reason["source"]), reason["error_type"])
            providers, _ = groups.setdefault(key, ([], reason["message"] or "no message"))
            providers.append(resolution.provider)
    if not groups:
        return
    say("")
    say("failures:")
    for (source, error_type), (providers, message) in groups.items():
        say_wrapped(
            f"  {source} {error_type} for {_listed(providers)}: {one_line(message)}", "    "
        )
    say("  run 'abstractcore-secrets doctor' to check each source and how to fix it")


def warn_if_standing_in(resolution: Resolution, *, reasons: bool = True) -> None:
    """Warn on standard error when a key was served while a source was down.

    With ``reasons``, each failed source's message follows (when no table on standard
    output has told them already).
    """
    failed = ", ".join(resolution.degraded_reasons) or "sources failed"
    if resolution.stale:
        warn(
            f"{resolution.provider}: {resolution.source} answer served stale from the cache "
            f"({failed})"
        )
    elif resolution.degraded:
        warn(f"{resolution.provider}: degraded, answered by {resolution.source} ({failed})")
    else:
        return
    for reason in failure_reasons(resolution.attempts) if reasons else ():
        click.echo(scrubbed(f"  {reason['source']}: {one_line(str(reason['message']))}"), err=True)


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON, every text and number in it scrubbed first.

    Leaf by leaf, not the JSON text: a learnt value that happens to match JSON syntax (a
    quote, a brace) would otherwise be masked across it, and the output would not parse.
    """
    _out(json.dumps(_scrubbed_leaves(data), indent=2, default=str))


def _scrubbed_leaves(data: object) -> object:
    if isinstance(data, Mapping):
        return {_scrubbed_leaves(str(key)): _scrubbed_leaves(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_scrubbed_leaves(item) for item in data]
    if isinstance(data, str):
        return scrubbed(data)
    if data is None or isinstance(data, bool):
        return data
    if isinstance(data, (int, float)):
        # A number whose digits are a learnt value is masked as the value would be.
        return data if scrubbed(str(data)) == str(data) else scrubbed(str(data))
    return scrubbed(str(data))  # what json.dumps would have written with default=str


def width() -> int | None:
    """Return the columns human output is fitted to, or ``None`` to keep lines whole.

    ``COLUMNS`` when set, else the terminal's width when standard output is one. Piped
    or redirected output is kept whole, for the tools that read it.
    """
    columns = os.environ.get("COLUMNS", "").strip()
    # ASCII digits only, and few of them: "²" is a digit to isdigit() and not to int(),
    # and int() refuses more than 4300 digits.
    usable = columns.isascii() and columns.isdigit() and len(columns) <= 6
    if usable and int(columns) >= _NARROWEST:
        return int(columns)
    try:
        terminal = sys.stdout.isatty()
    except (AttributeError, ValueError):
        terminal = False
    return max(shutil.get_terminal_size().columns, _NARROWEST) if terminal else None


_NARROWEST = 40
_NARROWEST_CELL = 16


def print_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> None:
    """Print ``rows`` as an aligned plain-text table of ``columns``.

    Fitted to :func:`width`: the widest columns lose the middle of their longest cells
    (a locator keeps its end, which names the key), marked with ``…``.
    """
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    limit = width()
    if limit is not None:
        widths = _fitted(widths, limit)
    say("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        say("  ".join(_elided(v, w).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def say_wrapped(text: str, indent: str = "") -> None:
    """Print prose, wrapped to :func:`width` with later lines indented by ``indent``."""
    limit = width()
    if limit is None:
        say(text)
        return
    say(
        textwrap.fill(
            text,
            width=limit,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
    )


def _fitted(widths: list[int], limit: int) -> list[int]:
    widths = list(widths)
    excess = sum(widths) + 2 * (len(widths) - 1) - limit
    while excess > 0:
        widest = max(range(len(widths)), key=widths.__getitem__)
        cut = min(excess, widths[widest] - _NARROWEST_CELL)
        if cut <= 0:
            break
        widths[widest] -= cut
        excess -= cut
    return widths


def _elided(value: str, room: int) -> str:
    if len(value) <= room:
        return value
    head = room // 3
    return value[:head] + "…" + value[len(value) - (room - head - 1) :]


def say(message: str) -> None:
    """Print a line of prose to standard output."""
    _out(scrubbed(message))


def _out(text: str) -> None:
    """Write ``text`` to standard output; an output that fails (a full disk) exits 2."""
    try:
        click.echo(text)
    except BrokenPipeError:
        raise  # the reader left (| head): main() ends quietly
    except OSError as error:
        # What is still buffered would fail again at exit, with a traceback of Python's.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        fail(
            f"cannot write to standard output: {error.strerror or type(error).__name__}",
            Exit.USAGE,
        )


def warn(message: str) -> None:
    """Print a warning to standard error; the command goes on."""
    click.echo(scrubbed(f"warning: {message}"), err=True)


def note(message: str) -> None:
    """Print a remark to standard error; nothing is wrong."""
    click.echo(scrubbed(f"note: {message}"), err=True)


def fail(message: str, code: Exit) -> NoReturn:
    """Print an error to standard error and exit with ``code``."""
    click.echo(scrubbed(f"error: {message}"), err=True)
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
    click.echo(scrubbed(f"Error: {message}"), err=True)
    sys.exit(int(Exit.USAGE))


def exit_code_of(error: SecretsError) -> Exit:
    """Return the exit code that fits ``error``'s kind.

    Configuration (3): bad settings, or a key file that is corrupt, insecure or unusable,
    whether met while loading settings or during a resolution. Denied (4): a source or
    the audit refused. Failed (5): anything else.
    """
    from ..errors import ConfigurationError, InvalidSourceError, ResolutionDeniedError

    if isinstance(error, ResolutionDeniedError):
        return Exit.DENIED
    if isinstance(error, (ConfigurationError, InvalidSourceError)) or isinstance(
        error.__cause__, InvalidSourceError
    ):
        return Exit.CONFIGURATION
    return Exit.FAILED


def fail_for(error: SecretsError) -> NoReturn:
    """Print ``error`` and exit with the code that fits its kind (:func:`exit_code_of`).

    A configuration error's message is the library's; ``doctor`` tells the fix in the
    CLI's terms, so a note points there.
    """
    from ..errors import ConfigurationError

    code = exit_code_of(error)
    if isinstance(error, ConfigurationError):
        click.echo(scrubbed(f"error: {one_line(str(error))}"), err=True)
        note("'abstractcore-secrets doctor' checks each source and says how to fix it")
        sys.exit(int(code))
    fail(one_line(str(error)), code)


def exit_code_for(resolutions: Sequence[Resolution], *, strict: bool = False) -> Exit:
    """Return the exit code for a set of resolutions: the worst outcome wins.

    With ``strict``, a key served while a source failed (stale or degraded) fails too.
    """
    outcomes = {r.outcome.value for r in resolutions}
    if strict and any(r.stale or r.degraded for r in resolutions):
        outcomes.add("error")
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
    _out(value)


def _listed(names: Sequence[str], shown: int = 4) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith("hmac-sha256:"):
        return value[len("hmac-sha256:") :][:12]
    return one_line(str(value))
