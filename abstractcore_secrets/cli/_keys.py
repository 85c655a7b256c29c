"""``get`` and ``set-key``: one provider's key, read or stored."""

from __future__ import annotations

import sys

import click

from ..errors import SecretsError
from . import _console as console


@click.command("get")
@click.argument("provider")
@click.option("--reveal", is_flag=True, help="Print the key itself (for scripts); never logged.")
@click.option("--json", "as_json", is_flag=True, help="Print the provenance as JSON.")
def get_command(provider: str, reveal: bool, as_json: bool) -> None:
    """Resolve PROVIDER's key and show where it came from (the value only with --reveal).

    Exit codes: 0 found, 1 not found, 3 configuration error, 4 denied, 5 failed.
    """
    from ..assembly import build_secrets_manager

    try:
        resolution = build_secrets_manager().resolve(provider)
    except SecretsError as error:
        console.fail_for(error)
    if reveal:
        # Standard output holds the key or nothing, so that KEY=$(...) never captures a table.
        if resolution.value is not None:
            console.reveal(resolution.value.reveal())
        elif resolution.error is None:
            console.fail(f"no key found for {resolution.provider}", console.Exit.NOT_FOUND)
    elif as_json:
        console.print_json(console.resolution_row(resolution))
    else:
        console.print_table(
            [console.resolution_row(resolution)],
            ("provider", "outcome", "source", "locator", "version", "fingerprint"),
        )
    console.warn_if_standing_in(resolution)
    if resolution.error is not None and not resolution.found:
        console.fail_for(resolution.error)
    raise SystemExit(int(console.exit_code_for([resolution])))


@click.command("set-key")
@click.argument("provider")
def set_key_command(provider: str) -> None:
    """Store PROVIDER's key in the config file (0600), read from stdin or a hidden prompt.

    The key is never taken as an argument: it would show in ps and shell history.
    """
    from .._config_file import ConfigFile
    from .._fingerprint import Fingerprinter
    from .._secret import Secret
    from ..llm_providers import validate_provider

    try:
        name = validate_provider(provider)
        secret = Secret(read_secret_input(f"{name} API key"))
        config = ConfigFile()
        config.write_api_key(name, secret)
        fingerprint = Fingerprinter().fingerprint(secret)
    except SecretsError as error:
        console.fail_for(error)
    except ValueError as error:  # an empty key
        console.fail(f"{error}; nothing was written", console.Exit.USAGE)
    console.say(f"stored {name} key in {config.path} (fingerprint {fingerprint[12:24]})")


def read_secret_input(label: str) -> str:
    """Read one secret from a hidden prompt on a terminal, or the first line of stdin."""
    if sys.stdin.isatty():
        return str(click.prompt(label, hide_input=True, confirmation_prompt=True)).strip()
    return sys.stdin.readline().rstrip("\r\n")
