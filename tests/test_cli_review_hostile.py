"""A hostile review of the operator's CLI: servers that quote what they were sent, answers
made to drive a terminal, inputs at the edges, settings that only fail on the day.

Each case is one an attacker or a demanding operator would try and the CLI's own tests did
not: a server echoing the token it received into a redirect or an error code, escape
sequences in a server's text, a TLS peer that hangs up mid-handshake, a CA bundle that holds
no certificate, a host name no resolver takes, an interrupt during verification, a profile
that overrides what ``--set-secrets-provider`` writes, an output that cannot be written.
Every command runs as a child process against a real server on loopback: OpenBao, or a
small hostile HTTP server of this module's.
"""

from __future__ import annotations

import json
import os
import pty
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from clirun import run_cli

from abstractcore_secrets.audit.journal import Journal
from abstractcore_secrets.testing import FaultProxy
from abstractcore_secrets.testing.canary import canary, find_leaks

AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIAREVIEW0000000001", "AWS_SECRET_ACCESS_KEY": "review-secret"}
HEALTHY = {"initialized": True, "sealed": False, "standby": False, "version": "2.7.2"}
# Escape sequences that retitle the window, ring the bell, clear the screen, return the
# carriage, break the line to forge one of doctor's, and reverse the text that follows.
DRIVES_A_TERMINAL = "Evil\x1b]0;owned\x07\x1b[2J\r\nok    read       all fine\u202e"
RAW_CONTROLS = ("\x1b", "\x07", "\r", "\u202e")
NOT_A_HOST = "ab-" * 30 + "x"  # one label of 91 characters: no resolver takes it


def write_config(config_path: Path, document: object) -> bytes:
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(document))
    config_path.chmod(0o600)
    return config_path.read_bytes()


def vault_config(config_path: Path, address: str, **options: object) -> bytes:
    return write_config(
        config_path, {"secrets": {"sources": {"vault": {"addr": address, **options}}}}
    )


def aws_config(config_path: Path, endpoint: str) -> bytes:
    return write_config(
        config_path,
        {"secrets": {"sources": {"aws": {"region": "us-east-1", "endpoint_url": endpoint}}}},
    )


def json_answer(status: int, data: object, content_type: str = "application/json"):
    return status, {"Content-Type": content_type}, json.dumps(data).encode()


class HostileServer(ThreadingHTTPServer):
    """A loopback HTTP server whose every answer ``answer(method, path, headers, body)``
    decides; it remembers the paths asked."""

    daemon_threads = True

    def __init__(self, answer) -> None:
        self.answer = answer
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), _HostileHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _HostileHandler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.paths.append(self.path)
        status, headers, payload = self.server.answer(self.command, self.path, self.headers, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, *arguments: object) -> None:
        """Log nothing: requests carry tokens."""


