"""Entry point: the command group and the original proposal's top-level flags."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from .._version import __version__
from ..errors import SecretsError
from . import _audit as audit
from . import _console as console
from . import _demo as demo
from . import _doctor as doctor
from . import _keys as keys
from . import _set_provider as set_provider
from . import _status as status
from . import _usage as usage
from ._source_flags import FLAGS

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = """\b
Exit codes (each command's --help gives its own):
  0  success          3  configuration error    5  a source failed
  1  not found        4  denied                70  internal error (a bug:
  2  usage error                                   please report it)"""


def _source_flags(command: F) -> F:
    """Add each ``--set-secrets-provider`` flag, in :data:`FLAGS`' order."""
    for flag in reversed(FLAGS):
        extra: dict[str, Any] = {"metavar": flag.metavar}
        if flag.kind == "stdin":
            extra["is_flag"], extra["flag_value"] = False, "-"
        elif flag.kind == "choice":
            extra = {"type": click.Choice(flag.choices)}  # --help lists the choices
        command = click.option(flag.flag, flag.dest, default=None, help=flag.help, **extra)(command)
    return command


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_CODES,
)
@click.version_option(__version__, prog_name="abstractcore-secrets")
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Show where each provider's key comes from (same as 'status').",
)
@click.option(
    "--set-secrets-provider",
    "secrets_provider",
    type=click.Choice(set_provider.PROVIDERS),
    help="Configure a managed secrets source in the config file, with the flags below.",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="With --set-secrets-provider: save without checking the source works first.",
)
@_source_flags
@click.pass_context
def cli(
    context: click.Context,
    /,
    show_status: bool,
    secrets_provider: str | None,
    no_verify: bool,
    **flags: str | None,
) -> None:
    """Resolve LLM providers' API keys through a chain of secret sources."""
    given = {name: value for name, value in flags.items() if value is not None}
    set_provider.check_flags(secrets_provider, given)
    if no_verify and secrets_provider is None:
        _usage_error("--no-verify goes with --set-secrets-provider")
    if secrets_provider is not None and (show_status or context.invoked_subcommand):
        _usage_error(
            "--set-secrets-provider is a command of its own: run it, then the other command",
        )
    if context.invoked_subcommand is not None:
        if show_status:
            _usage_error("--status is a command of its own: run it without another")
        return
    if secrets_provider is not None:
        set_provider.configure(secrets_provider, given, verify=not no_verify)
    elif show_status:
        context.invoke(status.status_command)
    else:
        click.echo(context.get_help())


def _usage_error(message: str) -> NoReturn:
    # Not click's UsageError: its messages are rebuilt when the command line holds a token
    # that could be a key (see _usage); these quote none.
    console.fail(message, console.Exit.USAGE)


cli.add_command(status.status_command)
cli.add_command(keys.get_command)
cli.add_command(keys.set_key_command)
cli.add_command(doctor.doctor_command)
cli.add_command(demo.demo_command)
cli.add_command(audit.audit_group)


def main() -> None:
    """Run the CLI; an unexpected error exits 70 with its type, never with a traceback."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        console.fail("aborted", console.Exit.USAGE)
    except BrokenPipeError:
        # The reader of standard output left (| head): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except click.ClickException as error:
        # Click's own message would quote a key typed where a command or value belongs.
        console.usage_error(error, usage.describe(error, sys.argv[1:], cli))
    except SecretsError as error:
        console.fail_for(error)
    except Exception as error:  # noqa: BLE001 - the last line of defence, see the docstring
        # Only the type: an unexpected exception's text may hold anything.
        console.fail(
            f"internal error ({type(error).__name__}); please report it", console.Exit.INTERNAL
        )
