"""No secret value reaches a repr, an exception, a log line or the CLI's output.

A distinctive canary is planted in every source and in the Vault token; every outcome is
driven; then every byte that came out is searched for each canary and its encodings.
"""

from __future__ import annotations

import json
import logging
import os

import pytest
from clirun import run_cli

from abstractcore_secrets import (
    AWSSecretsProvider,
    AzureKeyVaultProvider,
    ConfigFileSecretProvider,
    EnvironmentSecretProvider,
    Resilience,
    RetryPolicy,
    SecretsError,
    SecretsManager,
    VaultSecretProvider,
)
from abstractcore_secrets.redaction import RedactionPolicy
from abstractcore_secrets.redaction._processors import ValueLearner, install_logging_redaction
from abstractcore_secrets.testing import (
    AzureKeyVaultEmulator,
    FaultProxy,
    OpenBaoServer,
    free_port,
)
from abstractcore_secrets.testing.canary import canary, exception_texts, find_leaks

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def vault_token():
    return canary("canary-vault-token")


@pytest.fixture(scope="module")
def canary_bao(vault_token):
    """An OpenBao server whose root token is itself a canary."""
    with OpenBaoServer(root_token=vault_token) as server:
        yield server


def _emitted_by(action, *, frame_locals=True) -> list[str]:
    """Run action; return the repr of its result, or all an error reporter sees of its error."""
    try:
        result = action()
    except SecretsError as error:
        return exception_texts(error, frame_locals=frame_locals)
    texts = [repr(result), str(result)]
    for attempt in getattr(result, "attempts", ()):
        if attempt.error is not None:
            texts += exception_texts(attempt.error)
    if getattr(result, "error", None) is not None:
        texts += exception_texts(result.error)
    return texts


def test_no_canary_anywhere(
    canary_bao, vault_token, config_path, tmp_path, monkeypatch, caplog, fingerprinter
):
    """Drive found, not found, denied, error and invalid through every source: zero leaks."""
    values = {
        name: canary(f"canary-{name}")
        for name in ("explicit", "env", "envfile", "vault", "config", "corrupt", "spaced")
    }
    canary_bao.put_kv("abstractcore", {"anthropic": values["vault"]})
    key_file = tmp_path / "mounted"
    key_file.write_text(values["envfile"] + "\n")
    key_file.chmod(0o600)
    config_path.parent.mkdir(parents=True)
    config_path.write_text(json.dumps({"api_keys": {"mistral": values["config"]}}))
    config_path.chmod(0o600)
    environ = {
        "OPENAI_API_KEY": values["env"],
        "GROQ_API_KEY_FILE": str(key_file),
        "VLLM_API_KEY": values["spaced"][:20] + " " + values["spaced"][20:],
    }
    caplog.set_level(logging.DEBUG)

    vault = VaultSecretProvider(canary_bao.address, vault_token)
    manager = SecretsManager(
        [EnvironmentSecretProvider(environ), vault, ConfigFileSecretProvider()],
        fingerprinter=fingerprinter,
    )
    denied = SecretsManager(
        [VaultSecretProvider(canary_bao.address, vault_token[::-1])], fingerprinter=fingerprinter
    )
    down = SecretsManager(
        [VaultSecretProvider(f"http://127.0.0.1:{free_port()}", vault_token, timeout=1)],
        fingerprinter=fingerprinter,
    )
    emitted: list[str] = []
    for action in (
        lambda: manager.resolve("portkey", api_key=values["explicit"]),
        lambda: manager.resolve("openai"),
        lambda: manager.resolve("groq"),
        lambda: manager.resolve("anthropic"),
        lambda: manager.resolve("anthropic"),  # cache hit
        lambda: manager.resolve("mistral"),
        lambda: manager.resolve("ollama"),  # not found anywhere
        lambda: manager.resolve("vllm"),  # invalid value
        lambda: manager.get_api_key("vllm"),
        lambda: denied.resolve("anthropic"),
        lambda: denied.get_api_key("anthropic"),
        lambda: down.resolve("anthropic"),
        lambda: down.get_api_key("anthropic"),
        lambda: manager.get_api_key("ollama", required=True),
    ):
        emitted += _emitted_by(action)
    # A key passed where a provider name goes is in the caller's own frames (arguments), so
    # frame locals are not searched for that one mistake: message, type and chain are.
    emitted += _emitted_by(lambda: manager.get_api_key(values["explicit"]), frame_locals=False)

    config_path.write_text('{"api_keys": {"mistral": "' + values["corrupt"])
    emitted += _emitted_by(lambda: manager.get_api_key("mistral"))
    config_path.write_text(json.dumps({"api_keys": {"mistral": values["config"]}}))
    config_path.chmod(0o644)
    emitted += _emitted_by(lambda: manager.get_api_key("mistral"))
    config_path.chmod(0o600)

    cli_env = {
        "OPENAI_API_KEY": values["env"],
        "GROQ_API_KEY_FILE": str(key_file),
        "VAULT_TOKEN": vault_token,
        "ABSTRACTCORE_SECRETS_CHAIN": "env,vault,config",
    }
    config_path.write_text(
        json.dumps(
            {
                "api_keys": {"mistral": values["config"]},
                "secrets": {"sources": {"vault": {"addr": canary_bao.address}}},
            }
        )
    )
    for arguments in (
        ("status",),
        ("status", "--json"),
        ("get", "anthropic"),
        ("get", "openai", "--json"),
        ("status", "vllm"),
    ):
        result = run_cli(*arguments, env=cli_env)
        emitted += [result.stdout, result.stderr]
    emitted += [caplog.text] + [repr(record.__dict__) for record in caplog.records]

    assert "found" in "".join(emitted)  # the search ran over real output
    assert find_leaks(emitted, [*values.values(), vault_token]) == []


