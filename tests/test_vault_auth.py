"""Vault source features against a real OpenBao: layouts, engines, auth, token lifecycle, TLS."""

from __future__ import annotations

import json
import threading
import time
import uuid

import jwt
import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from abstractcore_secrets import (
    InvalidSourceError,
    SourceForbiddenError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
    VaultSecretProvider,
)
from abstractcore_secrets.sources.vault_auth import AppRoleAuth, JWTAuth, KubernetesAuth
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


class TestReviewedEdges:
    def test_policy_denial_does_not_spend_logins(self, openbao, approle):
        """A 403 from a missing policy keeps the token: no new AppRole login per denial."""
        mount = f"kv-{uuid.uuid4().hex[:6]}"
        openbao.request("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}})
        approle_mount, role_id, secret_id = approle("60s")
        provider = _provider(
            openbao,
            AppRoleAuth(role_id, secret_id, mount_point=approle_mount),
            path=f"{mount}/data/abstractcore",
        )
        for _ in range(3):
            with pytest.raises(SourceForbiddenError):
                provider.fetch("openai")
        assert provider.logins == 1

    def test_renewal_outage_is_postponed_not_failed(self, openbao, approle):
        """Vault refusing renew-self: the read still succeeds with the live token."""
        openbao.put_kv("abstractcore", {"openai": "sk-renewal-outage"})
        mount, role_id, secret_id = approle("3s")
        with FaultProxy(openbao.address) as proxy:
            provider = VaultSecretProvider(
                proxy.address, auth=AppRoleAuth(role_id, secret_id, mount_point=mount)
            )
            provider.fetch("openai")
            time.sleep(2.1)
            proxy.respond(
                503,
                b'{"errors":["sealed"]}',
                {"Content-Type": "application/json"},
                path_contains="renew-self",
            )
            assert provider.get_secret("openai") == "sk-renewal-outage"
            assert (provider.logins, provider.renewals) == (1, 0)
            provider.close()

    def test_waiters_behind_a_failed_login_fail_fast(self, openbao, approle):
        """Eight threads behind a hanging login: one timeout, not eight in a row."""
        mount, role_id, secret_id = approle("60s")
        with FaultProxy(openbao.address) as proxy:
            provider = VaultSecretProvider(
                proxy.address, auth=AppRoleAuth(role_id, secret_id, mount_point=mount), timeout=1
            )
            proxy.delay(5, path_contains="login")
            errors = []

            def worker():
                try:
                    provider.fetch("openai")
                except SourceTimeoutError as error:
                    errors.append(error)

            started = time.perf_counter()
            threads = [threading.Thread(target=worker) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            elapsed = time.perf_counter() - started
            proxy.clear()
            provider.close()
        assert len(errors) == 8
        assert elapsed < 4  # queued one after another, it would take about 8 s

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"vault_addr": "127.0.0.1:8200"}, "not a URL"),
            ({"path": "nowhere/data/abstractcore"}, "no secrets engine at this mount"),
            ({"path": "secret/abstractcore", "kv_version": 1}, "set kv_version=2"),
        ],
        ids=["no-scheme", "missing-mount", "v2-read-as-v1"],
    )
    def test_misconfiguration_is_invalid_not_a_silent_miss(self, openbao, kwargs, message):
        """Settings that can never work stop the chain with the fix, not fall through."""
        openbao.put_kv("abstractcore", {"openai": "x"})
        options = {"vault_addr": openbao.address, "vault_token": "root", **kwargs}
        with pytest.raises(InvalidSourceError, match=message):
            VaultSecretProvider(**options).fetch("openai")

    def test_kubernetes_auth_reaches_openbao_and_maps_its_refusal(self, openbao, tmp_path):
        """OpenBao mounts Kubernetes auth; with no API server to review the token here, the
        login is refused, and that maps to unauthenticated (a real cluster is needed for a
        successful login)."""
        mount = f"k8s-{uuid.uuid4().hex[:6]}"
        openbao.request("POST", f"sys/auth/{mount}", {"type": "kubernetes"})
        openbao.request(
            "POST",
            f"auth/{mount}/config",
            {
                "kubernetes_host": "https://127.0.0.1:1",
                "disable_local_ca_jwt": True,
                "kubernetes_ca_cert": trustme.CA().cert_pem.bytes().decode(),
            },
        )
        openbao.request(
            "POST",
            f"auth/{mount}/role/llm",
            {
                "bound_service_account_names": ["app"],
                "bound_service_account_namespaces": ["ml"],
                "token_policies": ["default"],
            },
        )
        token_file = tmp_path / "token"
        token_file.write_text(
            jwt.encode({"sub": "system:serviceaccount:ml:app"}, "k" * 32, algorithm="HS256")
        )
        provider = _provider(
            openbao, KubernetesAuth("llm", token_file=token_file, mount_point=mount)
        )
        with pytest.raises(
            (SourceUnauthenticatedError, SourceForbiddenError, SourceUnavailableError)
        ) as caught:
            provider.fetch("openai")
        assert "kubernetes" in str(caught.value) or "Vault" in str(caught.value)
