"""The flags of ``--set-secrets-provider``: one row per flag, the source and option it sets.

The proposal's flags (``--vault-addr``, ``--vault-token``, ``--vault-path``,
``--aws-region``, ``--vault-url``) come first; the others cover every setting a source
needs to be reached (``--aws-endpoint-url``, ``--vault-cacert``, a namespace, a login
method). Each row says how its value is checked, so that a typo is refused before
anything is written, in the flag's own terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import _net
from ._usage import shown_value

TOKEN_FROM_STDIN = "-"  # noqa: S105 - a flag's value meaning "read stdin", not a token
"""The value of ``--vault-token`` that means: read the token from stdin or a prompt."""

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


@dataclass(frozen=True)
class SourceFlag:
    """One flag: the source it configures, the option it sets, how its value is checked.

    Attributes:
        flag: The flag, e.g. ``--vault-addr``.
        source: The source it configures (``vault``, ``aws``, ``azure``).
        option: The option of ``secrets.sources.<source>`` it sets; ``auth.<name>`` for
            one of Vault's login options.
        help: What ``--help`` says.
        kind: How the value is checked: ``url``, ``https``, ``text``, ``template``,
            ``file``, ``region``, ``choice`` or ``stdin``.
        choices: For ``choice``: the values allowed.
        metavar: How ``--help`` names the value.
    """

    flag: str
    source: str
    option: str
    help: str
    kind: str = "text"
    choices: tuple[str, ...] = ()
    metavar: str = "TEXT"

    @property
    def dest(self) -> str:
        """The Python name click gives the flag's value."""
        return self.flag.lstrip("-").replace("-", "_")


FLAGS: tuple[SourceFlag, ...] = (
    SourceFlag(
        "--vault-addr",
        "vault",
        "addr",
        "vault: address, e.g. https://vault.example.com:8200.",
        "url",
        metavar="URL",
    ),
    SourceFlag(
        "--vault-token",
        "vault",
        "token",
        "vault: read the token from stdin or a hidden prompt ('-' or no value); a token "
        "typed on the command line is refused.",
        "stdin",
        metavar="-",
    ),
    SourceFlag(
        "--vault-path",
        "vault",
        "path",
        "vault: KV path, e.g. secret/data/abstractcore; with {provider} in it, one secret "
        "per provider.",
        metavar="PATH",
    ),
    SourceFlag("--aws-region", "aws", "region", "aws: region, e.g. us-east-1.", "region"),
    SourceFlag(
        "--vault-url",
        "azure",
        "vault_url",
        "azure: Key Vault URL, e.g. https://myvault.vault.azure.net.",
        "https",
        metavar="URL",
    ),
    SourceFlag(
        "--vault-token-file",
        "vault",
        "token_file",
        "vault: a file holding the token, read again when the token stops working (Vault Agent).",
        "file",
        metavar="FILE",
    ),
    SourceFlag(
        "--vault-cacert",
        "vault",
        "verify",
        "vault: the CA bundle (PEM) that signs Vault's certificate.",
        "file",
        metavar="FILE",
    ),
    SourceFlag(
        "--vault-namespace", "vault", "namespace", "vault: Vault Enterprise or OpenBao namespace."
    ),
    SourceFlag(
        "--vault-kv-version",
        "vault",
        "kv_version",
        "vault: version of the KV secrets engine (default 2).",
        "choice",
        ("1", "2"),
    ),
    SourceFlag(
        "--vault-mount",
        "vault",
        "mount_point",
        "vault: the KV mount, when --vault-path does not start with it.",
    ),
    SourceFlag(
        "--vault-field",
        "vault",
        "field",
        "vault: the field holding the key (default: the provider's name; api_key with "
        "{provider} in the path).",
    ),
    SourceFlag(
        "--vault-auth",
        "vault",
        "auth.method",
        "vault: log in with approle, jwt or kubernetes instead of a token.",
        "choice",
        ("approle", "jwt", "kubernetes", "token"),
    ),
    SourceFlag("--vault-role", "vault", "auth.role", "vault: the role, for jwt or kubernetes."),
    SourceFlag(
        "--vault-role-id-file",
        "vault",
        "auth.role_id_file",
        "vault: a file holding the AppRole role id.",
        "file",
        metavar="FILE",
    ),
    SourceFlag(
        "--vault-secret-id-file",
        "vault",
        "auth.secret_id_file",
        "vault: a file holding the AppRole secret id (mode 0600).",
        "file",
        metavar="FILE",
    ),
    SourceFlag(
        "--vault-jwt-file",
        "vault",
        "auth.jwt_file",
        "vault: a file holding the JWT, for --vault-auth jwt.",
        "file",
        metavar="FILE",
    ),
    SourceFlag(
        "--vault-auth-mount",
        "vault",
        "auth.mount_point",
        "vault: where the login method is mounted (default: its name).",
    ),
    SourceFlag(
        "--aws-endpoint-url",
        "aws",
        "endpoint_url",
        "aws: a custom endpoint: a VPC endpoint, or a local server for tests.",
        "url",
        metavar="URL",
    ),
    SourceFlag(
        "--aws-secret-id-template",
        "aws",
        "secret_id_template",
        "aws: secret name with {provider} in it (default abstractcore/{provider}).",
        "template",
    ),
    SourceFlag(
        "--aws-field",
        "aws",
        "field",
        "aws: the JSON field holding the key, for JSON secrets (default: the provider's name).",
    ),
    SourceFlag(
        "--aws-version-stage",
        "aws",
        "version_stage",
        "aws: the version stage to read (default AWSCURRENT).",
    ),
    SourceFlag(
        "--azure-name-template",
        "azure",
        "name_template",
        "azure: secret name with {provider} in it (default {provider}).",
        "template",
    ),
)
"""Every flag, the proposal's first; ``--help`` lists them in this order."""

