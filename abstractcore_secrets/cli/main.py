"""Entry point: the command group and the original proposal's top-level flags."""

from __future__ import annotations

import sys

import click

from .._version import __version__
from ..errors import SecretsError
from . import _audit as audit
from . import _console as console
from . import _demo as demo
from . import _keys as keys
from . import _set_provider as set_provider
from . import _status as status
from . import _usage as usage


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
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
    help="Configure a managed secrets source in the config file.",
)
@click.option("--vault-addr", help="Vault or OpenBao address, e.g. https://vault.example.com:8200.")
@click.option(
    "--vault-token",
    is_flag=False,
    flag_value="-",
    default=None,
    help="Read the Vault token from stdin or a hidden prompt ('-' or no value); "
    "a token typed on the command line is refused.",
)
@click.option("--vault-path", default=None, help="KV path, e.g. secret/data/abstractcore.")
@click.option("--aws-region", default=None, help="AWS region of Secrets Manager.")
@click.option(
    "--vault-url", default=None, help="Azure Key Vault URL, e.g. https://myvault.vault.azure.net."
)
@click.pass_context
def cli(
    context: click.Context,
    show_status: bool,
    secrets_provider: str | None,
    vault_addr: str | None,
    vault_token: str | None,
    vault_path: str | None,
    aws_region: str | None,
    vault_url: str | None,
) -> None:
    """Resolve LLM providers' API keys through a chain of secret sources."""
    if context.invoked_subcommand is not None:
        return
    if secrets_provider is not None:
        flags = set_provider.ProviderFlags(
            vault_addr, vault_token, vault_path, aws_region, vault_url
        )
        set_provider.configure(secrets_provider, flags)
    elif show_status:
        context.invoke(status.status_command)
    else:
        click.echo(context.get_help())


cli.add_command(status.status_command)
cli.add_command(keys.get_command)
cli.add_command(keys.set_key_command)
cli.add_command(demo.demo_command)
cli.add_command(audit.audit_group)


def main() -> None:
    """Run the CLI; an unexpected error exits 70 with its type, never with a traceback."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        console.fail("aborted", console.Exit.USAGE)
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
