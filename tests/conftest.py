"""Shared fixtures: an isolated environment per test, and a real OpenBao server per session."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from abstractcore_secrets import (
    ConfigFileSecretProvider,
    Fingerprinter,
    Resilience,
    RetryPolicy,
    SecretsManager,
    set_secrets_manager,
)
from abstractcore_secrets.llm_providers import KNOWN_ENV_VARS
from abstractcore_secrets.testing import MemorySink, OpenBaoServer, free_port

if TYPE_CHECKING:
    from abstractcore_secrets import Resolution, SecretProvider

_ISOLATED_PREFIXES = ("ABSTRACTCORE_", "VAULT_", "AWS_", "AZURE_", "OTEL_")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Give each test an empty home and no key or secrets-manager variables of the machine's."""
    known = {name for names in KNOWN_ENV_VARS.values() for name in names}
    for variable in list(os.environ):
        base = variable.removesuffix("_FILE")
        if variable.startswith(_ISOLATED_PREFIXES) or base in known or base.endswith("_API_KEY"):
            monkeypatch.delenv(variable)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ABSTRACTCORE_HOME", str(home / ".abstractcore"))
    set_secrets_manager(None)
    yield home
    set_secrets_manager(None)


@pytest.fixture
def config_path(isolated_environment: Path) -> Path:
    """The default config file's path inside the isolated home (not created)."""
    return isolated_environment / ".abstractcore" / "config" / "abstractcore.json"


@pytest.fixture
def fingerprinter(tmp_path: Path) -> Fingerprinter:
    """A fingerprinter with a key of its own."""
    return Fingerprinter(b"test-fingerprint-key-0123456789")


@pytest.fixture
def signing_key(tmp_path: Path) -> Any:
    """A journal signing key made the way the installation makes it (0600 PEM)."""
    from abstractcore_secrets.audit.journal import load_signing_key

    return load_signing_key(tmp_path / "keys" / "journal.key")


@pytest.fixture
def public_key_file(tmp_path: Path, signing_key: Any) -> Path:
    """The signing key's public half in PEM, as `audit public-key` prints it."""
    from cryptography.hazmat.primitives import serialization

    path = tmp_path / "keys" / "journal.pub"
    path.write_bytes(
        signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture(scope="session")
def openbao() -> Iterator[OpenBaoServer]:
    """A real OpenBao dev server on a free loopback port, for the whole session."""
    with OpenBaoServer() as server:
        yield server


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's AWS server on a free loopback port, for the whole session; yields its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials moto accepts, through the default credential chain (the environment)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def aws_admin(moto_server: str, aws_credentials: None) -> Iterator[Any]:
    """A plain boto3 client on moto, to create and change secrets the way an operator would."""
    import boto3

    client = boto3.client("secretsmanager", endpoint_url=moto_server, region_name="us-east-1")
    yield client
    for secret in client.list_secrets()["SecretList"]:
        client.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
    client.close()


# A source that fails closed must not let the chain fall through to the config file: the
# hostile-answer and redirect tests build this chain and check the fallback is never used.
FROM_CONFIG = "sk-config-fallback-0001"


@dataclass
class Chain:
    """A source under test, then the config file holding ``FROM_CONFIG``, with a breaker."""

    source: SecretProvider
    manager: SecretsManager
    resilience: Resilience

    def resolve(self) -> Resolution:
        return self.manager.resolve("openai")


@pytest.fixture
def chain_of(config_path: Path, fingerprinter) -> Iterator[Callable[[SecretProvider], Chain]]:
    """Build a chain of a source then the config file; one outage would open the circuit."""
    config_path.parent.mkdir(parents=True)
    config_path.write_text(json.dumps({"api_keys": {"openai": FROM_CONFIG}}))
    config_path.chmod(0o600)
    sources: list[SecretProvider] = []

    def build(source: SecretProvider) -> Chain:
        sources.append(source)
        resilience = Resilience(RetryPolicy(attempts=1), failure_threshold=1)
        manager = SecretsManager(
            [source, ConfigFileSecretProvider()],
            cache=None,
            fingerprinter=fingerprinter,
            attempt_middleware=[resilience],
        )
        return Chain(source, manager, resilience)

    yield build
    for source in sources:
        source.close()


ListSink = MemorySink  # the shipped in-memory audit sink, under the name the tests import


class FailingDurableSink:
    """A durable audit sink (what block mode guards) whose writes fail once ``fail`` is set."""

    name = "durable"
    durable = True
    fsync = "always"
    fail = False

    def __call__(self, event: object) -> None:
        if self.fail:
            raise OSError("disk full")
