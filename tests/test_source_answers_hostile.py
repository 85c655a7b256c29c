"""Answers no real secrets service sends: redirects, wrong JSON types, throttling waits, huge keys.

Each server is real (OpenBao, moto, the Key Vault emulator), with a fault proxy in front of
it crafting the answer. A redirect or a wrongly typed value from Key Vault fails closed as
``invalid``, never reaching the other host's value nor the config file; a 429's
``Retry-After`` from Vault or AWS sets how long the retry waits, or fails over at once; a key
longer than :data:`~abstractcore_secrets.sources._values.MAX_KEY_LENGTH` is refused by
every source, its length and the limit named, the key never.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from conftest import FROM_CONFIG, Chain

from abstractcore_secrets import (
    AWSSecretsProvider,
    AzureKeyVaultProvider,
    ConfigFileSecretProvider,
    ConfigurationError,
    EnvironmentSecretProvider,
    Fingerprinter,
    InvalidSourceError,
    Outcome,
    Resilience,
    ResolutionCache,
    RetryPolicy,
    SecretsManager,
    SourceThrottledError,
    VaultSecretProvider,
)
from abstractcore_secrets.resilience import CircuitState
from abstractcore_secrets.sources._values import MAX_KEY_LENGTH, checked_value
from abstractcore_secrets.testing import AzureKeyVaultEmulator, FaultProxy
from abstractcore_secrets.testing.canary import canary, exception_texts, find_leaks

REDIRECTS = [301, 302, 303, 307, 308]
FROM_SOURCE = "sk-from-the-source-0001"
FROM_OTHER_HOST = "sk-from-the-other-host-0001"
JSON = {"Content-Type": "application/json"}
AWS_JSON = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "hostile-2"}


def assert_invalid(chain: Chain, *, leaked: list[str]) -> InvalidSourceError:
    """Assert the chain stopped at its source as invalid, circuit closed, nothing leaked."""
    resolution = chain.resolve()
    assert (resolution.outcome, resolution.value) == (Outcome.ERROR, None)
    assert [(a.source, a.outcome, a.error_type) for a in resolution.attempts] == [
        (chain.source.name, Outcome.ERROR, "invalid")
    ]
    assert chain.resilience.breaker(chain.source.name).state is CircuitState.CLOSED
    error = resolution.attempts[0].error
    assert isinstance(error, InvalidSourceError)
    texts = [repr(resolution), *exception_texts(error)]
    assert find_leaks(texts, leaked) == []
    return error


# --- servers ----------------------------------------------------------------------------------


class OtherHost:
    """A loopback HTTPS server standing for another host; answers as Key Vault would."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.requests: list[str] = []
        hits = self.requests
        payload = json.dumps(
            {
                "value": FROM_OTHER_HOST,
                "id": "https://127.0.0.1/secrets/openai/0123456789abcdef",
                "attributes": {"enabled": True},
            }
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.netloc = f"127.0.0.1:{self._httpd.server_address[1]}"
        self.address = f"https://{self.netloc}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="module")
def keyvault() -> Iterator[AzureKeyVaultEmulator]:
    with AzureKeyVaultEmulator() as emulator:
        yield emulator


@pytest.fixture
def tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1, and its CA's file for the client to trust."""
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    ca_file = tmp_path / "proxy-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return served, ca_file


@pytest.fixture
def other_host(tls) -> Iterator[OtherHost]:
    """The host a redirect points at: on TLS the client trusts, so it could be followed."""
    host = OtherHost(tls[0])
    yield host
    host.close()


@pytest.fixture
def azure_proxy(keyvault, tls) -> Iterator[FaultProxy]:
    """A TLS fault proxy in front of the Key Vault emulator holding ``openai``."""
    keyvault.clear_faults()
    keyvault.set_secret("openai", FROM_SOURCE)
    upstream = ssl.create_default_context(cafile=keyvault.ca_pem_path)
    with FaultProxy(keyvault.vault_url, tls=tls[0], upstream_tls=upstream) as proxy:
        yield proxy


@pytest.fixture
def azure_source(keyvault, azure_proxy, tls) -> Callable[..., AzureKeyVaultProvider]:
    """Build an Azure source on the proxy whose challenge is already answered."""

    def build(**client_options: object) -> AzureKeyVaultProvider:
        source = AzureKeyVaultProvider(
            azure_proxy.address,
            credential=keyvault.credential(),
            client_options={
                "connection_verify": str(tls[1]),
                "verify_challenge_resource": False,
                **client_options,
            },
        )
        assert source.get_secret("openai") == FROM_SOURCE  # the bearer challenge, answered
        return source

    return build


# --- 1. Azure errors carry no bearer token ----------------------------------------------------


@pytest.mark.server
class TestAzureErrorsCarryNoToken:
    @pytest.mark.parametrize("status", [403, 429, 500])
    def test_a_failed_read_has_no_sdk_cause(self, keyvault, azure_proxy, azure_source, status):
        """azure-core's error holds the request and its bearer token: it is never chained."""
        source = azure_source()
        azure_proxy.respond(status, b'{"error":{"code":"Nope","message":"no"}}', JSON)
        try:
            resolution = SecretsManager([source], cache=None).resolve("openai")
        finally:
            source.close()
        error = resolution.attempts[0].error
        assert error is not None
        assert (error.__cause__, error.__context__) == (None, None)
        texts = [repr(resolution), *exception_texts(resolution.error or error)]
        assert find_leaks(texts, [keyvault.expected_token]) == []


# --- 1. Azure redirects -----------------------------------------------------------------------


@pytest.mark.server
class TestAzureRedirects:
    @pytest.mark.parametrize("status", REDIRECTS)
    def test_redirect_to_another_host_is_invalid(
        self, azure_proxy, azure_source, other_host, chain_of, status
    ):
        """A redirect from Key Vault fails closed: the other host gets nothing, nor serves."""
        source = azure_source()
        azure_proxy.respond(
            status,
            b"",
            {"Location": f"{other_host.address}/secrets/openai?user=me:pw"},
            path_contains="/secrets/",
        )
        error = assert_invalid(chain_of(source), leaked=[FROM_OTHER_HOST, "me:pw"])
        assert other_host.requests == []
        assert f"answered {status} redirecting to {other_host.address}, which was not followed" in (
            str(error)
        )
        assert "/secrets/openai?" not in str(error)

    def test_a_followed_redirect_is_still_refused(
        self, azure_proxy, azure_source, other_host, chain_of
    ):
        """Should the SDK follow a redirect after all, the other host's answer is not served."""
        source = azure_source()
        source.client._client._config.redirect_policy.allow = True  # an SDK that changed
        azure_proxy.respond(307, b"", {"Location": f"{other_host.address}/secrets/openai"})
        error = assert_invalid(chain_of(source), leaked=[FROM_OTHER_HOST])
        assert len(other_host.requests) == 1
        assert f"answered 307 redirecting to {other_host.address}" in str(error)

    def test_cached_key_is_not_replaced_by_the_other_hosts(
        self, azure_proxy, azure_source, other_host, config_path, fingerprinter
    ):
        """A refresh answered with a redirect fails closed: never the other host's key."""
        config_path.parent.mkdir(parents=True)
        config_path.write_text(json.dumps({"api_keys": {"openai": FROM_CONFIG}}))
        config_path.chmod(0o600)
        clock = [0.0]
        source = azure_source()
        manager = SecretsManager(
            [source, ConfigFileSecretProvider()],
            cache=ResolutionCache(60, clock=lambda: clock[0], jitter=lambda: 0.999),
            attempt_middleware=[Resilience(RetryPolicy(attempts=1))],
            fingerprinter=fingerprinter,
        )
        assert manager.resolve("openai").value.reveal() == FROM_SOURCE
        clock[0] = 61.0
        azure_proxy.respond(307, b"", {"Location": f"{other_host.address}/secrets/openai"})
        try:
            resolution = manager.resolve("openai")
        finally:
            source.close()
        assert other_host.requests == []
        assert (resolution.outcome, resolution.value) == (Outcome.ERROR, None)
        assert [(a.source, a.error_type) for a in resolution.attempts] == [("azure", "invalid")]

    @pytest.mark.parametrize(
        "options",
        [
            {"permit_redirects": True},
            {"permit_redirects": 1},
            {"redirect_policy": "RedirectPolicy()"},
        ],
        ids=["permit-redirects", "permit-redirects-truthy", "redirect-policy"],
    )
    def test_client_options_cannot_turn_redirects_on(self, keyvault, options):
        """client_options that would follow redirects are refused when the source is built."""
        if options.get("redirect_policy"):
            from azure.core.pipeline.policies import RedirectPolicy

            options = {"redirect_policy": RedirectPolicy()}
        with pytest.raises(ConfigurationError, match="redirect"):
            AzureKeyVaultProvider(
                keyvault.vault_url,
                credential=keyvault.credential(),
                client_options={**keyvault.client_options(), **options},
            )

    def test_permit_redirects_false_is_accepted(self, keyvault):
        """Saying what the source does anyway (permit_redirects=False) is fine."""
        keyvault.set_secret("openai", FROM_SOURCE)
        options = {**keyvault.client_options(), "permit_redirects": False}
        with AzureKeyVaultProvider(
            keyvault.vault_url, credential=keyvault.credential(), client_options=options
        ) as source:
            assert source.get_secret("openai") == FROM_SOURCE


# --- 2. Azure wrong JSON types ----------------------------------------------------------------


def _bundle(**fields: object) -> bytes:
    return json.dumps(
        {
            "id": "https://127.0.0.1/secrets/openai/0123456789abcdef0123456789abcdef",
            "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000},
            **fields,
        }
    ).encode()


AZURE_WRONG_TYPES = {
    "number": (12345, "number"),
    "float": (1.5, "number"),
    "boolean": (True, "boolean"),
    "object": ({"k": "sk-inside-an-object"}, "object"),
    "array": (["sk-inside-an-array"], "array"),
    "null": (None, "null"),
}


@pytest.mark.server
class TestAzureWrongJSONTypes:
    @pytest.mark.parametrize(
        ("value", "json_name"), AZURE_WRONG_TYPES.values(), ids=AZURE_WRONG_TYPES.keys()
    )
    def test_value_that_is_not_a_string_is_invalid(
        self, azure_proxy, azure_source, chain_of, value, json_name
    ):
        """A secret bundle whose value is not a JSON string is refused, its type named."""
        source = azure_source()
        azure_proxy.respond(200, _bundle(value=value), JSON, path_contains="/secrets/")
        error = assert_invalid(
            chain_of(source), leaked=["12345", "sk-inside-an-object", "sk-inside-an-array"]
        )
        assert f"'value' as a JSON {json_name}, not a string" in str(error)

    def test_bundle_with_no_value_is_invalid(self, azure_proxy, azure_source, chain_of):
        """A 200 answer with no value at all is not Key Vault's: invalid, not 'not found'."""
        source = azure_source()
        azure_proxy.respond(200, _bundle(), JSON, path_contains="/secrets/")
        error = assert_invalid(chain_of(source), leaked=[])
        assert "no 'value'" in str(error)

    def test_body_that_is_not_an_object_is_invalid(self, azure_proxy, azure_source, chain_of):
        """A 200 answer that is a JSON array is refused, never read as the secret."""
        planted = canary()
        source = azure_source()
        body = json.dumps([{"value": planted}]).encode()
        azure_proxy.respond(200, body, JSON, path_contains="/secrets/")
        error = assert_invalid(chain_of(source), leaked=[planted])
        assert "a JSON array, not an object" in str(error)

    def test_string_value_through_the_proxy_is_served(self, azure_proxy, azure_source, chain_of):
        """Control: a string value, as Key Vault sends it, is the key."""
        source = azure_source()
        azure_proxy.respond(200, _bundle(value="sk-a-string"), JSON, path_contains="/secrets/")
        resolution = chain_of(source).resolve()
        assert (resolution.source, resolution.value.reveal()) == ("azure", "sk-a-string")


# --- 3. Retry-After from Vault and AWS --------------------------------------------------------


class RecordingSleep:
    """A sleep that only records, and the clock it moves (for the retry deadline)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 0.0

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


POLICY = RetryPolicy(attempts=3, timeout=30.0, max_retry_after=5.0, wait_max=0.5)
FINGERPRINTER = Fingerprinter(b"test-fingerprint-key-0123456789")
AN_HOUR_AHEAD = "an HTTP date an hour after the request"  # dated when the test runs


def _header(header: str) -> str:
    return formatdate(time.time() + 3600, usegmt=True) if header == AN_HOUR_AHEAD else header


RETRY_AFTER = {
    # header: (retry_after on the error, tries, waits)
    "one-hour": ("3600", 3600.0, 1),
    "date-an-hour-ahead": (AN_HOUR_AHEAD, "~3600", 1),
    "one-second": ("1", 1.0, 3),
    "negative": ("-5", None, 3),
    "garbage": ("soon", None, 3),
    "fraction": ("1.5", None, 3),
}


def _throttled_manager(source, sleep: RecordingSleep) -> SecretsManager:
    return SecretsManager(
        [source, ConfigFileSecretProvider()],
        cache=None,
        attempt_middleware=[Resilience(POLICY, sleep=sleep, clock=sleep.clock)],
        fingerprinter=FINGERPRINTER,
    )


def _assert_throttled(resolution, proxy: FaultProxy, expected, tries: int, sleep) -> None:
    assert (resolution.source, resolution.value.reveal()) == ("config", FROM_CONFIG)
    attempt = resolution.attempts[0]
    assert (attempt.error_type, attempt.tries) == ("throttled", tries)
    assert proxy.requests == tries
    error = attempt.error
    assert isinstance(error, SourceThrottledError)
    if expected == "~3600":
        assert error.retry_after is not None
        assert 3590 <= error.retry_after <= 3600
    else:
        assert error.retry_after == expected
    if expected == 1.0:
        assert sleep.waits == [1.0, 1.0]
    elif tries == 1:
        assert sleep.waits == []


@pytest.fixture
def config_holding_fallback(config_path: Path) -> Path:
    config_path.parent.mkdir(parents=True)
    config_path.write_text(json.dumps({"api_keys": {"openai": FROM_CONFIG}}))
    config_path.chmod(0o600)
    return config_path


@pytest.fixture
def vault_token(openbao) -> str:
    """A canary token, real on OpenBao, so that any leak of it is found."""
    token = canary("canary-vault-token")
    openbao.request("POST", "auth/token/create", {"id": token, "policies": ["root"]})
    return token


@pytest.mark.server
class TestVaultRetryAfter:
    @pytest.mark.parametrize(
        ("header", "expected", "tries"), RETRY_AFTER.values(), ids=RETRY_AFTER.keys()
    )
    def test_429_retry_after_is_honoured(
        self, openbao, vault_token, config_holding_fallback, header, expected, tries
    ):
        """A 429's Retry-After sets the wait; longer than max_retry_after fails over at once."""
        openbao.put_kv("abstractcore", {"openai": FROM_SOURCE})
        sleep = RecordingSleep()
        with FaultProxy(openbao.address) as proxy:
            proxy.respond(
                429,
                b'{"errors":["request path \\"secret/data/abstractcore\\": rate limit quota '
                b'exceeded"]}',
                {**JSON, "Retry-After": _header(header)},
            )
            with VaultSecretProvider(proxy.address, vault_token) as source:
                resolution = _throttled_manager(source, sleep).resolve("openai")
        _assert_throttled(resolution, proxy, expected, tries, sleep)
        error = resolution.attempts[0].error
        assert (error.__cause__, error.__context__) == (None, None)
        assert find_leaks([repr(resolution), *exception_texts(error)], [vault_token]) == []

    def test_one_second_is_waited_for_and_the_retry_finds_the_key(
        self, openbao, vault_token, config_holding_fallback
    ):
        """Retry-After: 1 on one 429 makes a real wait of about a second, then Vault's key."""
        openbao.put_kv("abstractcore", {"openai": FROM_SOURCE})
        with FaultProxy(openbao.address) as proxy:
            proxy.respond(429, b'{"errors":[]}', {**JSON, "Retry-After": "1"}, times=1)
            with VaultSecretProvider(proxy.address, vault_token) as source:
                manager = SecretsManager(
                    [source, ConfigFileSecretProvider()],
                    cache=None,
                    attempt_middleware=[Resilience(POLICY)],
                    fingerprinter=FINGERPRINTER,
                )
                started = time.perf_counter()
                resolution = manager.resolve("openai")
                seconds = time.perf_counter() - started
        assert (resolution.source, resolution.value.reveal()) == ("vault", FROM_SOURCE)
        assert resolution.attempts[0].tries == 2
        assert 0.9 <= seconds < 3.0

    def test_429_on_login_carries_retry_after(self, openbao, config_holding_fallback):
        """A throttled AppRole login reports its Retry-After too."""
        from abstractcore_secrets.sources.vault_auth import AppRoleAuth

        with FaultProxy(openbao.address) as proxy:
            proxy.respond(429, b'{"errors":[]}', {**JSON, "Retry-After": "3600"})
            auth = AppRoleAuth("role", canary("canary-secret-id"))
            with VaultSecretProvider(proxy.address, auth=auth) as source:
                sleep = RecordingSleep()
                resolution = _throttled_manager(source, sleep).resolve("openai")
        _assert_throttled(resolution, proxy, 3600.0, 1, sleep)


@pytest.mark.server
class TestAWSRetryAfter:
    @pytest.mark.parametrize("status", [400, 429])
    @pytest.mark.parametrize(
        ("header", "expected", "tries"),
        [RETRY_AFTER["one-hour"], RETRY_AFTER["date-an-hour-ahead"], RETRY_AFTER["one-second"]],
        ids=["one-hour", "date-an-hour-ahead", "one-second"],
    )
    def test_throttling_retry_after_is_honoured(
        self, moto_server, aws_credentials, config_holding_fallback, status, header, expected, tries
    ):
        """A ThrottlingException's Retry-After sets the wait, as Vault's and Key Vault's do."""
        self._check(moto_server, status, header, expected, tries)

    @pytest.mark.parametrize("status", [400, 429])
    @pytest.mark.parametrize(
        ("header", "expected", "tries"),
        [RETRY_AFTER["negative"], RETRY_AFTER["garbage"]],
        ids=["negative", "garbage"],
    )
    def test_hostile_retry_after_gets_the_backoff(
        self, moto_server, aws_credentials, config_holding_fallback, status, header, expected, tries
    ):
        """A ThrottlingException whose Retry-After is not valid gets our own backoff."""
        self._check(moto_server, status, header, expected, tries)

    @staticmethod
    def _check(moto_server, status, header, expected, tries) -> None:
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        sleep = RecordingSleep()
        with FaultProxy(moto_server) as proxy:
            proxy.respond(status, body.encode(), {**AWS_JSON, "Retry-After": _header(header)})
            source = AWSSecretsProvider(endpoint_url=proxy.address)
            try:
                resolution = _throttled_manager(source, sleep).resolve("openai")
            finally:
                source.close()
        _assert_throttled(resolution, proxy, expected, tries, sleep)


# --- 4. Key length ----------------------------------------------------------------------------


def _long_key(length: int) -> str:
    """Return a key of ``length`` characters that starts with a canary."""
    head = canary("canary-long-key")
    return head + "a" * (length - len(head))


LENGTHS = {"limit-plus-one": MAX_KEY_LENGTH + 1, "one-mib": 1 << 20}


def assert_too_long(error: BaseException, length: int, key: str) -> None:
    assert isinstance(error, InvalidSourceError)
    assert f"{length} characters long" in str(error)
    assert f"longest accepted is {MAX_KEY_LENGTH}" in str(error)
    assert find_leaks(exception_texts(error), [key[:48]]) == []


class TestMaxKeyLength:
    def test_limit_is_8_kib(self):
        """The limit is 8 KiB: far above any LLM API key, room for a JWT."""
        assert MAX_KEY_LENGTH == 8192

    def test_key_of_the_limit_is_accepted(self):
        """A key exactly as long as the limit is served."""
        key = _long_key(MAX_KEY_LENGTH)
        assert checked_value(key, source="custom", locator="custom:openai") == key

    @pytest.mark.parametrize("length", LENGTHS.values(), ids=LENGTHS.keys())
    def test_environment_variable(self, monkeypatch, chain_of, length):
        """An environment variable holding a key over the limit fails closed."""
        key = _long_key(length)
        monkeypatch.setenv("OPENAI_API_KEY", key)
        source = EnvironmentSecretProvider()
        assert_too_long(assert_invalid(chain_of(source), leaked=[key[:48]]), length, key)

    def test_environment_file(self, monkeypatch, tmp_path, chain_of):
        """A *_FILE target holding a key over the limit (but under the file limit) fails closed."""
        key = _long_key(MAX_KEY_LENGTH + 1)
        path = tmp_path / "openai-key"
        path.write_text(key + "\n")
        path.chmod(0o600)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(path))
        source = EnvironmentSecretProvider()
        assert_too_long(assert_invalid(chain_of(source), leaked=[key[:48]]), len(key), key)

    @pytest.mark.parametrize("length", LENGTHS.values(), ids=LENGTHS.keys())
    def test_config_file(self, tmp_path, chain_of, length):
        """A config file entry over the limit fails closed, the next config file not asked."""
        key = _long_key(length)
        path = tmp_path / "long.json"
        path.write_text(json.dumps({"api_keys": {"openai": key}}))
        path.chmod(0o600)
        source = ConfigFileSecretProvider(path)
        assert_too_long(assert_invalid(chain_of(source), leaked=[key[:48]]), length, key)

    @pytest.mark.server
    @pytest.mark.parametrize("length", LENGTHS.values(), ids=LENGTHS.keys())
    def test_vault(self, openbao, chain_of, length):
        """A Vault KV field over the limit fails closed, the config file not asked."""
        key = _long_key(length)
        openbao.put_kv("long/abstractcore", {"openai": key})
        source = VaultSecretProvider(
            openbao.address, openbao.root_token, "secret/data/long/abstractcore"
        )
        assert_too_long(assert_invalid(chain_of(source), leaked=[key[:48]]), length, key)

    @pytest.mark.server
    @pytest.mark.parametrize("length", LENGTHS.values(), ids=LENGTHS.keys())
    def test_azure(self, keyvault, chain_of, length):
        """A Key Vault secret over the limit fails closed, the config file not asked."""
        key = _long_key(length)
        keyvault.clear_faults()
        keyvault.set_secret("openai", key)
        source = AzureKeyVaultProvider(
            keyvault.vault_url,
            credential=keyvault.credential(),
            client_options=keyvault.client_options(),
        )
        try:
            error = assert_invalid(chain_of(source), leaked=[key[:48]])
        finally:
            keyvault.set_secret("openai", FROM_SOURCE)
        assert_too_long(error, length, key)

    @pytest.mark.server
    @pytest.mark.parametrize("length", [MAX_KEY_LENGTH + 1, 60_000], ids=["limit-plus-one", "60k"])
    def test_aws(self, aws_admin, moto_server, chain_of, length):
        """A Secrets Manager secret over the limit fails closed, the config file not asked."""
        key = _long_key(length)
        aws_admin.create_secret(Name="abstractcore/openai", SecretString=key)
        source = AWSSecretsProvider(endpoint_url=moto_server)
        assert_too_long(assert_invalid(chain_of(source), leaked=[key[:48]]), length, key)
