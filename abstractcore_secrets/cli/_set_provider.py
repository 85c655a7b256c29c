"""``--set-secrets-provider``: the original proposal's way to configure a managed source."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SecretsError
from ..source_factories import MANAGED_SOURCES
from . import _console as console

PROVIDERS = MANAGED_SOURCES
"""The managed sources this command configures, as their specs declare them."""
STDIN = "-"
"""The value of ``--vault-token`` that means: read the token from stdin or a prompt."""


@dataclass(frozen=True)
class ProviderFlags:
    """The proposal's flags for ``--set-secrets-provider``."""

    vault_addr: str | None = None
    vault_token: str | None = None
    vault_path: str | None = None
    aws_region: str | None = None
    vault_url: str | None = None


def configure(provider: str, flags: ProviderFlags) -> None:
    """Write ``secrets.sources.<provider>`` into the config file (0600)."""
    from .._config_file import SECRETS, ConfigFile

    options = _options(provider, flags)
    try:
        config = ConfigFile()
        document = config.load()
        section = document.setdefault(SECRETS, {})
        section.setdefault("sources", {})[provider] = options
        config.write(document)
    except SecretsError as error:
        console.fail_for(error)
    where = options.get("addr") or options.get("vault_url") or options.get("region")
    console.say(f"configured {provider} ({where}) in {config.path}")


def _options(provider: str, flags: ProviderFlags) -> dict[str, object]:
    from ._keys import read_secret_input

    if provider == "aws":
        return {"region": flags.aws_region} if flags.aws_region else {}
    if provider == "azure":
        if not flags.vault_url:
            console.fail("--set-secrets-provider azure needs --vault-url", console.Exit.USAGE)
        return {"vault_url": flags.vault_url}
    if provider != "vault":
        return {}  # a managed source without flags of its own: its defaults
    if flags.vault_token not in (None, STDIN):
        console.fail(
            "refusing a token typed on the command line (ps and shell history keep it); "
            "use '--vault-token -' and give it on stdin or at the prompt, or set VAULT_TOKEN "
            "where the application runs",
            console.Exit.USAGE,
        )
    if not flags.vault_addr:
        console.fail("--set-secrets-provider vault needs --vault-addr", console.Exit.USAGE)
    options: dict[str, object] = {"addr": flags.vault_addr}
    if flags.vault_path:
        options["path"] = flags.vault_path
    if flags.vault_token == STDIN:
        options["token"] = read_secret_input("Vault token")
    return options
