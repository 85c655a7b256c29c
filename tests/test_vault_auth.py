"""Vault source features against a real OpenBao: layouts, engines, auth, token lifecycle, TLS."""

from __future__ import annotations

import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from abstractcore_secrets import (
    InvalidSourceError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
    VaultSecretProvider,
)
from abstractcore_secrets.providers.vault_auth import AppRoleAuth, JWTAuth
from abstractcore_secrets.testing import FaultProxy, OpenBaoServer

pytestmark = pytest.mark.server

READ_POLICY = 'path "secret/data/*" { capabilities = ["read"] }'


@pytest.fixture(scope="module")
def approle(openbao):
    """An AppRole mount and a policy that reads secret/; returns a role factory."""
    mount = f"approle-{uuid.uuid4().hex[:8]}"
    openbao.request("POST", f"sys/auth/{mount}", {"type": "approle"})
    openbao.request("POST", "sys/policies/acl/read-llm", {"policy": READ_POLICY})

    def make_role(ttl: str, max_ttl: str = "1h") -> tuple[str, str, str]:
        name = f"role-{uuid.uuid4().hex[:8]}"
        openbao.request(
            "POST",
            f"auth/{mount}/role/{name}",
            {"token_policies": ["read-llm"], "token_ttl": ttl, "token_max_ttl": max_ttl},
        )
        role_id = openbao.request("GET", f"auth/{mount}/role/{name}/role-id")["data"]["role_id"]
        secret_id = openbao.request("POST", f"auth/{mount}/role/{name}/secret-id")["data"][
            "secret_id"
        ]
        return mount, role_id, secret_id

    return make_role


def _provider(openbao, auth, **kwargs):
    return VaultSecretProvider(openbao.address, auth=auth, **kwargs)


