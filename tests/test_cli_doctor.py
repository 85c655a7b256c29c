"""``doctor`` against real servers: OpenBao, moto, the Key Vault emulator, TLS fronts.

Every test runs the CLI as a child process, as an operator would, against a server started
by a fixture, and reads doctor's JSON (or its text) for what it must say: which check
failed, why, how to fix it, and the exit code scripts rely on.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import select
import socket
import socketserver
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme
from clirun import run_cli

from abstractcore_secrets.testing import (
    AzureKeyVaultEmulator,
    FaultProxy,
    OpenBaoServer,
    free_port,
)
from abstractcore_secrets.testing.canary import canary, find_leaks

pytestmark = pytest.mark.server

FAST = ("--timeout", "3")


def configure(config_path, sources=None, api_keys=None, mode=0o600):
    """Write the config file as an operator's would be: sources, keys, mode 0600."""
    document = {}
    if api_keys:
        document["api_keys"] = api_keys
    if sources is not None:
        document["secrets"] = {"sources": sources}
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(document))
    config_path.chmod(mode)


def doctor(*arguments, env=None):
    """Run ``doctor --json``; return the exit code and the document."""
    result = run_cli("doctor", "--json", *FAST, *arguments, env=env)
    assert result.stdout, result.stderr
    document = json.loads(result.stdout)
    assert document["exit_code"] == result.returncode
    return result.returncode, document


def checks_of(document, source):
    """Return ``{check: status}`` of a source; the read checks as a list of statuses."""
    [report] = [r for r in document["sources"] if r["source"] == source]
    statuses = {}
    for check in report["checks"]:
        if check["check"] == "read":
            statuses.setdefault("read", []).append(check["status"])
        else:
            statuses[check["check"]] = check["status"]
    return statuses


def check(document, source, name, status=None):
    """Return the (first) check ``name`` of ``source``, of ``status`` when given."""
    [report] = [r for r in document["sources"] if r["source"] == source]
    return next(
        c
        for c in report["checks"]
        if c["check"] == name and (status is None or c["status"] == status)
    )


def kv_path():
    return f"doctor-{uuid.uuid4().hex[:8]}"


def vault_source(server, path, token=None, **more):
    return {
        "addr": server.address,
        "token": server.root_token if token is None else token,
        "path": f"secret/data/{path}",
        **more,
    }


def new_token(openbao, **options):
    return openbao.request("POST", "auth/token/create", options)["auth"]["client_token"]


