"""An HTTPS emulator of the Azure Key Vault secrets REST API, for tests of the Azure source.

The real ``azure.keyvault.secrets.SecretClient`` talks to it over a real TLS socket::

    with AzureKeyVaultEmulator() as vault:
        vault.set_secret("openai", "sk-test")
        client = SecretClient(vault.vault_url, credential, verify_challenge_resource=False,
                              connection_verify=vault.ca_pem_path)

It answers Key Vault's authentication challenge as the service does, serves the secret
operations, and can be told to fail or stall. Deletion is immediate (no ``recoveryId``), so
``begin_delete_secret`` finishes without polling. Needs ``trustme`` (the ``dev`` extra).
"""

from __future__ import annotations

import hmac
import json
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ._http import QuietHandler, ServerContext, Serving, TrackingHTTPServer

_RESOURCE = "https://vault.azure.net"
_ERROR_CODES = {401: "Unauthorized", 403: "Forbidden", 404: "SecretNotFound", 429: "Throttled"}
_NOT_FOUND = (
    "A secret with (name/id) {} was not found in this key vault. If you recently deleted this"
    " secret you may be able to recover it using the correct recovery command."
)

_Answer = tuple[int, dict[str, Any], Mapping[str, str | list[str]]]


@dataclass
class _Version:
    version: str
    value: str
    created: int
    tags: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


@dataclass
class _Fault:
    status: int
    code: str
    retry_after: int | str | list[str] | None
    remaining: int | None
    name: str | None


def _error(
    status: int, code: str, message: str, headers: Mapping[str, str | list[str]] | None = None
) -> _Answer:
    return status, {"error": {"code": code, "message": message}}, headers or {}


