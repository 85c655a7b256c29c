"""A key stored under a provider's former name is still found under its new one.

``openai-compatible`` became ``openai_compatible`` (AbstractCore's spelling): a Vault field, an
AWS secret or a config-file entry written before the rename must keep answering, from real
servers, with the locator saying where the key really is.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from abstractcore_secrets import AWSSecretsProvider, SecretsManager, VaultSecretProvider
from abstractcore_secrets.testing import InMemorySecretProvider, OpenBaoServer, free_port

KEY = "sk-former-name-" + "7" * 24

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def bao() -> Iterator[OpenBaoServer]:
    with OpenBaoServer() as server:
        yield server


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_a_vault_field_under_the_former_name(bao: OpenBaoServer) -> None:
    bao.put_kv("abstractcore", {"openai-compatible": KEY})
    source = VaultSecretProvider(bao.address, bao.root_token, path="secret/data/abstractcore")
    with SecretsManager([source], cache=None) as manager:
        resolution = manager.resolve("openai_compatible")
        assert resolution.value is not None
        assert resolution.value.reveal() == KEY
        assert resolution.locator == "vault:secret/abstractcore#openai-compatible"
        # The new name wins when both exist: the former is only a fallback.
        bao.put_kv("abstractcore", {"openai-compatible": KEY, "openai_compatible": KEY + "new"})
        assert manager.get_api_key("openai-compatible") == KEY + "new"


def test_an_aws_secret_under_the_former_name(moto_endpoint: str) -> None:
    boto3.client("secretsmanager", endpoint_url=moto_endpoint).create_secret(
        Name="abstractcore/openai-compatible", SecretString=KEY
    )
    source = AWSSecretsProvider(region="us-east-1", endpoint_url=moto_endpoint)
    with SecretsManager([source], cache=None) as manager:
        resolution = manager.resolve("openai_compatible")
        assert resolution.value is not None
        assert resolution.value.reveal() == KEY
        assert resolution.locator == "aws:abstractcore/openai-compatible"


def test_a_source_is_asked_once_unless_the_name_has_a_former_spelling() -> None:
    source = InMemorySecretProvider({})
    with SecretsManager([source], cache=None) as manager:
        manager.resolve("mistral")
        assert source.fetches == 1
        manager.resolve("openai_compatible")
        assert source.fetches == 3  # the name, then its former spelling
