"""The fault matrix: every remote source against every fault, run for real, and its document.

Over 800 lines on purpose: the test, the regenerating script and the child processes share
this one module, and a fault, the check of its rule and the page's text about it must change
together.

Shared by ``tests/test_fault_matrix.py`` (which runs each cell and compares its outcome with
``docs/reliability.md``) and ``scripts/fault_matrix.py`` (which runs them all and writes the
document, times included). Nothing here is a mock: each source talks to its real server
(OpenBao, moto, the Key Vault emulator) through a ``FaultProxy``; the whole-process cells
(collector down, the journal's disk full) run this module as a child process.

A cell is one fault against one source, run twice with a chain of ``[source, config file]``:

- cold: nothing cached; the fault is on when the key is first resolved;
- warm: the key was resolved from the source and cached, its refresh is due, then the fault.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from abstractcore_secrets import (
    AWSSecretsProvider,
    AzureKeyVaultProvider,
    ConfigFileSecretProvider,
    Fingerprinter,
    Outcome,
    Resilience,
    Resolution,
    ResolutionCache,
    RetryPolicy,
    SecretProvider,
    SecretsManager,
    VaultSecretProvider,
)
from abstractcore_secrets.testing import AzureKeyVaultEmulator, FaultProxy, OpenBaoServer

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reliability.md"
REGENERATE = "python scripts/fault_matrix.py"

FROM_SOURCE = "sk-matrix-from-the-source-0001"
FROM_CONFIG = "sk-matrix-from-the-config-0001"
FROM_OTHER_HOST = "sk-matrix-from-another-host-0001"
HUGE_VALUE_BYTES = 1024 * 1024
"""Big enough to be absurd for a key, small enough to arrive well within the timeout."""

POLICY = RetryPolicy(
    attempts=3,
    timeout=2.0,
    wait_initial=0.05,
    wait_max=0.2,
    wait_jitter=0.05,
    max_retry_after=1.0,
)
DEADLINE = 4.0
"""The resolution's deadline (the attempt's own ``timeout`` is ``POLICY.timeout``)."""
LIVENESS = 30.0
"""A cell still running after this long is a hang: recorded as such, and a failure."""
TRICKLE = 0.2
"""Seconds between the bytes of a trickled answer: far below every SDK read timeout."""
TTL = 60.0

FALL_THROUGH = "fall through"
FAIL_CLOSED = "fail closed"
SERVED = "served"


@dataclass(frozen=True)
class Fault:
    """One row of a source's table: a way a server misbehaves, and the rule it must meet."""

    id: str
    label: str
    expect: str
    rule: str
    retry_after: Callable[[], str] | None = None
    tries: int | None = None
    """For a throttled fault: the tries its Retry-After makes (1: no retry; 2: one 1 s wait)."""


def _in_seconds() -> str:
    return "1"


def _http_date() -> str:
    return formatdate(time.time() + 3600, usegmt=True)


FAULTS = (
    Fault("none", "no fault (control)", SERVED, "the source's key, nothing marked"),
    Fault(
        "stopped",
        "stopped (connection refused)",
        FALL_THROUGH,
        "an outage: the next source answers, marked degraded; a cached key is served stale",
    ),
    Fault(
        "hanging",
        "hanging (accepts, never answers)",
        FALL_THROUGH,
        "an outage (timeout) within the attempt's timeout, then as stopped",
    ),
    Fault(
        "trickling",
        f"trickling (one byte every {TRICKLE:g} s)",
        FALL_THROUGH,
        "an outage (timeout): the attempt's timeout bounds the whole call, not each read",
    ),
    Fault(
        "throttled-seconds",
        "throttled, Retry-After: 1",
        FALL_THROUGH,
        "waits 1 s (within max_retry_after), retries once (a second wait would pass the "
        "timeout); still throttled: an outage",
        _in_seconds,
        tries=2,
    ),
    Fault(
        "throttled-http-date",
        "throttled, Retry-After: HTTP-date an hour ahead",
        FALL_THROUGH,
        "longer than max_retry_after: no wait, no retry, an outage at once",
        _http_date,
        tries=1,
    ),
    Fault(
        "throttled-negative",
        "throttled, Retry-After: -5",
        FALL_THROUGH,
        "no wait at all: ignored, the backoff applies (3 tries); still throttled: an outage",
        lambda: "-5",
        tries=3,
    ),
    Fault(
        "throttled-garbage",
        "throttled, Retry-After: soon",
        FALL_THROUGH,
        "garbage: ignored, the backoff applies (3 tries); still throttled: an outage",
        lambda: "soon",
        tries=3,
    ),
    Fault(
        "throttled-huge",
        "throttled, Retry-After: 10^12",
        FALL_THROUGH,
        "longer than max_retry_after: no wait, no retry, an outage at once",
        lambda: str(10**12),
        tries=1,
    ),
    Fault(
        "forbidden",
        "forbidden (policy denies the read)",
        FAIL_CLOSED,
        "denied: a revoked grant must not fall back to a lower-trust source, nor hide stale",
    ),
    Fault(
        "expired-token",
        "expired or revoked token",
        FAIL_CLOSED,
        "denied: as forbidden (OpenBao answers a revoked token with 403: forbidden)",
    ),
    Fault(
        "corrupt",
        "corrupt answer (200, JSON cut off)",
        FAIL_CLOSED,
        "invalid: an answer that cannot be read is an error, never a fall-through",
    ),
    Fault(
        "wrong-type",
        "wrong JSON type (200, value not a string)",
        FAIL_CLOSED,
        "invalid: as corrupt",
    ),
    Fault(
        "redirect",
        "redirecting to another host (307)",
        FAIL_CLOSED,
        "invalid: credentials never follow a redirect; the other host gets nothing",
    ),
    Fault(
        "huge",
        "huge answer (200, a 1 MiB value)",
        FAIL_CLOSED,
        "invalid: no API key is megabytes long; bounded in time and memory",
    ),
)
FAULTS_BY_ID = {fault.id: fault for fault in FAULTS}
SOURCES = ("vault", "aws", "azure")