class TestLayoutsAndEngines:
    def test_secret_per_provider_layout(self, openbao):
        """{provider} in the path reads one secret per provider, field api_key by default."""
        openbao.put_kv("llm/openai", {"api_key": "sk-per-provider"})
        provider = VaultSecretProvider(openbao.address, "root", "secret/data/llm/{provider}")
        record = provider.fetch("openai")
        assert record is not None
        assert (record.secret.reveal(), record.locator) == (
            "sk-per-provider",
            "vault:secret/llm/openai#api_key",
        )
        assert provider.fetch("anthropic") is None

    def test_kv_version_1(self, openbao):
        """A KV v1 mount is read without versions."""
        mount = f"kv1-{uuid.uuid4().hex[:6]}"
        openbao.request("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "1"}})
        openbao.request("POST", f"{mount}/abstractcore", {"openai": "sk-kv1"})
        provider = VaultSecretProvider(
            openbao.address, "root", f"{mount}/abstractcore", kv_version=1
        )
        record = provider.fetch("openai")
        assert record is not None
        assert (record.secret.reveal(), record.version) == ("sk-kv1", None)

    def test_mount_point_with_nested_mount(self, openbao):
        """mount_point= names a mount with a slash in it."""
        openbao.request("POST", "sys/mounts/team/kv", {"type": "kv", "options": {"version": "2"}})
        openbao.request("POST", "team/kv/data/llm", {"data": {"groq": "sk-nested"}})
        provider = VaultSecretProvider(openbao.address, "root", "llm", mount_point="team/kv")
        assert provider.get_secret("groq") == "sk-nested"

    def test_namespace(self, openbao):
        """namespace= reads inside an OpenBao namespace."""
        namespace = f"ns-{uuid.uuid4().hex[:6]}"
        openbao.request("POST", f"sys/namespaces/{namespace}", {})
        openbao.request(
            "POST",
            "sys/mounts/secret",
            {"type": "kv", "options": {"version": "2"}},
            namespace=namespace,
        )
        openbao.put_kv("abstractcore", {"openai": "sk-in-namespace"}, namespace=namespace)
        provider = VaultSecretProvider(openbao.address, "root", namespace=namespace)
        assert provider.get_secret("openai") == "sk-in-namespace"


class TestAuth:
    def test_approle_login(self, openbao, approle):
        """AppRole logs in with role id and secret id, then reads."""
        openbao.put_kv("abstractcore", {"openai": "sk-approle"})
        mount, role_id, secret_id = approle("60s")
        provider = _provider(openbao, AppRoleAuth(role_id, secret_id, mount_point=mount))
        assert provider.get_secret("openai") == "sk-approle"
        assert provider.logins == 1

    def test_approle_secret_id_from_file(self, openbao, approle, tmp_path):
        """The secret id may come from a private file."""
        openbao.put_kv("abstractcore", {"openai": "sk-approle"})
        mount, role_id, secret_id = approle("60s")
        secret_file = tmp_path / "secret-id"
        secret_file.write_text(secret_id + "\n")
        secret_file.chmod(0o600)
        auth = AppRoleAuth(role_id, secret_id_file=secret_file, mount_point=mount)
        assert _provider(openbao, auth).get_secret("openai") == "sk-approle"

    def test_approle_ids_from_the_environment(self, openbao, approle, monkeypatch):
        """VAULT_ROLE_ID and VAULT_SECRET_ID are used when no ids are passed."""
        openbao.put_kv("abstractcore", {"openai": "sk-approle"})
        mount, role_id, secret_id = approle("60s")
        monkeypatch.setenv("VAULT_ROLE_ID", role_id)
        monkeypatch.setenv("VAULT_SECRET_ID", secret_id)
        assert _provider(openbao, AppRoleAuth(mount_point=mount)).get_secret("openai") == (
            "sk-approle"
        )

    def test_bad_approle_credentials_are_unauthenticated(self, openbao, approle):
        """A wrong secret id fails as unauthenticated, naming the method, not the secret."""
        mount, role_id, _ = approle("60s")
        provider = _provider(openbao, AppRoleAuth(role_id, "wrong-secret-id", mount_point=mount))
        with pytest.raises(SourceUnauthenticatedError, match="approle login failed") as caught:
            provider.fetch("openai")
        assert "wrong-secret-id" not in str(caught.value)

    def test_token_renewed_at_two_thirds_of_its_ttl(self, openbao, approle):
        """Past 2/3 of its TTL, the token is renewed, not replaced."""
        openbao.put_kv("abstractcore", {"openai": "sk-renew"})
        mount, role_id, secret_id = approle("3s")
        provider = _provider(openbao, AppRoleAuth(role_id, secret_id, mount_point=mount))
        provider.fetch("openai")
        time.sleep(2.2)
        assert provider.get_secret("openai") == "sk-renew"
        assert (provider.logins, provider.renewals) == (1, 1)

    def test_expired_token_logs_in_again_without_a_failure(self, openbao, approle):
        """A token past its max TTL is replaced by a new login before the read."""
        openbao.put_kv("abstractcore", {"openai": "sk-expiry"})
        mount, role_id, secret_id = approle("1s", max_ttl="1s")
        provider = _provider(openbao, AppRoleAuth(role_id, secret_id, mount_point=mount))
        provider.fetch("openai")
        time.sleep(1.5)
        assert provider.get_secret("openai") == "sk-expiry"
        assert provider.logins == 2

    def test_revoked_token_logs_in_again_without_a_failure(self, openbao, approle):
        """A token revoked early gets 403; the source logs in again and the read succeeds."""
        openbao.put_kv("abstractcore", {"openai": "sk-revoked"})
        mount, role_id, secret_id = approle("60s")
        provider = _provider(openbao, AppRoleAuth(role_id, secret_id, mount_point=mount))
        provider.fetch("openai")
        openbao.request("POST", "auth/token/revoke", {"token": provider.client.token})
        assert provider.get_secret("openai") == "sk-revoked"
        assert provider.logins == 2

    def test_jwt_login(self, openbao, tmp_path):
        """JWT auth logs in with a signed token read from a file."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        mount = f"jwt-{uuid.uuid4().hex[:6]}"
        openbao.request("POST", f"sys/auth/{mount}", {"type": "jwt"})
        openbao.request("POST", "sys/policies/acl/read-llm", {"policy": READ_POLICY})
        openbao.request(
            "POST",
            f"auth/{mount}/config",
            {"jwt_validation_pubkeys": [public_pem], "bound_issuer": "https://ci.example"},
        )
        openbao.request(
            "POST",
            f"auth/{mount}/role/llm",
            {
                "role_type": "jwt",
                "user_claim": "sub",
                "bound_audiences": ["abstractcore"],
                "token_policies": ["read-llm"],
                "token_ttl": "60s",
            },
        )
        now = int(time.time())
        token = jwt.encode(
            {
                "iss": "https://ci.example",
                "sub": "pipeline-7",
                "aud": "abstractcore",
                "iat": now,
                "nbf": now,
                "exp": now + 300,
            },
            key,
            algorithm="RS256",
        )
        jwt_file = tmp_path / "jwt"
        jwt_file.write_text(token)
        openbao.put_kv("abstractcore", {"anthropic": "sk-jwt"})
        provider = _provider(openbao, JWTAuth("llm", jwt_file, mount_point=mount))
        assert provider.get_secret("anthropic") == "sk-jwt"


class TestVaultErrors:
    @pytest.mark.parametrize(
        ("status", "body", "error_type"),
        [
            (429, {"errors": ["rate limit quota exceeded"]}, SourceThrottledError),
            (503, {"errors": ["Vault is sealed"]}, SourceUnavailableError),
            (500, {"errors": ["internal error"]}, SourceUnavailableError),
            (502, {"errors": ["bad gateway"]}, SourceUnavailableError),
            (400, {"errors": ["invalid request"]}, InvalidSourceError),
        ],
        ids=lambda value: str(value) if isinstance(value, int) else None,
    )
    def test_statuses_map_to_categories(self, openbao, status, body, error_type):
        """Vault's error statuses map to their categories."""
        openbao.put_kv("abstractcore", {"openai": "sk-never-shown"})
        with FaultProxy(openbao.address) as proxy:
            provider = VaultSecretProvider(proxy.address, "root")
            provider.fetch("openai")  # logged in (lookup-self) before the fault
            proxy.respond(status, json.dumps(body).encode(), {"Content-Type": "application/json"})
            with pytest.raises(error_type) as caught:
                provider.fetch("openai")
            provider.close()
        assert "sk-never-shown" not in str(caught.value)

    def test_slow_server_times_out(self, openbao):
        """A server slower than timeout= fails as timeout after about that long."""
        with FaultProxy(openbao.address) as proxy:
            provider = VaultSecretProvider(proxy.address, "root", timeout=0.5)
            provider.fetch("openai")
            proxy.delay(5)
            started = time.perf_counter()
            with pytest.raises(SourceTimeoutError):
                provider.fetch("openai")
            assert time.perf_counter() - started < 2
            provider.close()


class TestTLS:
    def test_https_with_the_servers_ca(self, tmp_path):
        """VAULT_CACERT-style verify= trusts the server; without it, TLS fails as invalid."""
        with OpenBaoServer(tls=True) as server:
            server.put_kv("abstractcore", {"openai": "sk-tls"})
            trusted = VaultSecretProvider(server.address, "root", verify=server.ca_path)
            assert trusted.get_secret("openai") == "sk-tls"
            untrusted = VaultSecretProvider(server.address, "root")
            with pytest.raises(InvalidSourceError, match="VAULT_CACERT"):
                untrusted.fetch("openai")