class TestDoctorOnVault:
    def test_a_healthy_vault_passes_every_check(self, config_path, openbao):
        """Reachable, unsealed, token accepted, each provider read: exit 0, latency shown."""
        path = kv_path()
        openbao.put_kv(path, {"groq": "gsk-doctor-healthy-0001"})
        configure(config_path, {"vault": vault_source(openbao, path)})
        code, document = doctor()
        assert code == 0
        assert checks_of(document, "vault") == {
            "settings": "ok",
            "reachable": "ok",
            "server": "ok",
            "auth": "ok",
            "read": ["ok"],
        }
        read = check(document, "vault", "read")
        assert read["providers"]["groq"] == "found"
        assert read["providers"]["openai"] == "not_found"
        assert "groq readable" in read["detail"]
        assert " a read)" in read["detail"]
        assert check(document, "vault", "auth")["detail"] == (
            "token login accepted: token never expires, not renewable; policies: root"
        )
        assert check(document, "vault", "reachable")["ms"] is not None
        assert document["chain"] == ["env", "vault", "config"]

    def test_the_text_report_ends_with_the_verdict(self, config_path, openbao):
        """Without --json: one line per check, and the closing verdict."""
        path = kv_path()
        openbao.put_kv(path, {"groq": "gsk-doctor-text-0001"})
        configure(config_path, {"vault": vault_source(openbao, path)})
        result = run_cli("doctor", "groq")
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert lines[-1] == "doctor: every check passed"
        assert f"vault  ({openbao.address})" in lines
        assert any(line.split()[:2] == ["ok", "auth"] for line in lines)
        assert any(line.split()[:3] == ["ok", "read", "groq"] for line in lines)

    def test_a_stopped_vault_fails_reachability_with_the_fix(self, config_path):
        """Vault stopped: reachable fails (exit 5) naming --vault-addr; later checks skipped."""
        with OpenBaoServer() as server:
            path = kv_path()
            server.put_kv(path, {"openai": "sk-doctor-stopped-0001"})
            configure(config_path, {"vault": vault_source(server, path)})
            assert doctor()[0] == 0
        code, document = doctor()
        assert code == 5
        reachable = check(document, "vault", "reachable")
        assert reachable["status"] == "fail"
        assert reachable["problem"] == "failed"
        assert "connection refused" in reachable["detail"]
        assert "--set-secrets-provider vault --vault-addr URL" in reachable["fix"]
        assert checks_of(document, "vault") == {
            "settings": "ok",
            "reachable": "fail",
            "tls": "skip",
            "server": "skip",
            "auth": "skip",
            "read": ["skip"],
        }

    def test_a_wrong_token_is_refused_with_the_way_to_give_one(self, config_path, openbao):
        """A token Vault does not know: auth fails (exit 4), the fix names --vault-token -."""
        configure(config_path, {"vault": vault_source(openbao, kv_path(), token="hvs.not-a-token")})
        code, document = doctor()
        assert code == 4
        auth = check(document, "vault", "auth")
        assert auth["status"] == "fail"
        assert auth["problem"] == "denied"
        assert "the token is invalid, expired or revoked" in auth["detail"]
        assert "--vault-token -" in auth["fix"]
        assert checks_of(document, "vault")["read"] == ["skip"]

    def test_a_token_without_read_permission_names_the_policy_to_add(self, config_path, openbao):
        """A valid token whose policy reads another path: read fails (exit 4) with the policy."""
        path = kv_path()
        openbao.put_kv(path, {"openai": "sk-doctor-forbidden-0001"})
        openbao.request(
            "POST",
            "sys/policies/acl/doctor-elsewhere",
            {"policy": 'path "secret/data/elsewhere" { capabilities = ["read"] }'},
        )
        token = new_token(openbao, policies=["doctor-elsewhere"], ttl="1h")
        configure(config_path, {"vault": vault_source(openbao, path, token=token)})
        code, document = doctor("openai", "groq")
        assert code == 4
        auth = check(document, "vault", "auth")
        assert auth["status"] == "ok"
        assert "policies: default, doctor-elsewhere" in auth["detail"]
        denied = check(document, "vault", "read", "fail")
        assert denied["problem"] == "denied"
        assert denied["detail"].startswith("forbidden for openai, groq: ")
        assert denied["providers"] == {"openai": "forbidden", "groq": "forbidden"}
        assert denied["fix"] == (
            f"give the token a policy that reads secret/data/{path}: "
            f'path "secret/data/{path}" {{ capabilities = ["read"] }}'
        )

    def test_a_short_lived_token_that_cannot_be_renewed_is_a_warning(self, config_path, openbao):
        """Valid now, gone in 90 s, not renewable: exit 0, and the warning says what to do."""
        path = kv_path()
        openbao.put_kv(path, {"openai": "sk-doctor-short-0001"})
        token = new_token(openbao, policies=["root"], ttl="90s", renewable=False)
        configure(config_path, {"vault": vault_source(openbao, path, token=token)})
        code, document = doctor("openai")
        assert code == 0
        auth = check(document, "vault", "auth")
        assert auth["status"] == "warn"
        assert "token login accepted: token " in auth["detail"]
        assert " s left, not renewable" in auth["detail"]
        assert "renewable or longer-lived token" in auth["fix"]
        assert document["warnings"] == 1
        text = run_cli("doctor", "openai").stdout
        assert text.splitlines()[-1] == "doctor: 1 warning (exit 0)"

    def test_a_renewable_token_shows_its_time_left(self, config_path, openbao):
        """A renewable token with a TTL: its time left and 'renewable', no warning."""
        path = kv_path()
        openbao.put_kv(path, {"openai": "sk-doctor-renewable-0001"})
        token = new_token(openbao, policies=["root"], ttl="90m", renewable=True)
        configure(config_path, {"vault": vault_source(openbao, path, token=token)})
        code, document = doctor("openai")
        auth = check(document, "vault", "auth")
        assert (code, auth["status"]) == (0, "ok")
        assert re.fullmatch(
            r"token login accepted: token (89|90) min left, renewable; policies: root",
            auth["detail"],
        )

    def test_a_path_with_no_key_at_all_is_a_warning(self, config_path, openbao):
        """Reads answered, but no provider's key there: probably the wrong path."""
        configure(config_path, {"vault": vault_source(openbao, kv_path())})
        code, document = doctor("openai", "groq")
        read = check(document, "vault", "read")
        assert (code, read["status"]) == (0, "warn")
        assert "no key at all" in read["detail"]