class AzureKeyVaultEmulator(ServerContext):
    """Serve the Key Vault secrets API over HTTPS on loopback until :meth:`stop`.

    Faults and delays apply only to requests that pass authentication, so the SDK's
    unauthenticated challenge request never uses up a ``times`` budget.

    Args:
        token: The bearer token the emulator accepts.
        tenant_id: Tenant named in the challenge; default a fresh UUID.
        port: Port to listen on; default a free one. A restart keeps the port and the secrets.

    Attributes:
        vault_url: ``https://127.0.0.1:PORT``, once started.
        ca_pem_path: The CA certificate's PEM file, for ``connection_verify=``.
        request_ids: The ``x-ms-request-id`` of every answer, in order.
        request_counts: Requests per path (``/secrets/openai``, no query, no trailing slash),
            the SDK's unauthenticated challenge requests included.
    """

    def __init__(
        self,
        *,
        token: str = "emulator-token",  # noqa: S107 - a test server's throw-away token
        tenant_id: str | None = None,
        port: int | None = None,
    ) -> None:
        self.expected_token = token
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.port = port or 0
        self.ca_pem_path = str(Path(tempfile.gettempdir()) / f"akv-emulator-{uuid.uuid4().hex}.pem")
        self.request_ids: list[str] = []
        self.request_counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._secrets: dict[str, list[_Version]] = {}
        self._faults: list[_Fault] = []
        self._delay: tuple[float, int | None] = (0.0, None)
        self._tls: ssl.SSLContext | None = None
        self._ca_pem = b""
        self._serving: Serving | None = None

    @property
    def vault_url(self) -> str:
        """Return the vault URL to give ``SecretClient``: ``https://127.0.0.1:PORT``."""
        if not self.port:
            raise RuntimeError("start the emulator first: its port is chosen when it binds")
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> AzureKeyVaultEmulator:
        """Bind the port and serve in a background thread; return the emulator."""
        if self._serving is not None:
            return self
        context = self._tls_context()
        server = _Server(("127.0.0.1", self.port), self)
        # The handshake waits for the handler thread, so a stalled client blocks only itself.
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = server.server_port
        self._stopping.clear()
        self._serving = Serving(server, "akv-emulator")
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; the port and the secrets are kept."""
        serving, self._serving = self._serving, None
        if serving is None:
            return
        self._stopping.set()  # a stalled answer stops waiting
        serving.stop()

    def set_secret(self, name: str, value: str) -> str:
        """Store a new version of secret ``name``.

        Args:
            name: The secret's name.
            value: The secret's value.

        Returns:
            The new version's id (32 hex digits).
        """
        created = _Version(uuid.uuid4().hex, value, int(time.time()))
        with self._lock:
            self._secrets.setdefault(name, []).append(created)
        return created.version

    def delete_secret(self, name: str) -> None:
        """Delete every version of secret ``name``; a missing secret is not an error."""
        with self._lock:
            self._secrets.pop(name, None)

    def fail_with(
        self,
        status: int,
        *,
        retry_after: int | str | list[str] | None = None,
        times: int | None = None,
        name: str | None = None,
    ) -> None:
        """Answer authenticated requests with an error until the fault expires or is cleared.

        Args:
            status: HTTP status, 400 to 599; the error code is Key Vault's (``Throttled``,
                ``SecretNotFound``...) or the status phrase (``ServiceUnavailable``).
            retry_after: Seconds to send in a ``Retry-After`` header; a string is sent as
                it is (a date, or a hostile value), a list as one header per item.
            times: How many requests fail; ``None`` until :meth:`clear_faults`.
            name: Fail only requests for this secret; ``None`` for all.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"an error status is 400 to 599, not {status}")
        code = _ERROR_CODES.get(status) or HTTPStatus(status).phrase.replace(" ", "")
        with self._lock:
            self._faults.append(_Fault(status, code, retry_after, times, name))

    def slow(self, seconds: float, times: int | None = None) -> None:
        """Delay answers to authenticated requests.

        Args:
            seconds: The delay before each answer.
            times: How many requests are delayed; ``None`` until :meth:`clear_faults`.
        """
        with self._lock:
            self._delay = (seconds, times)

    def clear_faults(self) -> None:
        """Remove every fault and delay."""
        with self._lock:
            self._faults.clear()
            self._delay = (0.0, None)

    def credential(self) -> EmulatorCredential:
        """Return a TokenCredential that hands out the token this emulator accepts."""
        return EmulatorCredential(self.expected_token)

    def client_options(self) -> dict[str, Any]:
        """Return the ``SecretClient`` options needed to reach this emulator over TLS."""
        return {"connection_verify": self.ca_pem_path, "verify_challenge_resource": False}

    def _answer(
        self, request_id: str, method: str, path: str, authorization: str | None, body: bytes
    ) -> _Answer:
        segments = [unquote(part) for part in path.split("/") if part]
        with self._lock:
            self.request_ids.append(request_id)
            self.request_counts["/" + "/".join(segments)] += 1
        challenge = {
            "WWW-Authenticate": f'Bearer authorization="https://login.microsoftonline.com/'
            f'{self.tenant_id}", resource="{_RESOURCE}"'
        }
        if authorization is None or not authorization.startswith("Bearer "):
            return _error(
                401, "Unauthorized", "AKV10000: Request is missing a Bearer token.", challenge
            )
        if not hmac.compare_digest(authorization[7:].encode(), self.expected_token.encode()):
            return _error(401, "Unauthorized", "AKV10032: Invalid token.", challenge)
        self._stopping.wait(self._take_delay())
        fault = self._take_fault(segments[1] if len(segments) > 1 else None)
        if fault is None:
            with self._lock:
                return self._route(method, segments, body)
        headers: dict[str, str | list[str]] = dict(challenge) if fault.status == 401 else {}
        if isinstance(fault.retry_after, (int, str)):
            headers["Retry-After"] = str(fault.retry_after)
        elif fault.retry_after is not None:
            headers["Retry-After"] = list(fault.retry_after)
        message = f"Fault set by the emulator ({fault.status})."
        return _error(fault.status, fault.code, message, headers)

    def cleanup(self) -> None:
        """Remove the files a restart would reuse."""
        Path(self.ca_pem_path).unlink(missing_ok=True)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            import trustme

            authority = trustme.CA()
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            authority.issue_cert("127.0.0.1", "localhost").configure_cert(self._tls)
            self._ca_pem = authority.cert_pem.bytes()
        # Written at each start, since leaving a ``with`` block removes it.
        Path(self.ca_pem_path).write_bytes(self._ca_pem)
        return self._tls

    def _take_delay(self) -> float:
        with self._lock:
            seconds, remaining = self._delay
            if seconds <= 0 or remaining == 0:
                return 0.0
            if remaining is not None:
                self._delay = (seconds, remaining - 1)
            return seconds

    def _take_fault(self, name: str | None) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.name in (None, name):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _route(self, method: str, segments: list[str], body: bytes) -> _Answer:
        if segments == ["secrets"] and method == "GET":
            items = [self._bundle(n, v[-1], item=True) for n, v in sorted(self._secrets.items())]
            return 200, {"value": items, "nextLink": None}, {}
        shape = (method, len(segments)) if segments[:1] == ["secrets"] else None
        if shape == ("PUT", 2):
            return self._put(segments[1], body)
        if shape in {("GET", 2), ("GET", 3), ("DELETE", 2)}:
            return self._existing(method, segments[1], segments[2] if len(segments) == 3 else None)
        return _error(404, "NotFound", f"The emulator does not serve {method} this path.")

    def _put(self, name: str, body: bytes) -> _Answer:
        try:
            fields = json.loads(body)
        except ValueError:
            fields = None
        if not isinstance(fields, dict) or not isinstance(fields.get("value"), str):
            return _error(400, "BadParameter", "The body must be a JSON object with a 'value'.")
        new = _Version(
            uuid.uuid4().hex,
            fields["value"],
            int(time.time()),
            fields.get("tags") or {},
            fields.get("contentType"),
        )
        self._secrets.setdefault(name, []).append(new)
        return 200, self._bundle(name, new), {}

    def _existing(self, method: str, name: str, wanted: str | None) -> _Answer:
        found = [v for v in self._secrets.get(name, []) if wanted in (None, v.version)]
        if not found:
            shown = name if wanted is None else f"{name}/{wanted}"
            return _error(404, "SecretNotFound", _NOT_FOUND.format(shown))
        if method == "DELETE":
            del self._secrets[name]
            deleted = {**self._bundle(name, found[-1], item=True), "deletedDate": int(time.time())}
            return 200, deleted, {}
        return 200, self._bundle(name, found[-1]), {}

    def _bundle(self, name: str, version: _Version, *, item: bool = False) -> dict[str, Any]:
        # A list item names the secret without its version and never carries the value.
        secret_id = f"{self.vault_url}/secrets/{name}"
        attributes = {
            "enabled": True,
            "created": version.created,
            "updated": version.created,
            "recoveryLevel": "Recoverable+Purgeable",
        }
        bundle: dict[str, Any] = {"attributes": attributes, "tags": dict(version.tags)}
        if version.content_type is not None:
            bundle["contentType"] = version.content_type
        if item:
            return {"id": secret_id, **bundle}
        return {"value": version.value, "id": f"{secret_id}/{version.version}", **bundle}


class _Server(TrackingHTTPServer):
    def __init__(self, address: tuple[str, int], emulator: AzureKeyVaultEmulator) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class _Handler(QuietHandler):
    server: _Server

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    # http.server dispatches on these names.
    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request_id = str(uuid.uuid4())
        status, payload, headers = self.server.emulator._answer(
            request_id,
            self.command,
            urlsplit(self.path).path,
            self.headers.get("Authorization"),
            body,
        )
        data = json.dumps(payload).encode()
        self.send_response(status)
        for header, value in {
            **headers,
            "x-ms-request-id": request_id,
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(len(data)),
        }.items():
            for one in [value] if isinstance(value, str) else value:
                self.send_header(header, one)
        self.end_headers()
        self.wfile.write(data)


class EmulatorCredential:
    """An azure-core ``TokenCredential`` with one fixed token, counting what it was asked."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:  # noqa: ANN401, ARG002 - the protocol
        """Return the fixed token, valid for an hour."""
        from azure.core.credentials import AccessToken

        self.calls += 1
        return AccessToken(self.token, int(time.time()) + 3600)
