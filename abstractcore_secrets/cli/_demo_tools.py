"""The demo's last steps: the operator's commands on a setup whose Vault is down, and the
tamper-evident audit journal."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .._fingerprint import Fingerprinter
from .._manager import SecretsManager
from ..testing import InMemorySecretProvider, free_port
from . import _console as console
from ._demo import WIDTH, Stage, fake_key, proof, say, table


def commands(stage: Stage) -> None:
    stage.step(
        "The command line, with Vault down",
        "The demo's config file now also names a Vault, at an address where nothing "
        "listens. The commands run as you would run them, with this folder as their home.",
    )
    try:
        import hvac  # noqa: F401 - only whether the Vault source can be built
    except ImportError:
        say("(install 'abstractcore-secrets[vault]' to see this step)")
        return
    document = json.loads(stage.config.read_text())
    document["secrets"] = {
        "sources": {
            "vault": {
                "addr": f"http://127.0.0.1:{free_port()}",
                "token": fake_key("demo-vault-token-"),
                "timeout": 1,
                "connect_timeout": 0.5,
            }
        },
        "resilience": {"attempts": 1},
    }
    stage.config.write_text(json.dumps(document))
    for arguments in (("status", "openai", "anthropic"), ("get", "anthropic"), ("doctor",)):
        _run(stage, arguments)
    proof(
        "status and get still answer from the config file, but mark the answers degraded "
        "and say why (Vault cannot be reached); doctor names the check that failed and its "
        "fix, and exits non-zero (so does status --strict), for scripts and health checks."
    )


def _run(stage: Stage, arguments: tuple[str, ...]) -> None:
    """Run the CLI in a child process, home in the demo's folder; print what it printed."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(stage.folder),
        "ABSTRACTCORE_HOME": str(stage.folder),
        "COLUMNS": str(WIDTH - 2),
        "LANG": "C.UTF-8",
    }
    done = subprocess.run(  # noqa: S603 - our own CLI, with our own arguments
        [sys.executable, "-m", "abstractcore_secrets", *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    console.say(f"\n$ abstractcore-secrets {' '.join(arguments)}")
    for line in (done.stdout + done.stderr).rstrip("\n").splitlines():
        console.say(f"  {line}")  # as printed: the command fits its table to COLUMNS
    console.say(f"(exit code {done.returncode})")


def journal(stage: Stage) -> None:
    stage.step(
        "The audit journal: who resolved which key, tamper-evident",
        "Three resolutions by two users (alice, bob) are written to a signed, hash-chained "
        "journal; then someone edits one record, replacing bob by mallory.",
    )
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        say("(install 'abstractcore-secrets[journal]' to see this step)")
        return
    from ..audit import AuditMiddleware, principal
    from ..audit.exports import events
    from ..audit.journal import Journal
    from ..audit.verify import verify

    key = Ed25519PrivateKey.generate()
    path = stage.folder / "audit.jsonl"
    written = Journal(path, key, checkpoint_every=4, fsync="always")
    fingerprinter = Fingerprinter(key_path=stage.folder / "fingerprint.key")
    managed = InMemorySecretProvider({"openrouter": fake_key("demokey-or-")}, name="vault")
    audited = SecretsManager(
        [managed],
        cache=None,
        fingerprinter=fingerprinter,
        middleware=[AuditMiddleware([written], failure_mode="block", fingerprinter=fingerprinter)],
    )
    for user, provider in (("alice", "openrouter"), ("bob", "openrouter"), ("bob", "groq")):
        with principal(user):
            audited.resolve(provider)
    written.close()
    table(
        [
            {
                "user": event["user"]["id"],
                "provider": event["provider"],
                "outcome": event["outcome"],
                "source": event["source"],
                "fingerprint": (event["fingerprint"] or ":").split(":", 1)[1][:12] or None,
            }
            for event in events([path])
        ],
        ("user", "provider", "outcome", "source", "fingerprint"),
    )
    report = verify([path], key.public_key())
    say(
        f"verify: intact={report.intact} ({report.records} records, "
        f"{report.checkpoints} checkpoint signed with Ed25519)"
    )
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"bob"', '"mallory"')
    path.write_text("\n".join(lines) + "\n")
    tampered = verify([path], key.public_key())
    finding = tampered.findings[0]
    say(f"after the edit: intact={tampered.intact}: {finding.problem} at line {finding.line}")
    proof(
        "each record names the user, the provider, the source and the key's fingerprint "
        "(never the key); the chain of hashes and the signature check out until a single "
        "record is edited, and verify then names the record."
    )