@pytest.fixture(scope="module")
def tls_openbao():
    """An OpenBao serving HTTPS with a CA of its own (not in any trust store)."""
    with OpenBaoServer(tls=True) as server:
        yield server


def _tls_front(openbao, *identities, **validity):
    """A TLS front for ``openbao`` whose certificate names ``identities`` (a CA of its own)."""
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*identities, **validity).configure_cert(served)
    return authority, FaultProxy(openbao.address, tls=served)


class TestDoctorOnVaultTLS:
    def test_an_untrusted_certificate_names_the_ca_flag(self, config_path, tls_openbao):
        """The dev CA is not trusted: tls fails (exit 3) with the fix --vault-cacert."""
        configure(config_path, {"vault": vault_source(tls_openbao, kv_path())})
        code, document = doctor()
        tls = check(document, "vault", "tls")
        assert (code, tls["status"], tls["problem"]) == (3, "fail", "configuration")
        assert "is not trusted" in tls["detail"]
        assert "--vault-cacert FILE" in tls["fix"]
        assert checks_of(document, "vault")["server"] == "skip"

    def test_the_configured_ca_makes_it_trusted(self, config_path, tls_openbao):
        """With verify set to the CA bundle: TLS version, trusted, days left; then the rest."""
        path = kv_path()
        tls_openbao.put_kv(path, {"openai": "sk-doctor-tls-0001"})
        configure(
            config_path,
            {"vault": vault_source(tls_openbao, path, verify=tls_openbao.ca_path)},
        )
        code, document = doctor("openai")
        assert code == 0, document
        tls = check(document, "vault", "tls")
        assert tls["status"] == "ok"
        assert "certificate trusted, expires " in tls["detail"]
        assert check(document, "vault", "read")["providers"] == {"openai": "found"}

    @pytest.mark.parametrize(
        ("identities", "validity", "reason", "fix"),
        [
            (
                ("127.0.0.1",),
                {"not_after": dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)},
                "certificate has expired",
                "renew the server's certificate",
            ),
            (
                ("vault.example.com",),
                {},
                "IP address mismatch",
                "use the name the certificate was issued for in the address",
            ),
        ],
        ids=["expired", "wrong-name"],
    )
    def test_a_certificate_problem_is_told_by_its_reason(
        self, config_path, tmp_path, openbao, identities, validity, reason, fix
    ):
        """Expired, or issued for another name: the reason and its own fix (exit 3)."""
        authority, front = _tls_front(openbao, *identities, **validity)
        ca = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(ca))
        with front:
            configure(
                config_path,
                {"vault": {"addr": front.address, "token": "root", "verify": str(ca)}},
            )
            code, document = doctor("openai")
        tls = check(document, "vault", "tls")
        assert (code, tls["status"]) == (3, "fail")
        assert reason in tls["detail"]
        assert tls["fix"] == fix

    def test_a_certificate_expiring_soon_is_a_warning(self, config_path, tmp_path, openbao):
        """Five days left: a warning to renew it, the other checks still pass."""
        soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=5, hours=1)
        authority, front = _tls_front(openbao, "127.0.0.1", not_after=soon)
        ca = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(ca))
        path = kv_path()
        openbao.put_kv(path, {"openai": "sk-doctor-soon-0001"})
        with front:
            configure(
                config_path, {"vault": vault_source(front, path, token="root", verify=str(ca))}
            )
            code, document = doctor("openai")
        tls = check(document, "vault", "tls")
        assert (code, tls["status"]) == (0, "warn")
        assert "(5 d left)" in tls["detail"]
        assert tls["fix"] == f"renew the certificate of 127.0.0.1:{front.port} before it expires"