# --- what a cell observed ---------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """What one resolution under a fault gave, in words (and its wall time)."""

    outcome: str
    value: str
    marks: str
    error: str
    config: str
    seconds: float
    tries: int = 0
    other_host: str = "-"


@dataclass(frozen=True)
class Row:
    """One table row: its key (``vault/hanging``) and its cells, in column order."""

    key: str
    cells: tuple[str, ...]

    def outcomes(self, columns: tuple[Column, ...]) -> tuple[str, ...]:
        """Return the cells that are compared with the document (every one but the times)."""
        return tuple(
            cell for cell, column in zip(self.cells, columns, strict=True) if not column.timed
        )


@dataclass(frozen=True)
class Column:
    """A table column; a timed one is written to the page but never compared."""

    title: str
    timed: bool = False


SOURCE_COLUMNS = (
    Column("fault"),
    Column("rule"),
    Column("cold: outcome"),
    Column("value served"),
    Column("marks"),
    Column("source's error (tries)"),
    Column("config file"),
    Column("cold: s", timed=True),
    Column("warm: outcome"),
    Column("value served"),
    Column("marks"),
    Column("warm: s", timed=True),
    Column("rule kept"),
)
PROCESS_COLUMNS = (
    Column("fault"),
    Column("rule"),
    Column("outcome"),
    Column("value served"),
    Column("failure counted"),
    Column("resolve: s", timed=True),
    Column("exit: s", timed=True),
    Column("rule kept"),
)


def _value_of(resolution: Resolution) -> str:
    if resolution.value is None:
        return "none"
    value = resolution.value.reveal()
    names = {FROM_SOURCE: "source's", FROM_CONFIG: "config's", FROM_OTHER_HOST: "other host's"}
    return names.get(value, f"other ({len(value)} chars)")


def observe(resolution: Resolution, source: str, seconds: float, other_host: str) -> Phase:
    """Describe a resolution: outcome, whose value, marks, the source's error, the config."""
    marks = [m for m, on in (("stale", resolution.stale), ("degraded", resolution.degraded)) if on]
    failed = [a for a in resolution.attempts if a.source == source and a.error]
    errors = [f"{a.error_type} ({a.tries})" for a in failed]
    config = [a for a in resolution.attempts if a.source == "config"]
    if resolution.source == "config":
        config_use = "served"
    elif config:
        config_use = "asked, not served"
    else:
        config_use = "not asked"
    return Phase(
        outcome=resolution.outcome.value,
        value=_value_of(resolution),
        marks=", ".join(marks) or "-",
        error="; ".join(errors) or "-",
        config=config_use,
        seconds=seconds,
        tries=sum(a.tries for a in failed),
        other_host=other_host,
    )


def hung(seconds: float) -> Phase:
    """Describe a resolution still running past the liveness bound."""
    return Phase("hung", "-", "-", "-", "-", seconds)


def rule_kept(fault: Fault, cold: Phase, warm: Phase) -> str:
    """Check both phases against the fault's rule; say which phases break it."""
    outage = ("unavailable", "timeout", "throttled")
    if fault.expect == SERVED:
        cold_ok = (cold.outcome, cold.value, cold.marks) == ("found", "source's", "-")
        warm_ok = (warm.outcome, warm.value, warm.marks) == ("found", "source's", "-")
    elif fault.expect == FALL_THROUGH:
        cold_ok = (cold.outcome, cold.value, cold.marks) == (
            "found",
            "config's",
            "degraded",
        ) and cold.error.startswith(outage)
        warm_ok = (warm.outcome, warm.value, warm.marks) == ("found", "source's", "stale")
    else:
        cold_ok = (
            cold.outcome in ("denied", "error")
            and (cold.value, cold.config) == ("none", "not asked")
            and not cold.error.startswith(outage)
        )
        warm_ok = warm.outcome in ("denied", "error") and (warm.value, warm.config) == (
            "none",
            "not asked",
        )
    problems = [name for name, ok in (("cold", cold_ok), ("warm", warm_ok)) if not ok]
    if fault.tries is not None and (cold.tries, warm.tries) != (fault.tries, fault.tries):
        problems.append(f"expected tries: {fault.tries}")
    reached = [phase.other_host for phase in (cold, warm) if phase.other_host != "-"]
    if reached:
        problems.append(f"the other host was {max(reached, key=len)}")
    return "yes" if not problems else f"NO ({'; '.join(problems)})"