class SilentPeer:
    """A loopback TCP listener that reads what it is sent, then hangs up, or holds on."""

    def __init__(self, *, hang_up: bool) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.hang_up = hang_up
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            if self.hang_up:
                connection.recv(65536)  # the whole ClientHello: then a clean close, no reset
                connection.close()
            else:
                self.held.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def hostile():
    servers: list[HostileServer] = []

    def start(answer) -> HostileServer:
        servers.append(HostileServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def peer():
    peers: list[SilentPeer] = []

    def start(*, hang_up: bool) -> SilentPeer:
        peers.append(SilentPeer(hang_up=hang_up))
        return peers[-1]

    yield start
    for started in peers:
        started.close()


def vault_redirecting_to(credential_of):
    """A Vault whose health is fine and that redirects every other request to a host
    named by what ``credential_of(headers, body)`` finds in it."""

    def answer(method, path, headers, body):
        if "sys/health" in path:
            return json_answer(200, HEALTHY)
        return 307, {"Location": f"http://{credential_of(headers, body)}/v1/x"}, b""

    return answer


def run_all(commands, env=None):
    """Run each command; return every text it printed, in order."""
    printed = []
    for arguments in commands:
        result = run_cli(*arguments, env=env)
        assert "internal error" not in result.stderr, (arguments, result.stderr)
        printed += [result.stdout, result.stderr]
    return printed


class TestServersQuotingTheCredentialTheyWereSent:
    @pytest.mark.parametrize("where", ["inline", "token-file"])
    def test_a_vault_token_in_a_redirect_is_masked_everywhere(
        self, config_path, tmp_path, hostile, where
    ):
        """Vault answers 307 to http://<the token>: doctor, status and get print no token."""
        token = canary()
        server = hostile(vault_redirecting_to(lambda headers, _: headers["X-Vault-Token"]))
        if where == "inline":
            vault_config(config_path, server.address, token=token)
        else:
            token_file = tmp_path / "vault-token"
            token_file.write_text(token + "\n")
            token_file.chmod(0o600)
            vault_config(config_path, server.address, token_file=str(token_file))
        printed = run_all(
            [
                ("doctor", "openai", "--timeout", "3"),
                ("doctor", "openai", "--json"),
                ("status",),
                ("status", "openai", "--json"),
                ("get", "openai"),
            ]
        )
        assert "Vault answered 307 redirecting to http://" in printed[0]  # the echo happened
        assert find_leaks(printed, [token]) == []

    def test_set_secrets_provider_verifying_a_token_file_masks_its_echo(
        self, config_path, tmp_path, hostile
    ):
        """The token read from --vault-token-file, echoed back during verification: masked."""
        token = canary()
        token_file = tmp_path / "vault-token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        server = hostile(vault_redirecting_to(lambda headers, _: headers["X-Vault-Token"]))
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            server.address,
            "--vault-token-file",
            str(token_file),
        )
        assert result.returncode == 3  # an answer that is not Vault's own: a redirect
        assert "fail  auth" in result.stdout
        assert find_leaks([result.stdout, result.stderr], [token]) == []
        assert not config_path.exists()

    def test_an_aws_session_token_in_an_error_code_is_masked(self, config_path, hostile):
        """An endpoint answering 400 with the session token as its error code: masked."""
        session_token = canary()

        def answer(method, path, headers, body):
            code = {"__type": headers.get("X-Amz-Security-Token", "none"), "message": "no"}
            return json_answer(400, code, "application/x-amz-json-1.1")

        server = hostile(answer)
        aws_config(config_path, server.address)
        env = {**AWS_ENV, "AWS_SESSION_TOKEN": session_token}
        printed = run_all(
            [
                ("doctor", "openai", "--timeout", "3"),
                ("doctor", "openai", "--json"),
                ("status", "openai"),
                ("get", "openai", "--json"),
            ],
            env=env,
        )
        assert "fail  read       invalid for openai: aws:abstractcore/openai: " in printed[0]
        assert find_leaks(printed, [session_token, AWS_ENV["AWS_SECRET_ACCESS_KEY"]]) == []

    def test_an_approle_secret_id_in_a_redirect_is_masked(self, config_path, tmp_path, hostile):
        """The AppRole login's secret_id, echoed in a Location host, is never printed."""
        secret_id = str(uuid.uuid4())
        (tmp_path / "role-id").write_text("review-role")
        (tmp_path / "secret-id").write_text(secret_id)
        (tmp_path / "secret-id").chmod(0o600)
        server = hostile(vault_redirecting_to(lambda _, body: json.loads(body)["secret_id"]))
        auth = {
            "method": "approle",
            "role_id_file": str(tmp_path / "role-id"),
            "secret_id_file": str(tmp_path / "secret-id"),
        }
        vault_config(config_path, server.address, auth=auth)
        printed = run_all([("status", "openai"), ("doctor", "openai", "--timeout", "3")])
        assert "redirecting to http://" in printed[0]
        assert find_leaks(printed, [secret_id]) == []


