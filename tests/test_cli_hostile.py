"""The operator's CLI against hostile servers and hostile input.

Servers that hang, answer garbage, answer as something else than Vault, redirect, or
claim to be sealed; flag values, stdin and files shaped to break the CLI. Every one must
end in a failed check or a usage error that says what is wrong, in bounded time, with
the documented exit code: never a hang, never ``internal error ... exit 70``, never an
echo of what could be a key.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time

import pytest
from clirun import run_cli
from hypothesis import example, given, settings
from hypothesis import strategies as st

from abstractcore_secrets.cli._source_flags import FLAGS, problem_with
from abstractcore_secrets.cli._usage import shown_value
from abstractcore_secrets.llm_providers import looks_like_key
from abstractcore_secrets.testing import FaultProxy, free_port
from abstractcore_secrets.testing.canary import find_leaks


def configure_vault(config_path, address, token="root"):  # noqa: S107 - the dev server's
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(
        json.dumps({"secrets": {"sources": {"vault": {"addr": address, "token": token}}}})
    )
    config_path.chmod(0o600)


class RawServer:
    """A loopback TCP server that does one hostile thing to every connection."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held = []
        self.closing = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.closing.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(connection)
            if self.behaviour == "garbage":
                connection.recv(65536)
                connection.sendall(bytes(range(256)) * 16)
                connection.close()
            # "hang": keep the connection open, read nothing, answer nothing.

    def close(self):
        self.closing.set()
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def raw_server():
    servers = []

    def start(behaviour):
        server = RawServer(behaviour)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def doctor_json(*arguments):
    started = time.monotonic()
    result = run_cli("doctor", "--json", "--timeout", "1", "openai", *arguments)
    took = time.monotonic() - started
    assert "internal error" not in result.stderr
    return result.returncode, json.loads(result.stdout), took


def vault_check(document, name):
    [vault] = [r for r in document["sources"] if r["source"] == "vault"]
    return next(c for c in vault["checks"] if c["check"] == name)