def source_row(source: str, fault: Fault, cold: Phase, warm: Phase) -> Row:
    """Render one source's cell as a table row."""
    return Row(
        f"{source}/{fault.id}",
        (
            fault.label,
            fault.expect,
            cold.outcome,
            cold.value,
            cold.marks,
            cold.error,
            cold.config,
            f"{cold.seconds:.2f}",
            warm.outcome,
            warm.value,
            warm.marks,
            f"{warm.seconds:.2f}",
            rule_kept(fault, cold, warm),
        ),
    )


# --- the other host a redirect points at ------------------------------------------------------


class OtherHost:
    """A loopback HTTP server standing for another host: it counts what reaches it.

    Should a client follow a redirect here, every source's read succeeds on its answer (one
    body holding each source's fields), so a followed redirect shows as its value served.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[tuple[str, str, bool]] = []
        hits = self.requests
        payload = json.dumps(
            {
                "data": {
                    "data": {"openai": FROM_OTHER_HOST},
                    "metadata": {"version": 1, "created_time": "2024-01-01T00:00:00Z"},
                },
                "ARN": "arn:aws:secretsmanager:us-east-1:1:secret:abstractcore/openai-x",
                "Name": "abstractcore/openai",
                "SecretString": FROM_OTHER_HOST,
                "VersionId": "v-other",
                "value": FROM_OTHER_HOST,
                "id": "https://127.0.0.1/secrets/openai/0123456789abcdef",
                "attributes": {"enabled": True},
            }
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                credentials = any(
                    name.lower() in ("authorization", "x-vault-token") for name in self.headers
                )
                hits.append((self.command, self.path, credentials))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _answer  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        scheme = "http" if tls is None else "https"
        self.address = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


# --- the backends: a real server behind a fault proxy -----------------------------------------


JSON = {"Content-Type": "application/json"}
AWS_JSON = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "fault-matrix"}


class Backend:
    """A real server behind a ``FaultProxy``; builds sources on it and switches faults on."""

    name = ""
    path_contains: str | None = None
    content_type: dict[str, str] = JSON

    def __init__(self, proxy: FaultProxy, other_host: OtherHost) -> None:
        self.proxy = proxy
        self.other_host = other_host

    def new_source(self) -> SecretProvider:
        """Return a fresh source reading ``openai = FROM_SOURCE`` through the proxy."""
        raise NotImplementedError

    def apply(self, fault: Fault) -> None:
        """Switch ``fault`` on for the source built last."""
        proxy, where = self.proxy, self.path_contains
        if fault.id == "stopped":
            proxy.stop()
        elif fault.id == "hanging":
            proxy.delay(LIVENESS * 4, path_contains=where)
        elif fault.id == "trickling":
            proxy.trickle(TRICKLE, path_contains=where)
        elif fault.retry_after is not None:
            self.throttle(fault.retry_after())
        elif fault.id == "forbidden":
            self.forbid()
        elif fault.id == "expired-token":
            self.expire()
        elif fault.id == "corrupt":
            proxy.respond(
                200, self.answer(FROM_SOURCE)[:-12], self.content_type, path_contains=where
            )
        elif fault.id == "wrong-type":
            proxy.respond(200, self.wrong_type(), self.content_type, path_contains=where)
        elif fault.id == "redirect":
            location = f"{self.other_host.address}/v1/secret/data/abstractcore"
            proxy.respond(307, b"", {"Location": location}, path_contains=where)
        elif fault.id == "huge":
            huge = "sk-" + "a" * HUGE_VALUE_BYTES
            proxy.respond(200, self.answer(huge), self.content_type, path_contains=where)

    def clear(self) -> None:
        """Switch every fault off; the server is reachable again."""
        self.proxy.clear()
        self.proxy.start()

    def throttle(self, retry_after: str) -> None:
        """Answer as the service does when throttling, with this ``Retry-After``."""
        raise NotImplementedError

    def forbid(self) -> None:
        """Make the service deny the read (a policy, not the credential)."""
        raise NotImplementedError

    def expire(self) -> None:
        """Make the service reject the credential (expired or revoked)."""
        raise NotImplementedError

    def answer(self, value: str) -> bytes:
        """Return a well-formed answer holding ``value``."""
        raise NotImplementedError

    def wrong_type(self) -> bytes:
        """Return an answer of the right shape whose value is a number, not a string."""
        raise NotImplementedError


class VaultBackend(Backend):
    """OpenBao, KV v2 at ``secret/fault-matrix``; each source has a token and policy of its own."""

    name = "vault"
    path_contains = "/v1/secret/"
    path = "fault-matrix"

    def __init__(self, proxy: FaultProxy, other_host: OtherHost, openbao: OpenBaoServer) -> None:
        super().__init__(proxy, other_host)
        self.openbao = openbao
        openbao.put_kv(self.path, {"openai": FROM_SOURCE})
        self._token = ""
        self._policy = ""

    def _write_policy(self, capabilities: list[str]) -> None:
        rules = f'path "secret/data/{self.path}" {{ capabilities = {json.dumps(capabilities)} }}'
        self.openbao.request("POST", f"sys/policies/acl/{self._policy}", {"policy": rules})

    def new_source(self) -> SecretProvider:
        self._policy = f"fault-matrix-{uuid.uuid4().hex[:12]}"
        self._write_policy(["read"])
        created = self.openbao.request(
            "POST", "auth/token/create", {"policies": [self._policy], "ttl": "10m"}
        )
        self._token = created["auth"]["client_token"]
        return VaultSecretProvider(self.proxy.address, self._token, f"secret/data/{self.path}")

    def throttle(self, retry_after: str) -> None:
        body = b'{"errors":["request path \\"secret/data\\": rate limit quota exceeded"]}'
        headers = {**JSON, "Retry-After": retry_after}
        self.proxy.respond(429, body, headers, path_contains=self.path_contains)

    def forbid(self) -> None:
        self._write_policy(["deny"])  # the real server's answer: 403 permission denied

    def expire(self) -> None:
        self.openbao.request("POST", "auth/token/revoke", {"token": self._token})

    def answer(self, value: str) -> bytes:
        metadata = {"version": 3, "created_time": "2024-01-01T00:00:00Z", "destroyed": False}
        return json.dumps(
            {
                "request_id": "fault-matrix",
                "data": {"data": {"openai": value}, "metadata": metadata},
            }
        ).encode()

    def wrong_type(self) -> bytes:
        metadata = {"version": 3, "created_time": "2024-01-01T00:00:00Z"}
        return json.dumps({"data": {"data": {"openai": 12345}, "metadata": metadata}}).encode()


class AWSBackend(Backend):
    """moto, with the secret ``abstractcore/openai``; AWS's own error answers through the proxy."""

    name = "aws"
    content_type = AWS_JSON
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:abstractcore/openai-AbCdEf"

    def __init__(self, proxy: FaultProxy, other_host: OtherHost, admin: Any) -> None:
        super().__init__(proxy, other_host)
        admin.create_secret(Name="abstractcore/openai", SecretString=FROM_SOURCE)

    def new_source(self) -> SecretProvider:
        return AWSSecretsProvider(endpoint_url=self.proxy.address)

    def _error(self, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"__type": kind, "message": message}).encode()
        self.proxy.respond(400, body, {**AWS_JSON, **(headers or {})})

    def throttle(self, retry_after: str) -> None:
        self._error("ThrottlingException", "Rate exceeded", {"Retry-After": retry_after})

    def forbid(self) -> None:
        self._error("AccessDeniedException", "not authorized to perform GetSecretValue")

    def expire(self) -> None:
        self._error("ExpiredTokenException", "The security token included has expired")

    def answer(self, value: str) -> bytes:
        return json.dumps(
            {
                "ARN": self.arn,
                "Name": "abstractcore/openai",
                "SecretString": value,
                "VersionId": "01234567-89ab-cdef-0123-456789abcdef",
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": 1700000000.0,
            }
        ).encode()

    def wrong_type(self) -> bytes:
        return json.dumps(
            {"ARN": self.arn, "Name": "abstractcore/openai", "SecretString": 12345}
        ).encode()


