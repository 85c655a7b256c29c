"""The Key Vault emulator, driven by the real ``SecretClient`` over a real TLS socket."""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.keyvault.secrets import SecretClient

from abstractcore_secrets.testing.azure_keyvault import AzureKeyVaultEmulator


class StaticTokenCredential:
    """A TokenCredential that hands out one fixed bearer token and records what it was asked."""

    def __init__(self, token):
        self.token = token
        self.requests = []

    def get_token(self, *scopes, claims=None, tenant_id=None, enable_cae=False, **kwargs):
        self.requests.append((scopes, tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)


def make_client(vault, token=None):
    return SecretClient(
        vault.vault_url,
        StaticTokenCredential(token or vault.expected_token),
        verify_challenge_resource=False,
        connection_verify=vault.ca_pem_path,
        retry_total=0,
    )


def raw_request(vault, method, path, token=None, body=None):
    context = ssl.create_default_context(cafile=vault.ca_pem_path)
    connection = http.client.HTTPSConnection("127.0.0.1", vault.port, context=context, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request(method, f"{path}?api-version=7.5", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.headers), json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture
def vault():
    with AzureKeyVaultEmulator() as emulator:
        yield emulator


@pytest.fixture
def client(vault):
    with make_client(vault) as secret_client:
        yield secret_client


FAULTS = [
    pytest.param(401, ClientAuthenticationError, "Unauthorized", id="401-unauthorized"),
    pytest.param(403, HttpResponseError, "Forbidden", id="403-forbidden"),
    pytest.param(404, ResourceNotFoundError, "SecretNotFound", id="404-not-found"),
    pytest.param(429, HttpResponseError, "Throttled", id="429-throttled"),
    pytest.param(500, HttpResponseError, "InternalServerError", id="500-internal"),
    pytest.param(503, HttpResponseError, "ServiceUnavailable", id="503-unavailable"),
]


class TestAzureKeyVaultEmulator:
    def test_gets_latest_and_specific_version(self, vault, client):
        """The client reads the latest version by name and an older one by its version id."""
        first = vault.set_secret("openai", "sk-one")
        second = vault.set_secret("openai", "sk-two")
        latest = client.get_secret("openai")
        older = client.get_secret("openai", first)
        assert (latest.value, latest.properties.version) == ("sk-two", second)
        assert (older.value, older.properties.version) == ("sk-one", first)
        assert latest.id == f"{vault.vault_url}/secrets/openai/{second}"

    def test_client_set_secret_reads_back(self, client):
        """A secret written with ``client.set_secret`` gets a 32-hex version and reads back."""
        written = client.set_secret("anthropic", "sk-ant", tags={"team": "ml"})
        read = client.get_secret("anthropic", written.properties.version)
        assert re.fullmatch(r"[0-9a-f]{32}", written.properties.version)
        assert (read.value, read.properties.tags) == ("sk-ant", {"team": "ml"})

    def test_challenge_flow_asks_for_the_vault_scope_and_tenant(self, vault):
        """The first call is challenged once for the vault scope and tenant; the token is cached."""
        vault.set_secret("openai", "sk-one")
        credential = StaticTokenCredential(vault.expected_token)
        with SecretClient(
            vault.vault_url,
            credential,
            verify_challenge_resource=False,
            connection_verify=vault.ca_pem_path,
            retry_total=0,
        ) as secret_client:
            secret_client.get_secret("openai")
            secret_client.get_secret("openai")
        assert credential.requests == [(("https://vault.azure.net/.default",), vault.tenant_id)]
        assert vault.request_counts == {"/secrets/openai": 3}

    def test_rest_shapes(self, vault):
        """Raw requests get the challenge, bundle and not-found error in Key Vault's shapes."""
        version = vault.set_secret("openai", "sk-one")
        status, headers, body = raw_request(vault, "GET", "/secrets/openai")
        assert (status, body["error"]["code"]) == (401, "Unauthorized")
        assert headers["WWW-Authenticate"] == (
            f'Bearer authorization="https://login.microsoftonline.com/{vault.tenant_id}", '
            'resource="https://vault.azure.net"'
        )
        status, headers, body = raw_request(vault, "GET", "/secrets/openai", vault.expected_token)
        created = body["attributes"]["created"]
        assert (status, body) == (
            200,
            {
                "value": "sk-one",
                "id": f"{vault.vault_url}/secrets/openai/{version}",
                "attributes": {
                    "enabled": True,
                    "created": created,
                    "updated": created,
                    "recoveryLevel": "Recoverable+Purgeable",
                },
                "tags": {},
            },
        )
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        assert headers["x-ms-request-id"] == vault.request_ids[-1]
        status, _, body = raw_request(vault, "GET", "/secrets/absent", vault.expected_token)
        assert (status, body["error"]["code"]) == (404, "SecretNotFound")
        assert body["error"]["message"].startswith("A secret with (name/id) absent was not found")

    def test_rejects_bad_bodies_and_unknown_paths(self, vault):
        """A PUT without a string value gets 400 and an unserved path gets 404, as JSON errors."""
        token = vault.expected_token
        answers = [
            raw_request(vault, "PUT", "/secrets/openai", token, b'{"value": 1}'),
            raw_request(vault, "PUT", "/secrets/openai", token, b"not json"),
            raw_request(vault, "GET", "/keys/openai", token),
            raw_request(vault, "DELETE", "/secrets/openai/0123", token),
        ]
        assert [(status, body["error"]["code"]) for status, _, body in answers] == [
            (400, "BadParameter"),
            (400, "BadParameter"),
            (404, "NotFound"),
            (404, "NotFound"),
        ]

    def test_lists_and_deletes(self, vault, client):
        """The client lists secret names, deletes one, and then gets not-found for it."""
        vault.set_secret("openai", "sk-one")
        vault.set_secret("anthropic", "sk-ant")
        assert [item.name for item in client.list_properties_of_secrets()] == [
            "anthropic",
            "openai",
        ]
        assert client.begin_delete_secret("openai").result().name == "openai"
        vault.delete_secret("anthropic")
        assert list(client.list_properties_of_secrets()) == []
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("openai")

    def test_missing_secret_raises_resource_not_found(self, client):
        """A secret that was never set raises ``ResourceNotFoundError`` with status 404."""
        with pytest.raises(ResourceNotFoundError) as raised:
            client.get_secret("absent")
        assert raised.value.status_code == 404

    def test_wrong_token_raises_client_authentication_error(self, vault):
        """A credential with the wrong token gets ``ClientAuthenticationError`` with status 401."""
        vault.set_secret("openai", "sk-one")
        with (
            make_client(vault, token="wrong-token") as secret_client,
            pytest.raises(ClientAuthenticationError) as raised,
        ):
            secret_client.get_secret("openai")
        assert raised.value.status_code == 401
        assert "sk-one" not in str(raised.value)

    @pytest.mark.parametrize(("status", "error_class", "code"), FAULTS)
    def test_fault_raises_http_response_error(self, vault, client, status, error_class, code):
        """Each injected status raises its ``HttpResponseError`` class with Key Vault's code."""
        vault.set_secret("openai", "sk-one")
        vault.fail_with(status)
        with pytest.raises(error_class) as raised:
            client.get_secret("openai")
        assert isinstance(raised.value, HttpResponseError)
        assert (raised.value.status_code, raised.value.error.code) == (status, code)

    def test_throttling_carries_retry_after(self, vault, client):
        """A 429 fault with ``retry_after`` sends the ``Retry-After`` header to the client."""
        vault.set_secret("openai", "sk-one")
        vault.fail_with(429, retry_after=7)
        with pytest.raises(HttpResponseError) as raised:
            client.get_secret("openai")
        assert raised.value.response.headers["Retry-After"] == "7"

    def test_faults_with_times_expire(self, vault, client):
        """A fault with ``times=2`` fails two requests, then the secret is served again."""
        vault.set_secret("openai", "sk-one")
        client.get_secret("openai")
        vault.fail_with(503, times=2)
        for _ in range(2):
            with pytest.raises(HttpResponseError):
                client.get_secret("openai")
        assert client.get_secret("openai").value == "sk-one"
        assert vault.request_counts == {"/secrets/openai": 5}

    def test_fault_for_one_name_spares_the_others(self, vault, client):
        """A fault scoped by ``name`` fails that secret only, until ``clear_faults``."""
        vault.set_secret("openai", "sk-one")
        vault.set_secret("anthropic", "sk-ant")
        vault.fail_with(500, name="openai")
        with pytest.raises(HttpResponseError):
            client.get_secret("openai")
        assert client.get_secret("anthropic").value == "sk-ant"
        vault.clear_faults()
        assert client.get_secret("openai").value == "sk-one"

    def test_one_401_is_absorbed_by_the_challenge_retry(self, vault, client):
        """A single 401 makes the client re-run the challenge and retry, so the call succeeds."""
        vault.set_secret("openai", "sk-one")
        client.get_secret("openai")
        vault.fail_with(401, times=1)
        assert client.get_secret("openai").value == "sk-one"
        assert vault.request_counts == {"/secrets/openai": 4}

    def test_rejects_a_status_that_is_no_http_error(self, vault):
        """``fail_with`` refuses a success status and an unknown one."""
        with pytest.raises(ValueError, match="400 to 599"):
            vault.fail_with(200)
        with pytest.raises(ValueError, match="599"):
            vault.fail_with(599)

    def test_has_no_url_before_its_first_start(self):
        """The URL of an emulator that never bound a port is an error, not a guess."""
        with pytest.raises(RuntimeError, match="start the emulator first"):
            _ = AzureKeyVaultEmulator().vault_url

    def test_slow_answer_trips_read_timeout(self, vault, client):
        """A delay past ``read_timeout`` raises ``ServiceResponseError``; after it, reads work."""
        vault.set_secret("openai", "sk-one")
        client.get_secret("openai")
        vault.slow(2.0, times=1)
        started = time.monotonic()
        with pytest.raises(ServiceResponseError) as raised:
            client.get_secret("openai", read_timeout=0.5)
        assert time.monotonic() - started < 1.5
        assert isinstance(raised.value, AzureError)
        assert client.get_secret("openai").value == "sk-one"

    def test_request_id_matches_the_raw_response(self, vault, client):
        """The hook sees the challenge's and the answer's ``x-ms-request-id``, as recorded."""
        vault.set_secret("openai", "sk-one")
        seen = []
        client.get_secret(
            "openai",
            raw_response_hook=lambda response: seen.append(
                response.http_response.headers["x-ms-request-id"]
            ),
        )
        assert seen == vault.request_ids
        assert len(set(seen)) == 2

    def test_restart_keeps_port_and_secrets(self, vault, client):
        """A stopped and restarted emulator serves the same secrets at the same URL."""
        version = vault.set_secret("openai", "sk-one")
        url = vault.vault_url
        client.get_secret("openai")
        vault.stop()
        vault.start()
        assert vault.vault_url == url
        assert client.get_secret("openai").properties.version == version

    def test_listens_on_a_given_port(self, vault):
        """An emulator built with ``port=`` listens there."""
        port = vault.port
        vault.stop()
        with AzureKeyVaultEmulator(port=port, token="other") as other:
            other.set_secret("openai", "sk-two")
            with make_client(other) as secret_client:
                assert secret_client.get_secret("openai").value == "sk-two"
            assert other.vault_url == f"https://127.0.0.1:{port}"