def test_no_canary_from_the_cloud_sources(
    moto_server, aws_admin, monkeypatch, fingerprinter, caplog
):
    """AWS and Azure: values and credentials reach no result, error, chain or DEBUG log line.

    botocore logs response bodies (SecretString) at DEBUG: the redaction policy, learning
    each value as it is resolved, scrubs the SDKs' log records as they are created.
    """
    caplog.set_level(logging.DEBUG)
    policy = RedactionPolicy()
    policy.add(*(os.environ.get(name) for name in ("AWS_SECRET_ACCESS_KEY",)))
    install_logging_redaction(policy)
    learner = ValueLearner(policy)
    secret_key, azure_token = canary("aws-secret-key"), canary("azure-token")
    values = {name: canary(f"canary-{name}") for name in ("aws", "azure")}
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    aws_admin.create_secret(Name="abstractcore/openai", SecretString=values["aws"])
    throttled = json.dumps({"__type": "ThrottlingException", "message": "slow down"}).encode()
    emitted: list[str] = []
    with FaultProxy(moto_server) as proxy, AzureKeyVaultEmulator(token=azure_token) as azure:
        azure.set_secret("anthropic", values["azure"])
        aws = AWSSecretsProvider(endpoint_url=proxy.address, read_timeout=0.5)
        key_vault = AzureKeyVaultProvider(
            azure.vault_url,
            credential=azure.credential(),
            read_timeout=0.5,
            client_options=azure.client_options(),
        )
        policy.add(secret_key, azure_token)  # credentials, as configure_telemetry learns them
        manager = SecretsManager(
            [aws, key_vault],
            cache=None,
            middleware=[learner],
            attempt_middleware=[learner.attempt, Resilience(RetryPolicy(attempts=1))],
            fingerprinter=fingerprinter,
        )
        for provider in ("openai", "anthropic", "mistral"):
            emitted += _emitted_by(lambda p=provider: manager.resolve(p))
        proxy.respond(400, throttled, {"Content-Type": "application/x-amz-json-1.1"})
        azure.fail_with(403)
        emitted += _emitted_by(lambda: manager.resolve("openai"))
        emitted += _emitted_by(lambda: manager.get_api_key("anthropic"))
        proxy.clear()
        proxy.delay(2)
        azure.clear_faults()
        azure.slow(2)
        emitted += _emitted_by(lambda: manager.resolve("anthropic"))
        aws.close()
        key_vault.close()
    emitted += [caplog.text] + [repr(record.__dict__) for record in caplog.records]
    assert "found" in "".join(emitted)
    assert any(record.name.startswith("botocore") for record in caplog.records)
    assert find_leaks(emitted, [*values.values(), secret_key, azure_token]) == []
