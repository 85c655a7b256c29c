"""``--set-secrets-provider``: the original proposal's way to configure a managed source."""

from __future__ import annotations

from ..errors import SecretsError
from . import console

PROVIDERS = ("vault",)
STDIN = "-"
"""The value of ``--vault-token`` that means: read the token from stdin or a prompt."""


def configure(
    provider: str,
    *,
    vault_addr: str | None,
    vault_token: str | None,
    vault_path: str | None,
) -> None:
    """Write ``secrets.sources.<provider>`` into the config file (0600)."""
    from ..config_file import SECRETS, ConfigFile
    from .keys import read_secret_input

    if vault_token not in (None, STDIN):
        console.fail(
            "refusing a token typed on the command line (ps and shell history keep it); "
            "use '--vault-token -' and give it on stdin or at the prompt, or set VAULT_TOKEN "
            "where the application runs",
            console.Exit.USAGE,
        )
    if not vault_addr:
        console.fail("--set-secrets-provider vault needs --vault-addr", console.Exit.USAGE)
    options: dict[str, object] = {"addr": vault_addr}
    if vault_path:
        options["path"] = vault_path
    if vault_token == STDIN:
        options["token"] = read_secret_input("Vault token")
    try:
        config = ConfigFile()
        document = config.load()
        section = document.setdefault(SECRETS, {})
        section.setdefault("sources", {})[provider] = options
        config.write(document)
    except SecretsError as error:
        console.fail_for(error)
    console.say(f"configured {provider} at {vault_addr} in {config.path}")