class AzureBackend(Backend):
    """The Key Vault emulator over TLS, behind a TLS fault proxy; its own error answers."""

    name = "azure"
    path_contains = "/secrets/"

    def __init__(
        self,
        proxy: FaultProxy,
        other_host: OtherHost,
        emulator: AzureKeyVaultEmulator,
        proxy_ca: Path,
    ) -> None:
        super().__init__(proxy, other_host)
        self.emulator = emulator
        self.proxy_ca = proxy_ca
        emulator.set_secret("openai", FROM_SOURCE)

    def new_source(self) -> SecretProvider:
        return AzureKeyVaultProvider(
            self.proxy.address,
            credential=self.emulator.credential(),
            client_options={
                "connection_verify": str(self.proxy_ca),
                "verify_challenge_resource": False,
            },
        )

    def clear(self) -> None:
        self.emulator.clear_faults()
        super().clear()

    def throttle(self, retry_after: str) -> None:
        self.emulator.fail_with(429, retry_after=retry_after)

    def forbid(self) -> None:
        self.emulator.fail_with(403)

    def expire(self) -> None:
        self.emulator.fail_with(401)

    def answer(self, value: str) -> bytes:
        return json.dumps(
            {
                "value": value,
                "id": f"{self.proxy.address}/secrets/openai/0123456789abcdef0123456789abcdef",
                "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000},
                "tags": {},
            }
        ).encode()

    def wrong_type(self) -> bytes:
        document = json.loads(self.answer(FROM_SOURCE))
        return json.dumps({**document, "value": 12345}).encode()


