"""``status``: where each provider's key comes from."""

from __future__ import annotations

import click

from ..errors import SecretsError
from ..llm_providers import KNOWN_ENV_VARS
from . import _console as console


@click.command("status")
@click.argument("providers", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status_command(providers: tuple[str, ...], as_json: bool) -> None:
    """Show the chain and, per provider, which source answers and from where.

    Values are never shown: a fingerprint identifies each key. Exit code 0 when every
    listed provider resolved; with no PROVIDERS, all known ones are listed and exit 0.
    """
    from ..assembly import build_secrets_manager
    from ..settings import load_settings

    try:
        settings = load_settings()
        manager = build_secrets_manager(settings)
        names = providers or tuple(KNOWN_ENV_VARS)
        resolutions = [manager.resolve(name) for name in names]
    except SecretsError as error:
        console.fail_for(error)
    rows = [console.resolution_row(r) for r in resolutions]
    if as_json:
        console.print_json(
            {
                "profile": settings.profile,
                "chain": list(settings.chain),
                "config_file": str(settings.config_path),
                "providers": rows,
            }
        )
    else:
        console.say(f"chain:   {' > '.join(('explicit', *settings.chain))}")
        console.say(f"profile: {settings.profile or '-'}")
        console.say(f"config:  {settings.config_path}")
        console.say("")
        console.print_table(rows, ("provider", "outcome", "source", "locator", "fingerprint"))
    for resolution in resolutions:
        console.warn_if_standing_in(resolution)
    if providers:
        raise SystemExit(int(console.exit_code_for(resolutions)))