class TestHostileServers:
    def test_a_server_that_never_answers_costs_the_timeout(self, config_path, raw_server):
        """Connects, then silence: the server check fails at --timeout (exit 5), no hang."""
        server = raw_server("hang")
        configure_vault(config_path, f"http://127.0.0.1:{server.port}")
        code, document, took = doctor_json()
        check = vault_check(document, "server")
        assert (code, check["status"]) == (5, "fail")
        assert check["detail"] == "Vault accepted the connection but did not answer within 1 s"
        assert took < 15

    def test_a_tls_handshake_that_never_ends(self, config_path, raw_server):
        """https to a server that never speaks: the tls check fails in bounded time."""
        server = raw_server("hang")
        configure_vault(config_path, f"https://127.0.0.1:{server.port}")
        code, document, took = doctor_json()
        check = vault_check(document, "tls")
        assert (code, check["status"]) == (5, "fail")
        assert "did not finish" in check["detail"]
        assert took < 15

    def test_set_secrets_provider_on_a_silent_server_gives_up(self, config_path, raw_server):
        """Verification of a server that never answers ends (doctor's 10 s), nothing saved."""
        server = raw_server("hang")
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            f"http://127.0.0.1:{server.port}",
            "--vault-token",
            stdin="hvs.hostile-0001\n",
            timeout=40,
        )
        assert result.returncode == 5
        assert "did not answer" in result.stdout
        assert not config_path.exists()

    def test_bytes_that_are_not_http(self, config_path, raw_server):
        """A server answering binary garbage: the server check fails, exit 5, no crash."""
        server = raw_server("garbage")
        configure_vault(config_path, f"http://127.0.0.1:{server.port}")
        code, document, _ = doctor_json()
        check = vault_check(document, "server")
        assert (code, check["status"]) == (5, "fail")
        assert check["detail"].startswith(f"http://127.0.0.1:{server.port}: ")

    @pytest.mark.server
    @pytest.mark.parametrize(
        ("status", "body", "headers", "code", "expected"),
        [
            (200, b"<html>Welcome</html>", {}, 3, "answers, but not as Vault's API does"),
            (200, b"[1, 2]", {"Content-Type": "application/json"}, 3, "not as Vault's API"),
            (
                200,
                b'{"initialized": true, "sealed": true, "standby": false}',
                {"Content-Type": "application/json"},
                5,
                "Vault is sealed: it serves no secret",
            ),
            (
                307,
                b"",
                {"Location": "http://attacker.example/v1/sys/health"},
                3,
                "redirecting to http://attacker.example, which was not followed",
            ),
            (
                503,
                b"{}",
                {"Content-Type": "application/json"},
                5,
                "answered HTTP 503: Vault, or what stands in front of it, is unavailable",
            ),
        ],
        ids=["html", "json-array", "sealed", "redirect", "503"],
    )
    def test_health_answers_that_are_not_a_working_vault(
        self, config_path, openbao, status, body, headers, code, expected
    ):
        """Whatever sys/health answers instead of Vault's health: a failed check and its code."""
        with FaultProxy(openbao.address) as proxy:
            proxy.respond(status, body, headers, path_contains="sys/health")
            configure_vault(config_path, proxy.address)
            got, document, _ = doctor_json()
        check = vault_check(document, "server")
        assert (got, check["status"]) == (code, "fail")
        assert expected in check["detail"]

    @pytest.mark.server
    def test_a_garbled_token_lookup(self, config_path, openbao):
        """lookup-self answering a JSON array: auth fails (no crash), reads skipped."""
        with FaultProxy(openbao.address) as proxy:
            proxy.respond(
                200, b"[1, 2]", {"Content-Type": "application/json"}, path_contains="lookup-self"
            )
            configure_vault(config_path, proxy.address)
            code, document, _ = doctor_json()
        assert vault_check(document, "auth")["status"] == "fail"
        assert vault_check(document, "read")["status"] == "skip"
        assert code in (3, 5)

    @pytest.mark.server
    def test_a_kv_answer_of_the_wrong_shape(self, config_path, openbao):
        """A 200 KV read whose data is a string: read fails as a configuration problem."""
        with FaultProxy(openbao.address) as proxy:
            proxy.respond(
                200,
                b'{"data": "not an object"}',
                {"Content-Type": "application/json"},
                path_contains="secret/data",
            )
            configure_vault(config_path, proxy.address)
            code, document, _ = doctor_json()
        check = vault_check(document, "read")
        assert (code, check["status"], check["problem"]) == (3, "fail", "configuration")
        assert "check that the address points at the Vault KV API" in check["detail"]

    def test_https_to_a_plain_http_port(self, config_path, openbao):
        """https:// to OpenBao's plain HTTP port: 'does not speak TLS', exit 3."""
        configure_vault(config_path, openbao.address.replace("http://", "https://"))
        code, document, _ = doctor_json()
        check = vault_check(document, "tls")
        assert (code, check["status"]) == (3, "fail")
        assert "does not speak TLS" in check["detail"]

    @pytest.mark.server
    def test_aws_answering_garbage(self, config_path, moto_server, aws_credentials):
        """An endpoint answering 200 with no JSON: the read is invalid (exit 3), not an outage."""
        with FaultProxy(moto_server) as proxy:
            proxy.respond(200, b"\x00\x01 not json", {"Content-Type": "application/x-amz-json-1.1"})
            config_path.parent.mkdir(parents=True)
            config_path.write_text(
                json.dumps(
                    {
                        "secrets": {
                            "sources": {
                                "aws": {"region": "us-east-1", "endpoint_url": proxy.address}
                            }
                        }
                    }
                )
            )
            config_path.chmod(0o600)
            result = run_cli("doctor", "openai", "--json", "--timeout", "3")
        document = json.loads(result.stdout)
        [aws] = [r for r in document["sources"] if r["source"] == "aws"]
        failed = [c for c in aws["checks"] if c["status"] == "fail"]
        assert result.returncode == 3
        assert failed[0]["problem"] == "configuration"


