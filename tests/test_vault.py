"""VaultSecretProvider against a real OpenBao server."""

from __future__ import annotations

import pytest

from abstractcore_secrets import (
    ConfigurationError,
    InsecureFileError,
    SourceForbiddenError,
    SourceUnavailableError,
    VaultSecretProvider,
)
from abstractcore_secrets.testing import OpenBaoServer, free_port

pytestmark = pytest.mark.server


class TestVaultSecretProvider:
    def test_vault_integration(self, openbao):
        """The proposal's expectation, against a real server: the openai field is returned."""
        openbao.put_kv("abstractcore", {"openai": "vault-key-123"})
        provider = VaultSecretProvider(openbao.address, openbao.root_token)
        assert provider.get_secret("openai") == "vault-key-123"

    def test_proposal_path_is_split_into_mount_and_path(self, openbao):
        """secret/data/abstractcore reads mount secret, path abstractcore (hvac adds data/)."""
        provider = VaultSecretProvider(openbao.address, "root", "secret/data/abstractcore")
        assert (provider.mount_point, provider.path) == ("secret", "abstractcore")
        assert VaultSecretProvider(openbao.address, "root", "kv/team/llm").path == "team/llm"

    def test_record_carries_locator_version_and_request_id(self, openbao):
        """The read reports mount/path#field, the KV version and Vault's request id."""
        openbao.put_kv("versioned", {"anthropic": "v1"})
        openbao.put_kv("versioned", {"anthropic": "v2"})
        provider = VaultSecretProvider(openbao.address, "root", "secret/data/versioned")
        record = provider.fetch("anthropic")
        assert record is not None
        assert record.secret.reveal() == "v2"
        assert record.locator == "vault:secret/versioned#anthropic"
        assert record.version == "2"
        assert record.request_id is not None
        assert len(record.request_id) == 36

    def test_missing_path_and_missing_field_are_not_found(self, openbao):
        """No secret at the path, or no field for the provider: None."""
        openbao.put_kv("partial", {"openai": "x"})
        assert VaultSecretProvider(openbao.address, "root", "secret/data/absent").fetch("x") is None
        assert (
            VaultSecretProvider(openbao.address, "root", "secret/data/partial").fetch("y") is None
        )

    def test_bad_token_is_forbidden(self, openbao):
        """A token Vault does not know is refused with 403: category forbidden."""
        provider = VaultSecretProvider(openbao.address, "not-a-real-token")
        with pytest.raises(SourceForbiddenError, match="403") as caught:
            provider.fetch("openai")
        assert "not-a-real-token" not in str(caught.value)

    def test_unreachable_server_is_unavailable(self):
        """Nothing listening: category unavailable, naming VAULT_ADDR."""
        provider = VaultSecretProvider(f"http://127.0.0.1:{free_port()}", "root", timeout=2)
        with pytest.raises(SourceUnavailableError, match="VAULT_ADDR"):
            provider.fetch("openai")

    def test_address_and_token_from_environment(self, openbao, monkeypatch):
        """VAULT_ADDR and VAULT_TOKEN are read as the vault CLI reads them."""
        openbao.put_kv("abstractcore", {"openai": "vault-key-123"})
        monkeypatch.setenv("VAULT_ADDR", openbao.address)
        monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
        assert VaultSecretProvider().get_secret("openai") == "vault-key-123"

    def test_token_file_in_home(self, openbao, monkeypatch, isolated_environment):
        """~/.vault-token is read when no token is given (as after 'vault login')."""
        openbao.put_kv("abstractcore", {"openai": "vault-key-123"})
        token_file = isolated_environment / ".vault-token"
        token_file.write_text(openbao.root_token + "\n")
        token_file.chmod(0o600)
        assert VaultSecretProvider(openbao.address).get_secret("openai") == "vault-key-123"
        token_file.chmod(0o644)
        with pytest.raises(InsecureFileError, match="chmod 600"):
            VaultSecretProvider(openbao.address).fetch("openai")

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({}, "no Vault address"),
            ({"vault_addr": "http://127.0.0.1:1"}, "no Vault token"),
            ({"vault_addr": "http://x", "vault_token": "t", "kv_version": 3}, "kv_version"),
            ({"vault_addr": "http://x", "vault_token": "t", "path": "onlymount"}, "needs a mount"),
        ],
        ids=["no-address", "no-token", "bad-kv-version", "bad-path"],
    )
    def test_bad_configuration_names_the_fix(self, kwargs, message):
        """Missing or malformed settings fail at construction with what to change."""
        with pytest.raises(ConfigurationError, match=message):
            VaultSecretProvider(**kwargs)


def test_request_id_joins_the_servers_audit_log():
    """The request id a read reports is the request.id in OpenBao's own audit log."""
    with OpenBaoServer(audit=True) as server:
        server.put_kv("abstractcore", {"openai": "sk-audited"})
        record = VaultSecretProvider(server.address, server.root_token).fetch("openai")
        assert record is not None
        entries = [
            e for e in server.audit_entries() if e.get("request", {}).get("id") == record.request_id
        ]
    assert {e["type"] for e in entries} == {"request", "response"}
    assert entries[0]["request"]["path"] == "secret/data/abstractcore"
    assert entries[0]["request"]["operation"] == "read"
