"""Vault answers that redirect, and Vault values with whitespace: both fail closed as invalid.

A redirect would re-send the token (and, on a 307 or 308, an AppRole login's secret id) to
the host the ``Location`` names, over plain http even from https. Real loopback servers
answer every request with a redirect to a second server that records whatever reaches it;
nothing may reach it, and no credential may show in the error, its chain or the logs.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme
from conftest import Chain

from abstractcore_secrets import (
    InvalidSourceError,
    Outcome,
    VaultSecretProvider,
)
from abstractcore_secrets.resilience import CircuitState
from abstractcore_secrets.sources.vault_auth import AppRoleAuth
from abstractcore_secrets.testing.canary import canary, exception_texts, find_leaks

pytestmark = pytest.mark.server

REDIRECTS = [301, 302, 303, 307, 308]
# What the recorder answers, should a request reach it: a token lookup, a KV read and a
# login all succeed on it, so that a followed redirect shows as a served key.
FOLLOWED = {
    "data": {"data": {"openai": "sk-from-the-other-host"}, "ttl": 0},
    "auth": {"client_token": "other-host-token", "lease_duration": 0, "renewable": False},
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A loopback HTTP(S) server run on a thread; ``requests`` is what reached it."""

    httpd: ThreadingHTTPServer
    scheme: str
    requests: list[Recorded] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"


def _serve(answer: Callable[[BaseHTTPRequestHandler, Server], None], tls: ssl.SSLContext | None):
    holder: list[Server] = []

    class Handler(BaseHTTPRequestHandler):
        def handle_one_request(self) -> None:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline or not self.parse_request():
                self.close_connection = True
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server = holder[0]
            server.requests.append(
                Recorded(self.command, self.path, dict(self.headers.items()), body)
            )
            answer(self, server)
            self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    server = Server(httpd, "https" if tls else "http")
    holder.append(server)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return server


def _stop(server: Server) -> None:
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def recorder() -> Iterator[Server]:
    """The second host: records every request, answers as a compliant Vault would."""

    def answer(handler: BaseHTTPRequestHandler, server: Server) -> None:
        payload = json.dumps(FOLLOWED).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    server = _serve(answer, None)
    yield server
    _stop(server)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def redirector(recorder: Server, ca: trustme.CA) -> Iterator[Callable[..., Server]]:
    """Build a server answering every request with ``status`` and a Location on the recorder."""
    started: list[Server] = []

    def build(status: int, *, tls: bool = False) -> Server:
        def answer(handler: BaseHTTPRequestHandler, server: Server) -> None:
            handler.send_response(status)
            handler.send_header("Location", f"{recorder.address}{handler.path}")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        context = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(context)
        started.append(_serve(answer, context))
        return started[-1]

    yield build
    for server in started:
        _stop(server)


@pytest.fixture
def approle_ids(openbao) -> tuple[str, str, str]:
    """A real AppRole on OpenBao whose secret id is a canary; returns mount, role id, secret id."""
    mount = f"approle-{uuid.uuid4().hex[:8]}"
    openbao.request("POST", f"sys/auth/{mount}", {"type": "approle"})
    policy = 'path "secret/data/*" { capabilities = ["read"] }'
    openbao.request("POST", "sys/policies/acl/read-llm", {"policy": policy})
    openbao.request("POST", f"auth/{mount}/role/llm", {"token_policies": ["read-llm"]})
    role_id = openbao.request("GET", f"auth/{mount}/role/llm/role-id")["data"]["role_id"]
    secret_id = canary("canary-secret-id")
    openbao.request("POST", f"auth/{mount}/role/llm/custom-secret-id", {"secret_id": secret_id})
    return mount, role_id, secret_id