class TestDoctorOnAWS:
    def test_moto_healthy(self, config_path, moto_server, aws_admin):
        """Endpoint reached, credentials found, openai's secret read: exit 0."""
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="sk-doctor-aws-0001")
        configure(config_path, {"aws": {"region": "us-east-1", "endpoint_url": moto_server}})
        code, document = doctor("openai", "groq")
        assert code == 0, document
        assert checks_of(document, "aws") == {
            "settings": "ok",
            "reachable": "ok",
            "auth": "ok",
            "read": ["ok"],
        }
        assert check(document, "aws", "auth")["detail"].startswith("credentials from env")
        assert check(document, "aws", "read")["providers"] == {
            "openai": "found",
            "groq": "not_found",
        }

    def test_an_endpoint_nobody_serves(self, config_path, aws_credentials):
        """Nothing listens at the endpoint: exit 5, and the fix names --aws-endpoint-url."""
        dead = f"http://127.0.0.1:{free_port()}"
        configure(config_path, {"aws": {"endpoint_url": dead}})
        code, document = doctor()
        reachable = check(document, "aws", "reachable")
        assert (code, reachable["status"]) == (5, "fail")
        assert reachable["fix"].startswith("check the endpoint: --aws-endpoint-url")

    def test_no_credentials_is_denied_with_where_to_put_them(self, config_path, moto_server):
        """No credentials anywhere: auth fails (exit 4) and says where credentials go."""
        configure(config_path, {"aws": {"region": "us-east-1", "endpoint_url": moto_server}})
        code, document = doctor(env={"AWS_EC2_METADATA_DISABLED": "true"})
        auth = check(document, "aws", "auth")
        assert (code, auth["status"], auth["detail"]) == (4, "fail", "no AWS credentials found")
        assert "AWS_ACCESS_KEY_ID" in auth["fix"]

    def test_access_denied_names_the_iam_permission(
        self, config_path, moto_server, aws_credentials
    ):
        """AWS answers AccessDeniedException: read fails (exit 4) naming GetSecretValue."""
        body = b'{"__type":"AccessDeniedException","message":"User is not authorized"}'
        with FaultProxy(moto_server) as proxy:
            proxy.respond(400, body, {"Content-Type": "application/x-amz-json-1.1"})
            configure(config_path, {"aws": {"region": "us-east-1", "endpoint_url": proxy.address}})
            code, document = doctor("openai")
        denied = check(document, "aws", "read", "fail")
        assert (code, denied["problem"]) == (4, "denied")
        assert denied["fix"] == (
            "allow secretsmanager:GetSecretValue on the secrets abstractcore/* (and "
            "kms:Decrypt on their KMS key) to the identity"
        )


class _Tunnel(socketserver.ThreadingTCPServer):
    """An HTTPS proxy: answers CONNECT to any host by tunnelling to one loopback port."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port):
        self.port_behind = port
        self.connects = []
        super().__init__(("127.0.0.1", 0), _TunnelHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address):
        """Clients hang up mid-tunnel: nothing to report."""


class _TunnelHandler(socketserver.BaseRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        self.server.connects.append(head.split(b"\r\n", 1)[0].decode())
        with socket.create_connection(("127.0.0.1", self.server.port_behind)) as upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            ends = [self.request, upstream]
            while True:
                ready, _, _ = select.select(ends, [], [], 30)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.request else self.request).sendall(data)


class _ManagedIdentity(ThreadingHTTPServer):
    """App Service's managed identity endpoint: a token for the header it was given."""

    daemon_threads = True

    def __init__(self, token, header):
        self.token, self.header, self.refuse = token, header, False
        super().__init__(("127.0.0.1", 0), _IdentityHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/msi/token"


class _IdentityHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.server.refuse or self.headers.get("X-IDENTITY-HEADER") != self.server.header:
            status, body = 400, {"error": "invalid_request"}
        else:
            status = 200
            body = {
                "access_token": self.server.token,
                "expires_on": str(int(time.time()) + 3600),
                "resource": "https://vault.azure.net",
                "token_type": "Bearer",
            }
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *arguments):
        """Log nothing."""


