"""``status``: where each provider's key comes from, and why a source failed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..errors import SecretsError

if TYPE_CHECKING:
    from .._resolution import Resolution
from ..llm_providers import KNOWN_ENV_VARS
from . import _console as console
from ._providers import provider_argument

EXIT_CODES = """\b
Exit codes, with PROVIDERS or --strict (without them, 0 whatever the outcomes):
  0  every provider listed resolved, and with --strict no source failed
  1  a provider listed has no key
  3  configuration error
  4  a source denied a key
  5  a source failed (with --strict: even when a lower source answered)"""


@click.command("status", epilog=EXIT_CODES)
@click.argument("providers", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--strict",
    is_flag=True,
    help="Exit non-zero when any source failed, even if a lower one answered.",
)
def status_command(providers: tuple[str, ...], as_json: bool, strict: bool) -> None:
    """Show the chain and, per provider, which source answers and from where.

    Values are never shown: a fingerprint identifies each key. Each source that failed is
    named with its reason, and an answer given while a higher source failed is marked
    degraded (or stale, when served from the cache).
    """
    from ..assembly import build_secrets_manager
    from ..settings import load_settings

    names = tuple(dict.fromkeys(provider_argument(p) for p in providers))
    try:
        settings = load_settings()
        manager = build_secrets_manager(settings)
        resolutions = [manager.resolve(name) for name in names or tuple(KNOWN_ENV_VARS)]
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
        console.print_table(
            rows, ("provider", "outcome", "source", "locator", "fingerprint", "note")
        )
        console.say_reasons(resolutions)
    for resolution in resolutions:
        console.warn_if_standing_in(resolution, reasons=as_json)
    if names:
        raise SystemExit(int(console.exit_code_for(resolutions, strict=strict)))
    if strict:
        failed = [r for r in resolutions if r.outcome.value in ("denied", "error")]
        raise SystemExit(
            int(console.exit_code_for(failed + _standing_in(resolutions), strict=True))
        )


def _standing_in(resolutions: list[Resolution]) -> list[Resolution]:
    return [r for r in resolutions if r.stale or r.degraded]