class TestHostileInput:
    @pytest.mark.parametrize(
        "address",
        [
            "ftp://vault.example.com",
            "https://",
            "http://[::1",
            "http://vault.example.com:99999",
            "vault.example.com",
            "//vault.example.com",
        ],
    )
    def test_addresses_that_are_not_urls(self, config_path, address):
        """Each is a usage error naming --vault-addr; none writes anything."""
        result = run_cli("--set-secrets-provider", "vault", "--vault-addr", address)
        assert result.returncode == 2
        assert result.stderr.startswith("error: --vault-addr ")
        assert "needs a scheme and a host" in result.stderr
        assert not config_path.exists()

    @pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e9", "ten"])
    def test_doctor_timeouts_out_of_range(self, value):
        """--timeout must be a number of seconds from 0.1 to 300."""
        result = run_cli("doctor", "--timeout", value)
        assert result.returncode == 2
        assert "--timeout" in result.stderr

    def test_an_empty_provider_name(self):
        """doctor '' is no provider: exit 3, said in the CLI's terms."""
        result = run_cli("doctor", "")
        assert result.returncode == 3
        assert "PROVIDER is not a provider name (0 characters" in result.stderr

    @pytest.mark.parametrize(
        ("stdin", "problem"),
        [
            ("sk-" + "a" * 1_000_000 + "\n", "is longer than 8192 characters"),
            ("sk-nul\x00inside\n", "holds spaces or control characters"),
            ("sk-zero\u200bwidth\n", "holds spaces or control characters"),
            ("\n\nsk-on-line-three\n", "no openai key was given (an empty line)"),
        ],
        ids=["a-megabyte", "nul", "zero-width-space", "key-not-on-first-line"],
    )
    def test_set_key_input_no_key_is(self, config_path, stdin, problem):
        """A megabyte, a NUL, an invisible space, a key after blank lines: exit 2, no file."""
        result = run_cli("set-key", "openai", stdin=stdin)
        assert result.returncode == 2
        assert problem in result.stderr
        assert not config_path.exists()
        assert len(result.stderr) < 1000

    def test_a_config_file_that_is_not_utf8(self, config_path):
        """doctor, status and get on a config file of binary bytes: exit 3, naming it."""
        config_path.parent.mkdir(parents=True)
        config_path.write_bytes(b'{"api_keys": {"openai": "\xff\xfe"}}')
        config_path.chmod(0o600)
        for command in (("doctor",), ("status",), ("get", "openai")):
            result = run_cli(*command)
            assert result.returncode == 3, (command, result.stderr)
            assert str(config_path) in result.stdout + result.stderr
            assert "internal error" not in result.stderr

    def test_a_token_file_that_holds_a_key_is_not_shown(self, config_path, tmp_path):
        """--vault-token-file naming a file: the file's content never reaches the output."""
        secret = "hvs.hostile-token-file-0123456789"
        token_file = tmp_path / "token"
        token_file.write_text(secret)
        token_file.chmod(0o600)
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            f"http://127.0.0.1:{free_port()}",
            "--vault-token-file",
            str(token_file),
        )
        assert result.returncode == 5
        assert find_leaks([result.stdout, result.stderr], [secret]) == []


@settings(max_examples=200, deadline=None)
@given(
    flag=st.sampled_from([f for f in FLAGS if f.kind not in ("choice", "stdin")]),
    value=st.text(st.characters(codec="utf-8"), max_size=300),
)
@example(flag=FLAGS[0], value="sk-proj-" + "Ab1" * 12)
@example(flag=FLAGS[0], value="https://vault.example.com/" + "0123456789abcdef" * 2)
@example(flag=FLAGS[0], value="https://user:hunter2@vault.example.com")
def test_a_flag_value_is_quoted_only_when_no_part_of_it_could_be_a_key(flag, value):
    """Whatever the value, the check never raises, and quotes it only when it is safe."""
    problem = problem_with(flag, value)
    if problem is None or len(value.strip()) < 8:
        return
    parts = [part for part in re.split(r"[\s:/@?#=&,;]+", value) if part]
    if any(looks_like_key(part) for part in parts) or not value.isprintable():
        assert value not in problem
    if value in problem:
        assert shown_value(value) in problem