class AzureWorld:
    """The emulator behind a TLS front named like Key Vault, an HTTPS proxy, an identity.

    The CLI reaches ``https://doctor.vault.azure.net`` as in production: through the proxy
    ``HTTPS_PROXY`` names, trusting the CA ``REQUESTS_CA_BUNDLE`` names, with a token from
    the managed identity endpoint that ``DefaultAzureCredential`` finds in the environment.
    """

    VAULT_URL = "https://doctor.vault.azure.net"

    def __init__(self, emulator, front, tunnel, identity, ca_file):
        self.emulator, self.front, self.tunnel, self.identity = emulator, front, tunnel, identity
        self.env = {
            "HTTPS_PROXY": tunnel.url,
            "NO_PROXY": "127.0.0.1,localhost",
            "IDENTITY_ENDPOINT": identity.url,
            "IDENTITY_HEADER": "doctor-identity-header",
            "REQUESTS_CA_BUNDLE": str(ca_file),
        }


@pytest.fixture(scope="module")
def azure_world(tmp_path_factory):
    token = f"msi-{uuid.uuid4().hex}"
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("doctor.vault.azure.net").configure_cert(served)
    ca_file = tmp_path_factory.mktemp("azure") / "front-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with AzureKeyVaultEmulator(token=token) as emulator:
        upstream = ssl.create_default_context(cafile=emulator.ca_pem_path)
        with FaultProxy(emulator.vault_url, tls=served, upstream_tls=upstream) as front:
            tunnel = _Tunnel(front.port)
            identity = _ManagedIdentity(token, "doctor-identity-header")
            yield AzureWorld(emulator, front, tunnel, identity, ca_file)
            identity.shutdown()
            identity.server_close()
            tunnel.shutdown()
            tunnel.server_close()


@pytest.fixture
def azure(azure_world, config_path):
    configure(config_path, {"azure": {"vault_url": AzureWorld.VAULT_URL}})
    yield azure_world
    azure_world.emulator.clear_faults()
    azure_world.identity.refuse = False
    for name in ("openai", "groq"):
        azure_world.emulator.delete_secret(name)