BY_DEST = {flag.dest: flag for flag in FLAGS}


def problem_with(flag: SourceFlag, value: str) -> str | None:  # noqa: PLR0911 - one per check
    """Return what is wrong with ``value`` for ``flag``, in the flag's terms, or ``None``.

    A value is quoted back only when it cannot be a key (:func:`.usage.shown_value`).
    """
    if flag.kind in ("stdin", "choice"):
        return None  # read from stdin and checked there / checked by click
    if not value.strip():
        return f"{flag.flag} is empty"
    if flag.kind in ("url", "https") and "@" in value.split("//", 1)[-1].split("/", 1)[0]:
        # Not echoed: the part before the "@" is a user name and a password.
        return (
            f"{flag.flag} holds credentials before an '@' (not echoed); give the address "
            "alone: credentials go to --vault-token or the environment"
        )
    if not shown_value(value).startswith("'"):
        # A key pasted into the wrong flag would be written into the config file, and
        # shown in locators: refused, and not echoed.
        return (
            f"{flag.flag} was given a value shaped like a key ({len(value)} characters, not "
            "echoed); keys are never given as flags: 'set-key PROVIDER' and '--vault-token -' "
            "read them from stdin"
        )
    if flag.kind in ("url", "https"):
        return _url_problem(flag, value)
    if any(character.isspace() or not character.isprintable() for character in value):
        return f"{flag.flag} {shown_value(value)} holds spaces or control characters"
    if flag.kind == "template" and "{provider}" not in value:
        return (
            f"{flag.flag} {shown_value(value)} must contain {{provider}}, "
            "e.g. 'abstractcore/{provider}'"
        )
    if flag.kind == "region" and not _REGION.fullmatch(value):
        return f"{flag.flag} {shown_value(value)} is not an AWS region name, e.g. us-east-1"
    if flag.kind == "file":
        path = Path(value).expanduser()
        if not path.is_file():
            return f"{flag.flag} {shown_value(value)} is not an existing file"
    return None


def _url_problem(flag: SourceFlag, value: str) -> str | None:
    endpoint = _net.endpoint_of(value)
    if endpoint is None:
        example = "https://" + value if "://" not in value else "https://host:port"
        hint = f", e.g. {shown_value(example)}" if shown_value(value).startswith("'") else ""
        return (
            f"{flag.flag} {shown_value(value)} needs a scheme and a host: http:// or https://{hint}"
        )
    if flag.kind == "https" and endpoint.scheme != "https":
        return f"{flag.flag} {shown_value(value)} must start with https://"
    if not _net.valid_host(endpoint.host):
        return f"{flag.flag} {shown_value(value)} does not name a valid host"
    return None


def stored_value(flag: SourceFlag, value: str) -> object:
    """Return ``value`` as the config file stores it: a file's absolute path, a whole number
    for the KV version, a URL without its trailing slash."""
    if flag.kind == "file":
        return str(Path(value).expanduser().resolve())
    if flag.option == "kv_version":
        return int(value)
    if flag.kind in ("url", "https"):
        return value.rstrip("/")
    return value