def assert_shown_as_text(*texts: str) -> None:
    """No control character reached the terminal; the forged line stayed inside another."""
    for text in texts:
        for control in RAW_CONTROLS:
            assert control not in text, (control, text)
        assert not any(line.startswith("ok    read") for line in text.splitlines())


class TestServerTextReachesTheTerminalAsText:
    def test_an_aws_error_code_made_of_escape_sequences(self, config_path, hostile):
        """doctor, status and get show the code with its controls escaped, on one line."""
        server = hostile(
            lambda *_: json_answer(
                400, {"__type": DRIVES_A_TERMINAL, "message": "x"}, "application/x-amz-json-1.1"
            )
        )
        aws_config(config_path, server.address)
        doctor = run_cli("doctor", "openai", "--timeout", "3", env=AWS_ENV)
        status = run_cli("status", "openai", env=AWS_ENV)
        got = run_cli("get", "openai", env=AWS_ENV)
        # An answer that is not AWS's: 3 for doctor and get; status tells its error outcome, 5.
        assert (doctor.returncode, status.returncode, got.returncode) == (3, 5, 3)
        assert_shown_as_text(*(r.stdout + r.stderr for r in (doctor, status, got)))
        shown = "Evil\\x1b]0;owned\\x07\\x1b[2J\\r\\nok    read       all fine\\u202e"
        assert f"aws:abstractcore/openai: {shown}: check the secret id" in doctor.stdout
        assert f"aws invalid for openai: aws:abstractcore/openai: {shown}" in status.stdout

    def test_a_vault_version_made_of_escape_sequences(self, config_path, hostile):
        """sys/health's version and a KV version of controls: doctor and get escape them."""
        key = canary("sk-review")

        def answer(method, path, headers, body):
            if "sys/health" in path:
                return json_answer(200, {**HEALTHY, "version": "\x1b[2J1.0\r\nok"})
            if "lookup-self" in path:
                return json_answer(200, {"data": {"ttl": 0, "renewable": False}})
            kv = {"data": {"openai": key}, "metadata": {"version": DRIVES_A_TERMINAL}}
            return json_answer(200, {"data": kv})

        server = hostile(answer)
        vault_config(config_path, server.address, token="review-token")
        doctor = run_cli("doctor", "openai", "--timeout", "3")
        got = run_cli("get", "openai")
        assert (doctor.returncode, got.returncode) == (0, 0), doctor.stdout + got.stderr
        assert "ok    server     version \\x1b[2J1.0\\r\\nok, unsealed, active" in doctor.stdout
        assert_shown_as_text(doctor.stdout, doctor.stderr, got.stdout, got.stderr)
        assert "\\x1b]0;owned" in got.stdout
        assert find_leaks([doctor.stdout, got.stdout, got.stderr], [key]) == []