class TestDoctorOnAzure:
    def test_the_emulator_through_a_proxy_with_a_managed_identity(self, azure):
        """Proxy, TLS, a token and its time left, the key read: exit 0."""
        azure.emulator.set_secret("openai", "sk-doctor-azure-0001")
        code, document = doctor("openai", "groq", env=azure.env)
        assert code == 0, document
        assert checks_of(document, "azure") == {
            "settings": "ok",
            "reachable": "ok",
            "tls": "ok",
            "auth": "ok",
            "read": ["ok"],
        }
        reachable = check(document, "azure", "reachable")
        assert reachable["detail"].startswith("doctor.vault.azure.net:443 through the proxy ")
        assert "CONNECT doctor.vault.azure.net:443 HTTP/1.1" in azure.tunnel.connects
        assert check(document, "azure", "auth")["detail"] == (
            "DefaultAzureCredential gave a Key Vault token, 59 min left"
        )
        assert check(document, "azure", "read")["providers"] == {
            "openai": "found",
            "groq": "not_found",
        }

    def test_a_403_names_the_role_to_grant(self, azure):
        """Key Vault denies the read: exit 4, and the role the identity needs."""
        azure.emulator.fail_with(403)
        code, document = doctor("openai", env=azure.env)
        denied = check(document, "azure", "read", "fail")
        assert (code, denied["problem"]) == (4, "denied")
        assert "'Key Vault Secrets User' role" in denied["fix"]

    def test_an_identity_that_gives_no_token(self, azure):
        """The managed identity refuses: auth fails (exit 4) and says how to give one."""
        azure.identity.refuse = True
        code, document = doctor("openai", env=azure.env)
        auth = check(document, "azure", "auth")
        assert (code, auth["status"]) == (4, "fail")
        assert auth["detail"].startswith("DefaultAzureCredential gave no token for Key Vault")
        assert "managed identity" in auth["fix"]

    def test_set_secrets_provider_verifies_then_saves(self, azure, config_path):
        """--set-secrets-provider azure checks the vault works, then writes it."""
        configure(config_path, {})
        azure.emulator.set_secret("groq", "gsk-doctor-azure-0002")
        result = run_cli(
            "--set-secrets-provider", "azure", "--vault-url", AzureWorld.VAULT_URL, env=azure.env
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "groq readable" in result.stdout
        saved = json.loads(config_path.read_text())["secrets"]["sources"]
        assert saved == {"azure": {"vault_url": AzureWorld.VAULT_URL}}


class TestDoctorOutput:
    def test_a_corrupt_config_file_is_one_failed_check(self, config_path):
        """Settings that cannot be loaded: exit 3, the file named, nothing probed."""
        config_path.parent.mkdir(parents=True)
        config_path.write_text('{"secrets": ')
        config_path.chmod(0o600)
        code, document = doctor()
        assert code == 3
        [report] = document["sources"]
        assert report["source"] == "settings"
        assert report["checks"][0]["status"] == "fail"
        assert str(config_path) in report["checks"][0]["detail"]

    def test_help_documents_the_exit_codes(self):
        """--help lists each exit code and what it means."""
        text = run_cli("doctor", "--help").stdout
        for line in ("0  every check passed", "3  a configuration problem", "4  a source refused"):
            assert line in text
        assert "5  a source failed: unreachable, down, or too slow" in text

    def test_the_local_sources_alone(self, config_path):
        """No managed source: the environment and the config file are checked; exit 0."""
        configure(config_path, api_keys={"openai": "sk-doctor-local-0001"})
        code, document = doctor("openai", env={"ANTHROPIC_API_KEY": "sk-ant-doctor-0001"})
        assert code == 0
        assert [r["source"] for r in document["sources"]] == ["env", "config"]
        assert check(document, "config", "file")["detail"] == "mode 0600"
        assert check(document, "config", "read")["providers"] == {"openai": "found"}

    def test_a_key_the_resolver_would_refuse_is_a_configuration_problem(self, config_path):
        """A key with a space inside, in the config file: read fails (exit 3) saying why."""
        configure(config_path, api_keys={"openai": "sk-doctor two-lines"})
        code, document = doctor("openai")
        invalid = check(document, "config", "read", "fail")
        assert (code, invalid["problem"]) == (3, "configuration")
        assert "contains whitespace or control characters" in invalid["detail"]


class TestNothingLeaks:
    def test_no_value_or_token_in_anything_doctor_status_or_get_print(
        self, config_path, openbao, moto_server, aws_admin, tmp_path
    ):
        """Canaries everywhere a key or token lives; every command's every byte searched."""
        values = {
            "vault": canary("sk-proj"),
            "aws": canary("sk-ant-api03"),
            "config": canary("gsk"),
            "env": canary("hf"),
            "file": canary("xai"),
        }
        token = canary("hvs")
        openbao.request("POST", "auth/token/create", {"id": token, "policies": ["root"]})
        path = kv_path()
        openbao.put_kv(path, {"openai": values["vault"]})
        aws_admin.create_secret(Name="abstractcore/anthropic", SecretString=values["aws"])
        key_file = tmp_path / "mistral.key"
        key_file.write_text(values["file"] + "\n")
        key_file.chmod(0o600)
        configure(
            config_path,
            {
                "vault": vault_source(openbao, path, token=token),
                "aws": {"region": "us-east-1", "endpoint_url": moto_server},
            },
            api_keys={"groq": values["config"]},
        )
        env = {
            "HUGGINGFACE_TOKEN": values["env"],
            "MISTRAL_API_KEY_FILE": str(key_file),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        emitted = []
        for arguments in (
            ("doctor",),
            ("doctor", "--json"),
            ("status",),
            ("status", "--json", "--strict"),
            ("get", "openai"),
            ("get", "anthropic", "--json"),
        ):
            result = run_cli(*arguments, env=env)
            emitted += [result.stdout, result.stderr]
        assert "groq readable" in emitted[0]  # the search ran over real output
        assert find_leaks(emitted, [*values.values(), token]) == []