@contextmanager
def azure_backend(emulator: AzureKeyVaultEmulator, folder: Path) -> Iterator[AzureBackend]:
    """Put a TLS fault proxy in front of the emulator; the other host is on TLS too.

    Both certificates come from one CA of their own, written to ``folder``, which the source
    trusts: a redirect to the other host is one the client could follow.
    """
    import trustme

    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    proxy_ca = folder / "fault-matrix-proxy-ca.pem"
    authority.cert_pem.write_to_path(str(proxy_ca))
    upstream = ssl.create_default_context(cafile=emulator.ca_pem_path)
    other_host = OtherHost(tls=served)
    try:
        with FaultProxy(emulator.vault_url, tls=served, upstream_tls=upstream) as proxy:
            yield AzureBackend(proxy, other_host, emulator, proxy_ca)
    finally:
        other_host.close()


@dataclass
class Servers:
    """The real servers the backends put their proxies in front of."""

    openbao: OpenBaoServer
    moto_url: str
    aws_admin: Any
    emulator: AzureKeyVaultEmulator
    other_host: OtherHost


@contextmanager
def backend(name: str, servers: Servers, folder: Path) -> Iterator[Backend]:
    """Return the backend of the source ``name``, its proxy listening until the end."""
    if name == "vault":
        with FaultProxy(servers.openbao.address) as proxy:
            yield VaultBackend(proxy, servers.other_host, servers.openbao)
    elif name == "aws":
        with FaultProxy(servers.moto_url) as proxy:
            yield AWSBackend(proxy, servers.other_host, servers.aws_admin)
    else:
        with azure_backend(servers.emulator, folder) as azure:
            yield azure


# --- running a cell ---------------------------------------------------------------------------


def bounded(seconds: float, call: Callable[[], Resolution]) -> Resolution | None:
    """Run ``call`` on a thread; ``None`` if it has not returned within ``seconds`` (a hang)."""
    result: list[Resolution] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            errors.append(exc)

    worker = threading.Thread(target=run, name="fault-matrix-cell", daemon=True)
    worker.start()
    worker.join(seconds)
    if errors:
        raise errors[0]
    return result[0] if result else None


class MatrixError(RuntimeError):
    """A cell could not be set up (the control resolution failed): the matrix says nothing."""


def run_phase(backend: Backend, fault: Fault, config: Path, *, warm: bool) -> Phase:
    """Resolve ``openai`` once under ``fault``, with a fresh source, chain and cache."""
    source = backend.new_source()
    try:
        if source.fetch("openai") is None:  # connections made, Key Vault's challenge answered
            raise MatrixError(f"{backend.name}: the control read found no key")
        clock = [0.0]
        resilience = Resilience(POLICY, deadline=DEADLINE)
        manager = SecretsManager(
            [source, ConfigFileSecretProvider(config)],
            cache=ResolutionCache(TTL, clock=lambda: clock[0], jitter=lambda: 0.999),
            middleware=[resilience.deadline_scope],
            attempt_middleware=[resilience],
            fingerprinter=Fingerprinter(b"fault-matrix-fingerprint-key-000"),
        )
        if warm:
            filled = manager.resolve("openai")
            if (filled.outcome, filled.source) != (Outcome.FOUND, backend.name):
                raise MatrixError(f"{backend.name}: the warm-up resolution gave {filled!r}")
            clock[0] = TTL + 1  # the refresh is due, well within max_stale
        before = len(backend.other_host.requests)
        backend.apply(fault)
        try:
            started = time.perf_counter()
            resolution = bounded(LIVENESS, lambda: manager.resolve("openai"))
            seconds = time.perf_counter() - started
        finally:
            backend.clear()
        if resolution is None:
            return hung(seconds)
        reached = backend.other_host.requests[before:]
        other_host = "-"
        if reached:
            other_host = "reached" + (", with credentials" if any(c for *_, c in reached) else "")
        return observe(resolution, backend.name, seconds, other_host)
    finally:
        source.close()


def run_cell(backend: Backend, fault: Fault, config: Path) -> Row:
    """Run ``fault`` against ``backend``, cold then warm; return the table row."""
    cold = run_phase(backend, fault, config, warm=False)
    warm = run_phase(backend, fault, config, warm=True)
    return source_row(backend.name, fault, cold, warm)


def write_config(folder: Path) -> Path:
    """Write the config file, holding ``FROM_CONFIG``, 0600; return its path."""
    path = folder / "fault-matrix-config.json"
    path.write_text(json.dumps({"api_keys": {"openai": FROM_CONFIG}}))
    path.chmod(0o600)
    return path


# --- whole-process cells: collector down, the journal's disk full ------------------------------


@dataclass(frozen=True)
class ProcessFault:
    id: str
    label: str
    rule: str
    expect: tuple[str, str, str]  # outcome, value served, failure counted
    env: dict[str, str]