class TestDoctorAgainstPeersThatMisbehave:
    def test_a_peer_that_hangs_up_mid_handshake_is_an_outage(self, config_path, peer):
        """Reads the ClientHello, closes cleanly: tls did not finish, exit 5 as for a reset."""
        server = peer(hang_up=True)
        vault_config(config_path, f"https://127.0.0.1:{server.port}", token="t")
        result = run_cli("doctor", "openai", "--json", "--timeout", "2")
        [vault] = [s for s in json.loads(result.stdout)["sources"] if s["source"] == "vault"]
        tls = next(c for c in vault["checks"] if c["check"] == "tls")
        assert result.returncode == 5
        assert (tls["status"], tls["problem"]) == ("fail", "failed")
        assert tls["detail"] == (
            f"the TLS handshake with 127.0.0.1:{server.port} did not finish "
            "(the server closed the connection)"
        )

    @pytest.mark.server
    def test_a_health_answer_one_byte_at_a_time_costs_the_timeout(self, config_path, openbao):
        """Each byte restarts the SDK's read timeout; doctor's own bound ends the check."""
        with FaultProxy(openbao.address) as proxy:
            proxy.trickle(0.3, path_contains="sys/health")
            vault_config(config_path, proxy.address, token=openbao.root_token)
            started = time.monotonic()
            result = run_cli("doctor", "openai", "--timeout", "1")
            took = time.monotonic() - started
        assert result.returncode == 5
        assert (
            "fail  server     Vault accepted the connection but did not answer within 1 s"
        ) in result.stdout
        assert took < 20

    @pytest.mark.parametrize(
        ("bundle", "problem"),
        [("garbage", "it holds no PEM certificate (SSLError)"), ("missing", "no such file")],
    )
    def test_a_ca_bundle_that_cannot_be_used_is_a_trust_problem(
        self, config_path, tmp_path, peer, bundle, problem
    ):
        """REQUESTS_CA_BUNDLE naming no certificate: tls fails, exit 3, never exit 70."""
        path = tmp_path / "ca.pem"
        if bundle == "garbage":
            path.write_text("not a certificate\n")
        server = peer(hang_up=False)
        vault_config(config_path, f"https://127.0.0.1:{server.port}", token="t")
        result = run_cli(
            "doctor", "openai", "--timeout", "2", env={"REQUESTS_CA_BUNDLE": str(path)}
        )
        assert result.returncode == 3, result.stderr
        assert f"fail  tls        the CA bundle {path} cannot be used: {problem}" in result.stdout

    def test_set_secrets_provider_with_a_ca_file_that_is_no_pem(self, config_path, tmp_path, peer):
        """--vault-cacert naming text: verification fails (exit 3), the file is kept."""
        before = vault_config(config_path, "https://127.0.0.1:1", token="kept")
        not_pem = tmp_path / "ca.pem"
        not_pem.write_text("not a certificate\n")
        server = peer(hang_up=False)
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            f"https://127.0.0.1:{server.port}",
            "--vault-cacert",
            str(not_pem),
            "--vault-token",
            stdin="hvs.review-0001\n",
        )
        assert result.returncode == 3, result.stderr
        assert "holds no PEM certificate" in result.stdout
        assert config_path.read_bytes() == before

    def test_a_host_name_no_resolver_takes(self, config_path):
        """A 91-character label: doctor fails reachable (exit 3); the flag is refused (2)."""
        address = f"https://{NOT_A_HOST}:8200"
        vault_config(config_path, address, token="t")
        doctor = run_cli("doctor", "openai", "--timeout", "2")
        assert doctor.returncode == 3, doctor.stderr
        assert "fail  reachable  the address does not name a valid host" in doctor.stdout
        config_path.unlink()
        flag = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            address,
            "--vault-token",
            stdin="hvs.review-0001\n",
        )
        assert (flag.returncode, flag.stdout) == (2, "")
        assert flag.stderr.endswith("does not name a valid host\n")
        assert not config_path.exists()

    def test_an_aws_endpoint_the_sdk_refuses_is_a_settings_failure(self, config_path):
        """botocore's ValueError for the endpoint: doctor's settings check fails, exit 3."""
        aws_config(config_path, f"https://{NOT_A_HOST}:443")
        result = run_cli("doctor", "openai", "--json", env=AWS_ENV)
        assert result.returncode == 3, result.stderr
        [aws] = [s for s in json.loads(result.stdout)["sources"] if s["source"] == "aws"]
        check = aws["checks"][0]
        assert (check["check"], check["status"], check["problem"]) == (
            "settings",
            "fail",
            "configuration",
        )
        # Our words, naming both settings and the fix; never the SDK's text quoting them.
        assert check["detail"].startswith("AWS Secrets Manager refuses endpoint_url=(a text of")
        assert "--aws-endpoint-url" in check["detail"]
        assert NOT_A_HOST not in result.stdout

    def test_status_with_an_aws_endpoint_the_sdk_refuses(self, config_path):
        """The same settings: status says what is wrong (exit 3), not 'internal error'."""
        aws_config(config_path, f"https://{NOT_A_HOST}:443")
        result = run_cli("status", "openai", env=AWS_ENV)
        assert result.returncode == 3, result.stderr