def assert_refused(
    chain: Chain, recorder: Server, credential: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Assert the redirect stopped the chain as invalid, reached nothing, and leaked nothing."""
    resolution = chain.resolve()
    assert recorder.requests == []
    assert (resolution.outcome, resolution.value) == (Outcome.ERROR, None)
    assert [(a.source, a.outcome, a.error_type) for a in resolution.attempts] == [
        ("vault", Outcome.ERROR, "invalid")
    ]
    error = resolution.attempts[0].error
    assert isinstance(error, InvalidSourceError)
    assert f"redirecting to http://{recorder.netloc}, which was not followed" in str(error)
    assert chain.resilience.breaker("vault").state is CircuitState.CLOSED
    texts = [repr(resolution), caplog.text]
    for raised in (resolution.error, error):
        assert raised is not None
        texts += exception_texts(raised)
    assert find_leaks(texts, [credential]) == []


class TestRedirectsAreRefused:
    @pytest.mark.parametrize("status", REDIRECTS)
    def test_token_is_never_sent_to_the_location(
        self, redirector, recorder, chain_of, caplog, status
    ):
        """A token read answered with a redirect to another host fails closed, token unsent."""
        caplog.set_level(logging.DEBUG)
        token = canary("canary-vault-token")
        source = VaultSecretProvider(redirector(status).address, token)
        assert_refused(chain_of(source), recorder, token, caplog)

    @pytest.mark.parametrize("status", REDIRECTS)
    def test_https_to_plain_http_is_refused(
        self, redirector, recorder, chain_of, caplog, ca, tmp_path, status
    ):
        """An https Vault redirecting to an http Location never sends the token in clear."""
        caplog.set_level(logging.DEBUG)
        ca_file = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        token = canary("canary-vault-token")
        server = redirector(status, tls=True)
        source = VaultSecretProvider(server.address, token, verify=str(ca_file))
        assert_refused(chain_of(source), recorder, token, caplog)
        assert [r.method for r in server.requests] == ["GET"]  # the TLS hop was reached

    @pytest.mark.parametrize("status", REDIRECTS)
    def test_approle_secret_id_is_never_reposted(
        self, redirector, recorder, chain_of, caplog, approle_ids, status
    ):
        """An AppRole login answered with a redirect never re-posts the secret id."""
        caplog.set_level(logging.DEBUG)
        mount, role_id, secret_id = approle_ids
        server = redirector(status)
        auth = AppRoleAuth(role_id, secret_id, mount_point=mount)
        source = VaultSecretProvider(server.address, auth=auth)
        assert_refused(chain_of(source), recorder, secret_id, caplog)
        assert [(r.method, r.path) for r in server.requests] == [
            ("POST", f"/v1/auth/{mount}/login")
        ]

    def test_the_same_approle_logs_in_without_a_redirect(self, openbao, approle_ids):
        """Control: the AppRole credentials used above are real and work on OpenBao itself."""
        openbao.put_kv("abstractcore", {"openai": "sk-approle-direct"})
        mount, role_id, secret_id = approle_ids
        auth = AppRoleAuth(role_id, secret_id, mount_point=mount)
        source = VaultSecretProvider(openbao.address, auth=auth)
        assert source.get_secret("openai") == "sk-approle-direct"
        source.close()


SPACED = {
    "leading-space": " {value}",
    "trailing-space": "{value} ",
    "trailing-newline": "{value}\n",
    "crlf": "{value}\r\n",
    "inner-space": "{value}-a b",
    "tab": "\t{value}",
}


class TestWhitespaceInVaultValues:
    @pytest.mark.parametrize("template", SPACED.values(), ids=SPACED.keys())
    def test_value_with_whitespace_is_invalid(self, openbao, chain_of, caplog, template):
        """A KV value with whitespace or a newline is refused as invalid, as AWS values are."""
        caplog.set_level(logging.DEBUG)
        planted = canary()
        path = f"spaced-{uuid.uuid4().hex[:8]}"
        openbao.put_kv(path, {"openai": template.format(value=planted)})
        source = VaultSecretProvider(openbao.address, openbao.root_token, f"secret/data/{path}")
        resolution = chain_of(source).resolve()
        assert (resolution.outcome, resolution.value) == (Outcome.ERROR, None)
        assert [(a.source, a.outcome, a.error_type) for a in resolution.attempts] == [
            ("vault", Outcome.ERROR, "invalid")
        ]
        assert "whitespace or control characters" in str(resolution.error)
        assert resolution.error is not None
        texts = [repr(resolution), caplog.text, *exception_texts(resolution.error)]
        assert find_leaks(texts, [planted]) == []