PROCESS_FAULTS = (
    ProcessFault(
        "collector-down-grpc",
        "collector down (OTLP gRPC, nobody listening)",
        "served, bounded; telemetry is dropped, never waited for past the exit bound",
        ("found", "source's", "yes"),
        {"MATRIX_PROTOCOL": "grpc"},
    ),
    ProcessFault(
        "collector-down-http",
        "collector down (OTLP HTTP, nobody listening)",
        "as gRPC",
        ("found", "source's", "yes"),
        {"MATRIX_PROTOCOL": "http/protobuf"},
    ),
    ProcessFault(
        "journal-full-warn",
        "journal's disk full (EFBIG), failure mode warn",
        "served, the failed write counted (audit.records, result=failed)",
        ("found", "source's", "yes"),
        {"MATRIX_FAILURE_MODE": "warn"},
    ),
    ProcessFault(
        "journal-full-block",
        "journal's disk full (EFBIG), failure mode block",
        "denied: a key is not served when its audit record cannot be made durable",
        ("denied", "none", "yes"),
        {"MATRIX_FAILURE_MODE": "block"},
    ),
)
PROCESS_FAULTS_BY_ID = {fault.id: fault for fault in PROCESS_FAULTS}


def run_process_cell(fault: ProcessFault, openbao: OpenBaoServer, folder: Path) -> Row:
    """Run this module as a child process resolving from OpenBao under ``fault``."""
    from abstractcore_secrets.testing import free_port

    openbao.put_kv("fault-matrix-process", {"openai": FROM_SOURCE})
    scenario = "collector" if fault.id.startswith("collector") else "journal"
    env = {
        **os.environ,
        **fault.env,
        "MATRIX_VAULT_ADDR": openbao.address,
        "MATRIX_VAULT_TOKEN": openbao.root_token,
        "MATRIX_ENDPOINT": f"http://127.0.0.1:{free_port()}",  # nobody listens there
        "MATRIX_FOLDER": str(folder),
    }
    started = time.perf_counter()
    try:
        child = subprocess.run(
            [sys.executable, __file__, scenario],
            env=env,
            capture_output=True,
            text=True,
            timeout=LIVENESS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        cells = ("hung", "-", "-", f"{time.perf_counter() - started:.2f}", "-")
    else:
        if child.returncode != 0 or not child.stdout.strip():
            raise MatrixError(f"{fault.id}: the child failed ({child.returncode}): {child.stderr}")
        seen = json.loads(child.stdout.splitlines()[-1])
        cells = (
            seen["outcome"],
            seen["value"],
            "yes" if seen["failures"] else "no",
            f"{seen['resolve_seconds']:.2f}",
            f"{seen['exit_seconds']:.2f}",
        )
    kept = cells[:3] == fault.expect and cells[0] != "hung"
    return Row(
        f"process/{fault.id}",
        (fault.label, fault.rule, *cells, "yes" if kept else "NO"),
    )


def _child_collector() -> dict[str, Any]:
    import logging

    from abstractcore_secrets.audit import AuditMiddleware
    from abstractcore_secrets.telemetry._setup import configure_telemetry

    failures: list[logging.LogRecord] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            failures.append(record)

    logging.getLogger("opentelemetry").addHandler(Count(logging.WARNING))
    telemetry = configure_telemetry(
        "fault-matrix",
        protocol=os.environ["MATRIX_PROTOCOL"],
        endpoint=os.environ["MATRIX_ENDPOINT"],
    )
    resilience = Resilience(POLICY, deadline=DEADLINE)
    audit = AuditMiddleware(fingerprinter=Fingerprinter(b"fault-matrix-fingerprint-key-000"))
    middleware, attempt_middleware = telemetry.middleware(resilience=resilience, audit=audit)
    manager = SecretsManager(
        [_child_vault()],
        cache=None,
        middleware=[*middleware, resilience.deadline_scope],
        attempt_middleware=[*attempt_middleware, resilience],
    )
    started = time.perf_counter()
    resolution = manager.resolve("openai")
    resolved = time.perf_counter()
    telemetry.shutdown()
    return {
        "outcome": resolution.outcome.value,
        "value": _value_of(resolution),
        "failures": len(failures),
        "resolve_seconds": resolved - started,
        "exit_seconds": time.perf_counter() - resolved,
    }


def _child_journal() -> dict[str, Any]:
    import resource
    import warnings

    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from abstractcore_secrets.audit import AuditMiddleware
    from abstractcore_secrets.audit.journal import Journal, load_signing_key
    from abstractcore_secrets.telemetry import names

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    folder = Path(os.environ["MATRIX_FOLDER"]) / f"journal-{uuid.uuid4().hex[:8]}"
    key = load_signing_key(folder / "signing.key")
    journal = Journal(folder / "audit.jsonl", key, fsync="always")
    audit = AuditMiddleware(
        [journal],
        failure_mode=os.environ["MATRIX_FAILURE_MODE"],
        fingerprinter=Fingerprinter(b"fault-matrix-fingerprint-key-000"),
    )
    resilience = Resilience(POLICY, deadline=DEADLINE)
    manager = SecretsManager(
        [_child_vault()],
        cache=None,
        middleware=[audit, resilience.deadline_scope],
        attempt_middleware=[resilience],
    )
    # A full disk, for this process: no file may grow past its size now (EFBIG, not SIGXFSZ).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    size = (folder / "audit.jsonl").stat().st_size if (folder / "audit.jsonl").exists() else 0
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            started = time.perf_counter()
            resolution = manager.resolve("openai")
            seconds = time.perf_counter() - started
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    failed = 0
    data = reader.get_metrics_data()
    for scope_metrics in (m for r in data.resource_metrics for m in r.scope_metrics):
        for metric in scope_metrics.metrics:
            if metric.name == names.AUDIT_RECORDS:
                failed += sum(
                    int(point.value)
                    for point in metric.data.data_points
                    if point.attributes.get(names.RESULT) == "failed"
                )
    started = time.perf_counter()
    journal.close()
    return {
        "outcome": resolution.outcome.value,
        "value": _value_of(resolution),
        "failures": failed,
        "resolve_seconds": seconds,
        "exit_seconds": time.perf_counter() - started,
    }


def _child_vault() -> VaultSecretProvider:
    return VaultSecretProvider(
        os.environ["MATRIX_VAULT_ADDR"],
        os.environ["MATRIX_VAULT_TOKEN"],
        "secret/data/fault-matrix-process",
    )


# --- the document -----------------------------------------------------------------------------


DEFAULT_POLICY = RetryPolicy()
DEFAULT_DEADLINE = inspect.signature(Resilience).parameters["deadline"].default
SETTINGS = (
    f"Resilience(RetryPolicy(attempts={POLICY.attempts}, timeout={POLICY.timeout:g}, "
    f"wait_initial={POLICY.wait_initial:g}, wait_max={POLICY.wait_max:g}, "
    f"wait_jitter={POLICY.wait_jitter:g}, max_retry_after={POLICY.max_retry_after:g}), "
    f"deadline={DEADLINE:g})"
)

DEFAULTS = (
    f"timeout {DEFAULT_POLICY.timeout:g} s, max_retry_after {DEFAULT_POLICY.max_retry_after:g} s, "
    f"deadline {DEFAULT_DEADLINE:g} s"
)

HEADER = f"""\
# Reliability: the fault matrix

<!-- Generated by `{REGENERATE}`; do not edit by hand. -->

What each remote source does when its server misbehaves, measured against real servers
(OpenBao, moto's AWS server, our Key Vault emulator; each behind a fault-injecting proxy), not
mocks. `tests/test_fault_matrix.py` runs every cell again and fails when an outcome differs
from this page, naming the command that regenerates it:

    {REGENERATE}

Times are wall seconds on the machine that generated the page; they are written, never
compared. The test only bounds them: a cell running past {LIVENESS:g} s is a hang.

## How each cell is run

The chain is `[source, config file]`, with the config file holding a different key, and the
layers `build_secrets_manager()` composes: the resilience deadline scope, the cache (ttl
{TTL:g} s, on a clock of its own), and resilience with short settings, so that the matrix
runs in about a minute:

    {SETTINGS}

(the defaults: {DEFAULTS}).
The SDKs' own timeouts are their defaults. Every fault is switched on after a first read has
opened connections (and answered Key Vault's bearer challenge), then:

- **cold**: nothing is cached; the fault is on when the key is first resolved;
- **warm**: the key was resolved from the source and cached, its refresh is due (well within
  `max_stale`), then the fault.

Columns: the resolution's **outcome**; **value served** (the source's key, the config file's,
another host's, or none); **marks** (`stale`, `degraded`); the **source's error** category
(`error.type` in the audit event) with its tries; whether the **config file** was asked and
served; wall **s**; whether the **rule** held in both phases. A `NO` there is a behaviour that
breaks the failure policy (docs/architecture.md, "Failure policy" and "Outages: one rule").

## The rule for each fault

| fault | rule |
|---|---|
"""

PROCESS_HEADER = """\
## Whole-process faults

Run as a child process resolving from OpenBao. The collector cells configure OTLP export to a
port nobody listens on (defaults otherwise); "failure counted" means the exporter logged its
failures, and **exit** is `Telemetry.shutdown()` (bounded by
`ABSTRACTCORE_SECRETS_TELEMETRY_EXIT_TIMEOUT`, 5 s). The journal cells write an fsync'd
journal in a process whose file-size limit (`RLIMIT_FSIZE`, `SIGXFSZ` ignored) makes every
append fail with `EFBIG`, as a full disk would; "failure counted" is the
`abstractcore.secrets.audit.records` counter with `result=failed`, and **exit** is closing the
journal.

"""


def _table(columns: tuple[Column, ...], rows: list[Row]) -> str:
    lines = [
        "| " + " | ".join(c.title.strip() for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(row.cells) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def render(source_rows: dict[str, list[Row]], process_rows: list[Row]) -> str:
    """Render the whole document from the rows."""
    text = HEADER
    text += "".join(f"| {fault.label} | {fault.expect}: {fault.rule} |\n" for fault in FAULTS)
    rows = [row for rows in source_rows.values() for row in rows] + process_rows
    broken = [row for row in rows if row.cells[-1] != "yes"]
    text += "\n## Cells that break their rule\n\n"
    text += "".join(f"- `{row.key}`: {row.cells[0]}: {row.cells[-1]}\n" for row in broken)
    text += "" if broken else "None.\n"
    for source in SOURCES:
        text += f"\n## {source}\n\n" + _table(SOURCE_COLUMNS, source_rows[source])
    text += "\n" + PROCESS_HEADER + _table(PROCESS_COLUMNS, process_rows)
    return text


def parse(text: str) -> tuple[dict[str, list[Row]], list[Row]]:
    """Read the rows back from a rendered document (keys rebuilt from each table's section)."""
    labels = {fault.label: fault.id for fault in FAULTS}
    process_labels = {fault.label: fault.id for fault in PROCESS_FAULTS}
    source_rows: dict[str, list[Row]] = {source: [] for source in SOURCES}
    process_rows: list[Row] = []
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        if not line.startswith("| ") or line.startswith(("| fault |", "|---")):
            continue
        cells = tuple(cell.strip() for cell in line.strip()[2:-2].split(" | "))
        if section in source_rows and cells[0] in labels:
            source_rows[section].append(Row(f"{section}/{labels[cells[0]]}", cells))
        elif section == "Whole-process faults" and cells[0] in process_labels:
            process_rows.append(Row(f"process/{process_labels[cells[0]]}", cells))
    return source_rows, process_rows


def committed_rows() -> dict[str, Row]:
    """Return the committed document's rows by key (``vault/hanging``, ``process/...``)."""
    if not DOC.exists():
        return {}
    source_rows, process_rows = parse(DOC.read_text(encoding="utf-8"))
    rows = [row for rows in source_rows.values() for row in rows] + process_rows
    return {row.key: row for row in rows}


def columns_of(key: str) -> tuple[Column, ...]:
    """Return the columns of the table the row ``key`` belongs to."""
    return PROCESS_COLUMNS if key.startswith("process/") else SOURCE_COLUMNS


def difference(row: Row, committed: dict[str, Row]) -> str | None:
    """Say how ``row``'s outcomes differ from the committed page's, or ``None`` if they don't."""
    columns = columns_of(row.key)
    was = committed.get(row.key)
    if was is None:
        return f"{row.key}: not in {DOC.name}; regenerate it with: {REGENERATE}"
    if row.outcomes(columns) == was.outcomes(columns):
        return None
    changes = [
        f"{column.title.strip()}: {old!r} -> {new!r}"
        for column, old, new in zip(columns, was.cells, row.cells, strict=True)
        if not column.timed and old != new
    ]
    return (
        f"{row.key} changed ({'; '.join(changes)}); if intended, regenerate "
        f"{DOC.name} with: {REGENERATE}"
    )


def differences(text: str) -> list[str]:
    """Compare a freshly rendered page's outcomes with the committed one's."""
    committed = committed_rows()
    source_rows, process_rows = parse(text)
    rows = [row for rows in source_rows.values() for row in rows] + process_rows
    found = [difference(row, committed) for row in rows]
    gone = sorted(set(committed) - {row.key for row in rows})
    return [f for f in found if f is not None] + [f"{key}: no longer run" for key in gone]


# --- regenerating the document ----------------------------------------------------------------


@contextmanager
def _isolated(folder: Path) -> Iterator[None]:
    """An empty home and no VAULT_/AWS_/AZURE_/OTEL_ variables, then moto's credentials."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("ABSTRACTCORE_", "VAULT_", "AWS_", "AZURE_", "OTEL_")):
            del os.environ[name]
    (folder / "home").mkdir()
    os.environ.update(
        HOME=str(folder / "home"),
        ABSTRACTCORE_HOME=str(folder / "home" / ".abstractcore"),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def generate(folder: Path, progress: Callable[[str], None] = lambda _: None) -> str:
    """Start the servers, run every cell, and return the document."""
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from abstractcore_secrets.testing import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs each request
    with _isolated(folder), OpenBaoServer() as openbao, AzureKeyVaultEmulator() as emulator:
        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        other_host = OtherHost()
        config = write_config(folder)
        try:
            moto_url = f"http://127.0.0.1:{port}"
            admin = boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")
            servers = Servers(openbao, moto_url, admin, emulator, other_host)
            source_rows: dict[str, list[Row]] = {source: [] for source in SOURCES}
            for source in SOURCES:
                with backend(source, servers, folder) as under_test:
                    for fault in FAULTS:
                        started = time.perf_counter()
                        source_rows[source].append(run_cell(under_test, fault, config))
                        progress(f"{source}/{fault.id}: {time.perf_counter() - started:.1f} s")
            process_rows = []
            for process_fault in PROCESS_FAULTS:
                started = time.perf_counter()
                process_rows.append(run_process_cell(process_fault, openbao, folder))
                progress(f"process/{process_fault.id}: {time.perf_counter() - started:.1f} s")
        finally:
            other_host.close()
            moto.stop()
    return render(source_rows, process_rows)


def _main(argv: list[str]) -> int:
    if argv[:1] == ["collector"]:
        print(json.dumps(_child_collector()), flush=True)
        return 0
    if argv[:1] == ["journal"]:
        print(json.dumps(_child_journal()), flush=True)
        return 0
    raise SystemExit(f"usage: {REGENERATE}")


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
