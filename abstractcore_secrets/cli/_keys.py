"""``get`` and ``set-key``: one provider's key, read or stored."""

from __future__ import annotations

import os

import click

from ..errors import SecretsError
from . import _console as console
from ._providers import hint_unknown, provider_argument, suggestion

GET_EXIT_CODES = """\b
Exit codes:
  0  found (also when a lower source answered because a higher one failed:
     the answer is marked degraded, and the failure told)
  1  not found     3  configuration error     4  denied     5  failed"""

SET_KEY_EXIT_CODES = """\b
Exit codes:
  0  stored
  2  nothing stored: PROVIDER looks like a typo of a known provider, or the key
     given is empty, not UTF-8, or one no source would serve
  3  the PROVIDER argument is shaped like a key, or the config file cannot be used"""


@click.command("get", epilog=GET_EXIT_CODES)
@click.argument("provider")
@click.option("--reveal", is_flag=True, help="Print the key itself (for scripts); never logged.")
@click.option("--json", "as_json", is_flag=True, help="Print the provenance as JSON.")
def get_command(provider: str, reveal: bool, as_json: bool) -> None:
    """Resolve PROVIDER's key and show where it came from (the value only with --reveal).

    Each source that failed on the way is named with its reason; an answer from a lower
    source while a higher one failed is marked degraded.
    """
    from ..assembly import build_secrets_manager

    name = provider_argument(provider)
    try:
        resolution = build_secrets_manager().resolve(name)
    except SecretsError as error:
        console.fail_for(error)
    if reveal:
        # Standard output holds the key or nothing, so that KEY=$(...) never captures a table.
        if resolution.value is not None:
            console.reveal(resolution.value.reveal())
        elif resolution.error is None:
            hint_unknown(name)
            console.fail(f"no key found for {resolution.provider}", console.Exit.NOT_FOUND)
    elif as_json:
        console.print_json(console.resolution_row(resolution))
    else:
        console.print_table(
            [console.resolution_row(resolution)],
            ("provider", "outcome", "source", "locator", "version", "fingerprint", "note"),
        )
        console.say_reasons([resolution])
    console.warn_if_standing_in(resolution, reasons=reveal or as_json)
    if resolution.outcome.value == "not_found":
        hint_unknown(name)
    if resolution.error is not None and not resolution.found:
        console.fail_for(resolution.error)
    raise SystemExit(int(console.exit_code_for([resolution])))


@click.command("set-key", epilog=SET_KEY_EXIT_CODES)
@click.argument("provider")
@click.option(
    "--custom-provider",
    is_flag=True,
    help="Store the key under PROVIDER although it is close to a known provider's name.",
)
def set_key_command(provider: str, custom_provider: bool) -> None:
    """Store PROVIDER's key in the config file (0600), read from stdin or a hidden prompt.

    The key is never taken as an argument: it would show in ps and shell history. It is
    checked as the resolver checks keys (one line, no spaces or control characters, at
    most 8 KiB) before anything is written. A name close to a known provider's (opneai)
    is refused with a suggestion; a variable that would shadow the stored key is named.
    """
    from .._config_file import ConfigFile
    from .._fingerprint import Fingerprinter
    from .._secret import Secret
    from ._secret_input import read_secret

    name = provider_argument(provider)
    likely = suggestion(name)
    if likely is not None and not custom_provider:
        console.fail(
            f"'{name}' is not a known provider; did you mean '{likely}'? Run: "
            f"abstractcore-secrets set-key {likely}. To store a key under '{name}' anyway, "
            "add --custom-provider. Nothing was stored",
            console.Exit.USAGE,
        )
    secret = Secret(read_secret(f"{name} key"))
    try:
        config = ConfigFile()
        config.write_api_key(name, secret)
        fingerprint = Fingerprinter().fingerprint(secret)
    except SecretsError as error:
        console.fail_for(error)
    console.say(f"stored {name} key in {config.path} (fingerprint {fingerprint[12:24]})")
    _warn_if_shadowed(name)


def _warn_if_shadowed(name: str) -> None:
    """Name what would be read before the config file: a variable, or a chain without it."""
    from ..llm_providers import KNOWN_ENV_VARS, env_var_names
    from ..settings import load_settings

    if name not in KNOWN_ENV_VARS and suggestion(name) is None:
        console.note(
            f"'{name}' is not one of the known providers; its variable is {env_var_names(name)[0]}"
        )
    for variable in env_var_names(name):
        for set_as in (variable, f"{variable}_FILE"):
            if os.environ.get(set_as):
                console.warn(
                    f"{set_as} is set in this environment and is read before the config "
                    f"file: while it is set, {name} resolves to it, not to the key just "
                    f"stored (unset {set_as} to use the stored key)"
                )
    try:
        chain = load_settings().chain
    except SecretsError:
        return  # the settings' own problem is told by status and doctor
    if "config" not in chain:
        console.warn(
            f"the chain ({' > '.join(chain)}) does not read the config file: the key just "
            "stored is not used until 'config' is added to secrets.chain "
            "(or ABSTRACTCORE_SECRETS_CHAIN)"
        )
