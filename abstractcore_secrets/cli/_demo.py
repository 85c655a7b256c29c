"""``demo``: the chain at work on an embedded, offline setup that touches nothing of yours.

It builds a throw-away folder with a config file, an environment of its own and an
in-memory stand-in for a managed source (Vault, AWS, Azure), then shows precedence,
provenance, fail-closed denial, refusal of an insecure key file, caching, rotation and
stale serving. Keys are random per run and never printed: fingerprints identify them.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

import click

from .._cache import ResolutionCache
from .._config_file import ConfigFile
from .._fingerprint import Fingerprinter
from .._manager import SecretsManager
from .._resolution import Resolution
from .._secret import Secret
from ..errors import SourceForbiddenError, SourceUnavailableError
from ..sources.config import ConfigFileSecretProvider
from ..sources.environment import EnvironmentSecretProvider
from ..testing import FailingSecretProvider, InMemorySecretProvider
from . import _console as console

_COLUMNS = ("provider", "outcome", "source", "locator", "fingerprint", "cache_hit", "stale")


class _Clock:
    """A clock the demo moves forward, so cache expiry shows without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@click.command("demo")
def demo_command() -> None:
    """Show the resolver chain at work, offline, on a throw-away setup."""
    with tempfile.TemporaryDirectory(prefix="abstractcore-secrets-demo-") as folder:
        _run(Path(folder))


def _fake_key(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(24)


def _run(folder: Path) -> None:
    config = ConfigFile(folder / "config" / "abstractcore.json")
    config.write_api_key("anthropic", Secret(_fake_key("demokey-anthropic-")))
    config.write_api_key("openai", Secret(_fake_key("demokey-openai-file-")))
    environ = {
        "OPENAI_API_KEY": _fake_key("demokey-openai-env-"),
        "HF_TOKEN": _fake_key("demokey-hf-"),
    }
    managed = InMemorySecretProvider({"openrouter": _fake_key("demokey-or-")}, name="managed")
    clock = _Clock()
    fingerprinter = Fingerprinter(key_path=folder / "fingerprint.key")
    manager = SecretsManager(
        [EnvironmentSecretProvider(environ), managed, ConfigFileSecretProvider(config.path)],
        cache=ResolutionCache(300, clock=clock, jitter=lambda: 0.0),
        fingerprinter=fingerprinter,
    )
    console.say(
        "Chain: explicit > env > managed (in-memory stand-in for Vault/AWS/Azure) "
        f"> config ({config.path.name})\n"
    )

    _section("1. Precedence and provenance: the first source that has the key wins")
    _show(
        [
            manager.resolve("portkey", api_key=_fake_key("demokey-explicit-")),
            manager.resolve("openai"),  # env beats the config file's openai key
            manager.resolve("huggingface"),  # HF_TOKEN, alias of HUGGINGFACE_TOKEN
            manager.resolve("openrouter"),  # the managed source
            manager.resolve("anthropic"),  # only in the config file
            manager.resolve("mistral"),  # nowhere
        ]
    )

    _section("2. Caching, rotation and invalidation (managed source values are cached)")
    first = manager.resolve("openrouter")
    managed.set("openrouter", _fake_key("demokey-or-rotated-"))
    still = manager.resolve("openrouter")
    manager.invalidate("openrouter")  # what a caller does when the service answers 401
    rotated = manager.resolve("openrouter")
    _show([first, still, rotated])
    console.say(
        f"fingerprint changed on rotation: {first.fingerprint != rotated.fingerprint}; "
        f"source fetches so far: {managed.fetches}"
    )

    _section("3. Outage: the managed source goes down; the cached key is served, marked stale")
    down = FailingSecretProvider(SourceUnavailableError("demo outage"), name="managed")
    outage_manager = SecretsManager([down], cache=manager.cache, fingerprinter=fingerprinter)
    clock.now += 300  # past the refresh time: the chain is consulted and fails
    _show([outage_manager.resolve("openrouter")])

    _section("4. Fail closed: a managed source that denies access stops the chain")
    denying = FailingSecretProvider(SourceForbiddenError("demo: token revoked"), name="managed")
    strict = SecretsManager(
        [denying, ConfigFileSecretProvider(config.path)], cache=None, fingerprinter=fingerprinter
    )
    denied = strict.resolve("anthropic")
    _show([denied])
    console.say(f"why: {denied.error}")
    console.say(
        "the config file also has an anthropic key, and was not consulted: "
        f"{[a.source for a in denied.attempts]}"
    )

    _section("5. A key file that others can read is refused, with the fix")
    config.path.chmod(0o644)
    refused = manager.resolve("anthropic")
    console.say(f"outcome: {refused.outcome.value}: {refused.error}")
    config.path.chmod(0o600)
    _show([manager.resolve("anthropic")])

    _section("6. The audit journal: who resolved which key, tamper-evident")
    try:
        _journal_section(folder, managed, fingerprinter)
    except ImportError:
        console.say("(install 'abstractcore-secrets[journal]' to see this section)")


def _journal_section(
    folder: Path, managed: InMemorySecretProvider, fingerprinter: Fingerprinter
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ..audit import AuditMiddleware, principal
    from ..audit.exports import events
    from ..audit.journal import Journal
    from ..audit.verify import verify

    key = Ed25519PrivateKey.generate()
    path = folder / "audit.jsonl"
    journal = Journal(path, key, checkpoint_every=4, fsync="always")
    audited = SecretsManager(
        [managed],
        cache=None,
        fingerprinter=fingerprinter,
        middleware=[AuditMiddleware([journal], failure_mode="block", fingerprinter=fingerprinter)],
    )
    for user, provider in (("alice", "openrouter"), ("bob", "openrouter"), ("bob", "groq")):
        with principal(user):
            audited.resolve(provider)
    journal.close()
    rows = [
        {
            "user": e["user"]["id"],
            "provider": e["provider"],
            "outcome": e["outcome"],
            "source": e["source"],
            "fingerprint": e["fingerprint"],
        }
        for e in events([path])
    ]
    console.print_table(rows, ("user", "provider", "outcome", "source", "fingerprint"))
    report = verify([path], key.public_key())
    console.say(
        f"verify: intact={report.intact} ({report.records} records, "
        f"{report.checkpoints} checkpoints, signed with Ed25519)"
    )
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"bob"', '"mallory"')
    path.write_text("\n".join(lines) + "\n")
    tampered = verify([path], key.public_key())
    console.say(
        f"after editing one record: intact={tampered.intact}: "
        f"{tampered.findings[0].problem} at line {tampered.findings[0].line}"
    )


def _section(title: str) -> None:
    console.say(f"\n{title}")


def _show(resolutions: list[Resolution]) -> None:
    console.print_table([console.resolution_row(r) for r in resolutions], _COLUMNS)