class TestSetSecretsProviderChangesNothingUnlessItWorks:
    def test_an_interrupt_during_verification(self, config_path, peer):
        """Ctrl-C while a silent server is checked: 'aborted', exit 2, the file unchanged."""
        before = write_config(config_path, {"api_keys": {"openai": "sk-review-kept-0001"}})
        server = peer(hang_up=False)
        address = f"http://127.0.0.1:{server.port}"
        command = ("--set-secrets-provider", "vault", "--vault-addr", address, "--vault-token")
        process = subprocess.Popen(
            [sys.executable, "-m", "abstractcore_secrets", *command, "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write(b"hvs.review-interrupted-0001\n")
        process.stdin.close()
        process.stdin = None
        time.sleep(3)  # started, and waiting on the server's health
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
        assert process.returncode == 2
        assert stderr.decode().strip() == "error: aborted"
        assert b"Traceback" not in stdout + stderr
        assert config_path.read_bytes() == before

    def test_a_profile_that_overrides_the_flags_is_refused(self, config_path):
        """The active profile sets the address: saving would verify one, use another."""
        before = write_config(
            config_path,
            {
                "secrets": {
                    "profile": "ops",
                    "profiles": {"ops": {"sources": {"vault": {"addr": "http://127.0.0.1:1"}}}},
                }
            },
        )
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            "http://127.0.0.1:8200",
            "--no-verify",
            "--vault-token",
            stdin="hvs.review-0001\n",
        )
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == (
            "error: the active profile 'ops' sets addr in secrets.profiles.'ops'.sources.vault, "
            "which overrides what these flags would write to secrets.sources.vault: they "
            "would never be used. Change them in the profile, or run without it "
            "(ABSTRACTCORE_SECRETS_PROFILE, secrets.profile); nothing was saved\n"
        )
        assert config_path.read_bytes() == before

    @pytest.mark.server
    def test_what_is_verified_is_what_the_profile_makes_of_the_flags(self, config_path, openbao):
        """A profile adding a path: verification reads there, and so does get afterwards."""
        folder = f"review-{uuid.uuid4().hex[:8]}"
        openbao.put_kv(folder, {"groq": "gsk-review-profile-0001"})
        profile = {"sources": {"vault": {"path": f"secret/data/{folder}"}}}
        write_config(config_path, {"secrets": {"profile": "ops", "profiles": {"ops": profile}}})
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            openbao.address,
            "--vault-token",
            stdin=openbao.root_token + "\n",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "groq readable" in result.stdout
        assert run_cli("get", "groq", "--reveal").stdout == "gsk-review-profile-0001\n"


class TestSetKeyAtTheEdges:
    def test_a_long_line_of_wide_characters_is_too_long_not_undecodable(self, config_path):
        """9,000 four-byte characters: cut where stdin is read, told as too long, not stored."""
        result = run_cli("set-key", "openai", stdin=("\U0001f511" * 9000 + "\n").encode())
        assert result.returncode == 2
        assert result.stderr == (
            "error: the openai key read from stdin is longer than 8192 characters, the "
            "longest accepted (not echoed); nothing was changed\n"
        )
        assert not config_path.exists()

    @pytest.mark.parametrize(("length", "code"), [(8192, 0), (8193, 2)])
    def test_the_longest_key_and_one_more(self, config_path, length, code):
        """8,192 characters are a key; 8,193 are not."""
        value = "k" * length
        result = run_cli("set-key", "openai", stdin=value + "\n")
        assert result.returncode == code, result.stderr
        assert config_path.exists() is (code == 0)
        assert find_leaks([result.stdout, result.stderr], [value]) == []


class TestTerminalWidth:
    @pytest.mark.parametrize(
        "columns",
        ["\u00b2", "1" * 5000, "0", "-7", "eighty", "", " 999999 "],
        ids=["superscript-two", "5000-digits", "zero", "negative", "word", "empty", "huge"],
    )
    def test_no_columns_value_breaks_a_command(self, columns):
        """A digit int() refuses, too many digits, nonsense: the commands work as usual."""
        env = {"COLUMNS": columns}
        codes = [run_cli(*command, env=env) for command in (("status", "openai"), ("doctor",))]
        assert [(r.returncode, "internal error" in r.stderr) for r in codes] == [
            (1, False),
            (0, False),
        ]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
class TestAnOutputThatCannotBeWritten:
    def test_a_full_disk_is_told_not_reported_as_our_bug(
        self, tmp_path, signing_key, public_key_file
    ):
        """stdout on /dev/full: each command says so and exits 2, never 70 or a traceback."""
        journal = tmp_path / "audit.jsonl"
        writer = Journal(journal, signing_key, checkpoint_every=10)
        for _ in range(30):
            writer({"event": "secret.resolved", "outcome": "found", "provider": "openai"})
        writer.close()
        commands = [
            ("status",),
            ("doctor", "--json"),
            ("get", "openai", "--reveal"),
            ("audit", "verify", str(journal), "--key", str(public_key_file)),
        ]
        env = {**os.environ, "OPENAI_API_KEY": "sk-review-full-disk-0001"}
        env.pop("COLUMNS", None)
        for command in commands:
            with Path("/dev/full").open("w") as full:
                result = subprocess.run(
                    [sys.executable, "-m", "abstractcore_secrets", *command],
                    stdout=full,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                    check=False,
                )
            assert (result.returncode, result.stderr) == (
                2,
                "error: cannot write to standard output: No space left on device\n",
            ), command


def run_on_one_terminal(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with standard output and standard error on one pseudo-terminal."""
    controller, terminal = pty.openpty()
    env = {name: value for name, value in os.environ.items() if name != "COLUMNS"}
    process = subprocess.Popen(
        [sys.executable, "-m", "abstractcore_secrets", *arguments],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown.extend(chunk)
    process.wait(timeout=60)
    os.close(controller)
    return subprocess.CompletedProcess(
        process.args, process.returncode, shown.decode("utf-8", "replace"), ""
    )


class TestProgressOnOneTerminal:
    def test_export_to_the_terminal_draws_no_bar_verify_does(
        self, tmp_path, signing_key, public_key_file
    ):
        """Both outputs on the terminal: export's records would tangle with a bar."""
        journal = tmp_path / "audit.jsonl"
        writer = Journal(journal, signing_key, checkpoint_every=100)
        for number in range(500):
            writer(
                {
                    "time": f"2026-11-28T10:{number // 60 % 60:02d}:{number % 60:02d}+00:00",
                    "event": "secret.resolved",
                    "outcome": "found",
                    "provider": "openai",
                    "pad": "x" * 99,
                }
            )
        writer.close()
        exported = run_on_one_terminal("audit", "export", str(journal))
        verified = run_on_one_terminal(
            "audit", "verify", str(journal), "--key", str(public_key_file)
        )
        assert (exported.returncode, verified.returncode) == (0, 0)
        assert exported.stdout.count('"secret.resolved"') == 500
        assert "exporting" not in exported.stdout
        assert "verifying" in verified.stdout


class TestSettingsThatFailOnlyOnTheDay:
    def test_a_profile_whose_sources_are_null_fails_while_inactive_too(self, config_path):
        """Null sources fail the day the profile is chosen: so they fail every day."""
        write_config(config_path, {"secrets": {"profiles": {"dev": {"sources": None}}}})
        inactive = run_cli("status")
        active = run_cli("status", env={"ABSTRACTCORE_SECRETS_PROFILE": "dev"})
        assert (inactive.returncode, active.returncode) == (3, 3)
        assert "secrets.sources must be a JSON object (in profile 'dev')" in inactive.stderr

    def test_unknown_variables_are_each_named_with_their_fix_but_a_key_shaped_one(self):
        """Each typo is named with the variable meant; a name that could be a key is not."""
        pasted = secrets.token_hex(16).upper()
        env = {
            "ABSTRACTCORE_SECRETS_CACHE_TTLL": "5",
            "ABSTRACTCORE_SECRETS_FOO": "1",
            f"ABSTRACTCORE_SECRETS_SK_PROJ_{pasted}": "1",
        }
        status = run_cli("status", env=env)
        doctor = run_cli("doctor", "--json", env=env)
        assert (status.returncode, doctor.returncode) == (3, 3)
        assert status.stderr.startswith(
            "error: the environment sets ABSTRACTCORE_SECRETS_CACHE_TTLL (did you mean "
            "'ABSTRACTCORE_SECRETS_CACHE_TTL'?), ABSTRACTCORE_SECRETS_FOO, a variable of 61 "
            "characters (not shown: its name could be a key), which this version does not "
            "read; unset them or correct the name (known: "
        )
        [load] = json.loads(doctor.stdout)["sources"][0]["checks"]
        assert load["detail"] in status.stderr
        assert find_leaks([status.stderr, doctor.stdout, doctor.stderr], [pasted]) == []

    @pytest.mark.parametrize("where", ["outside-the-chain", "inactive-profile"])
    def test_a_typo_in_a_login_option_is_refused_every_day(self, config_path, where):
        """auth.metod instead of auth.method: refused before the day vault is used."""
        vault = {"addr": "https://vault.example.com", "auth": {"metod": "approle"}}
        section = (
            {"chain": ["env", "config"], "sources": {"vault": vault}}
            if where == "outside-the-chain"
            else {"profiles": {"prod": {"sources": {"vault": vault}}}}
        )
        write_config(config_path, {"secrets": section})
        result = run_cli("status")
        assert result.returncode == 3
        assert "did you mean 'method'?" in result.stderr


def test_the_demo_touches_nothing_of_the_shell_it_runs_in(hostile):
    """The shell's keys, Vault, OTel switches and a typo'd variable change nothing in it."""
    vault = hostile(lambda *_: json_answer(500, {"errors": ["recorded"]}))
    key, token = canary("sk-review"), canary()
    env = {
        "OPENAI_API_KEY": key,
        "VAULT_ADDR": vault.address,
        "VAULT_TOKEN": token,
        "ABSTRACTCORE_SECRETS_CHIAN": "env",
        "OTEL_SDK_DISABLED": "true",
        "OTEL_TRACES_SAMPLER": "always_off",
    }
    result = run_cli("demo", env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "resolutions counted by the metric: 3" in result.stdout
    assert "secrets.resolve  openai" in result.stdout
    assert vault.paths == []
    assert find_leaks([result.stdout, result.stderr], [key, token]) == []


class TestJsonStaysJson:
    @pytest.mark.parametrize("value", ['"found"', '"found",', '{"provider":', "openai-env"])
    def test_a_key_shaped_like_json_syntax_is_masked_without_breaking_the_json(
        self, config_path, value
    ):
        """A learnt value that is also a piece of the JSON text: masked where it is a value,
        and the output still parses (it was masked across the syntax, and did not)."""
        env = {"OPENAI_API_KEY": value, "ABSTRACTCORE_SECRETS_CHAIN": "env"}
        for command in (("status", "openai", "--json"), ("get", "openai", "--json")):
            result = run_cli(*command, env=env)
            assert result.returncode in (0, 1), result.stderr
            document = json.loads(result.stdout)  # parses
            assert not [leaf for leaf in _leaves(document) if value in leaf]


def _leaves(data: object) -> list[str]:
    """Every key and scalar of a parsed JSON document, as text."""
    if isinstance(data, dict):
        return [text for k, v in data.items() for text in (str(k), *_leaves(v))]
    if isinstance(data, list):
        return [text for item in data for text in _leaves(item)]
    return [str(data)]
