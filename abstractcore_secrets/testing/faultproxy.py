"""A fault-injecting HTTP reverse proxy on loopback: a tiny Toxiproxy for tests.

Put it in front of a real server (OpenBao, moto), point the client at its address, and while
the test runs make it answer with an error, stall, trickle, hang up, or go away::

    with FaultProxy(server.address) as proxy:
        proxy.respond(503, b'{"errors":["Vault is sealed"]}', times=1)
        proxy.trickle(0.5)  # the real answer, one byte every half second
        proxy.stop()  # connection refused: the server went down
        proxy.start()  # the same port again: the server came back

Plain HTTP on both sides, unless given TLS contexts: ``tls`` to serve HTTPS to the client,
``upstream_tls`` to reach an ``https://`` upstream (such as the Key Vault emulator). Request
bodies are read by Content-Length or chunked encoding; the upstream's answer is read whole
and passed on with a Content-Length. Nothing is logged: requests and answers carry tokens and
secret values.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from ._http import QuietHandler, ServerContext, TrackingHTTPServer
from .openbao import free_port

__all__ = ["FaultProxy"]

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "trailers", "upgrade"}
)
_UPSTREAM_TIMEOUT = 30.0


def _end_to_end(headers: Iterable[tuple[str, str]], *also: str) -> list[tuple[str, str]]:
    """Return ``headers`` without hop-by-hop ones, those named in Connection, or ``also``."""
    headers = list(headers)
    dropped = _HOP_BY_HOP | set(also)
    for name, value in headers:
        if name.lower() == "connection":
            dropped |= {token.strip().lower() for token in value.split(",")}
    return [
        (name, value)
        for name, value in headers
        if name.lower() not in dropped and not name.lower().startswith("proxy-")
    ]


@dataclass
class _Fault:
    kind: Literal["respond", "delay", "drop", "trickle"]
    remaining: int | None
    path_contains: str | None
    status: int = 0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


class FaultProxy(ServerContext):
    """Forward HTTP from a loopback port to ``upstream``, with faults switched on and off live.

    Faults apply in the order they were added: the first matching :meth:`delay` stalls a
    request, then the first matching :meth:`respond`, :meth:`drop` or :meth:`trickle`
    replaces plain forwarding.

    Args:
        upstream: The real server, such as ``"http://127.0.0.1:8200"``.
        port: Port to listen on; default a free one. A restarted proxy keeps it.
        tls: Serve HTTPS with this server-side context (its certificate must name
            127.0.0.1); default plain HTTP.
        upstream_tls: Client-side context that verifies an ``https://`` upstream; required
            for one, refused for an ``http://`` one.
    """

    def __init__(
        self,
        upstream: str,
        *,
        port: int | None = None,
        tls: ssl.SSLContext | None = None,
        upstream_tls: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(upstream)
        scheme = "https" if upstream_tls is not None else "http"
        if parts.scheme != scheme or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(
                f"upstream must look like '{scheme}://127.0.0.1:8200', not {upstream!r} "
                "(an https upstream needs upstream_tls, an http one must not have it)"
            )
        self.upstream = upstream
        self.upstream_host: str = parts.hostname
        self.upstream_port: int = parts.port or (443 if upstream_tls else 80)
        self.upstream_tls = upstream_tls
        self.tls = tls
        self.port = port or free_port()
        self.address = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        # Delayed requests wait on this; stop() and clear() set it and put a fresh one in place.
        self._wake = threading.Event()
        self._requests = 0
        self._forwarded = 0
        self._paths: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def serving(self) -> bool:
        """Return whether the proxy is listening."""
        with self._lock:
            return self._server is not None

    @property
    def requests(self) -> int:
        """Return how many requests arrived, faulted or not."""
        with self._lock:
            return self._requests

    @property
    def forwarded(self) -> int:
        """Return how many requests were sent on to the upstream."""
        with self._lock:
            return self._forwarded

    @property
    def paths(self) -> list[str]:
        """Return the path (with query string) of every request that arrived, in order."""
        with self._lock:
            return list(self._paths)

    def start(self) -> FaultProxy:
        """Listen on :attr:`port` (again, after :meth:`stop`); do nothing if already listening.

        Returns:
            The proxy itself.
        """
        with self._lock:
            if self._server is None:
                self._server = _Server(self.port, self)
                self._thread = threading.Thread(
                    target=self._server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"faultproxy-{self.port}",
                    daemon=True,
                )
                self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket and every client connection, as a server going down does.

        Clients then get "connection refused"; delayed requests are cut short and unanswered.
        """
        with self._lock:
            server, thread, self._server, self._thread = self._server, self._thread, None, None
            self._wake_sleepers()
        if server is None or thread is None:
            return
        server.shutdown()
        server.cut_connections()
        server.server_close()  # also joins the handler threads, so none outlives stop()
        thread.join()

    def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        times: int | None = None,
        path_contains: str | None = None,
    ) -> None:
        """Answer with ``status``, ``body`` and ``headers`` instead of forwarding.

        Args:
            status: HTTP status code, such as 400 for an AWS ``ThrottlingException``.
            body: The answer's body; its Content-Length is set for you.
            headers: Further headers, such as ``Content-Type`` or ``x-amzn-RequestId``.
            times: How many requests to answer so; default until :meth:`clear`.
            path_contains: Answer so only requests whose path contains this.
        """
        fixed = tuple((headers or {}).items())
        self._add(_Fault("respond", _checked(times), path_contains, status, body, fixed))

    def delay(
        self, seconds: float, *, times: int | None = None, path_contains: str | None = None
    ) -> None:
        """Wait ``seconds`` before handling a request, as a slow server does.

        Args:
            seconds: How long to stall; :meth:`clear` ends the wait early, :meth:`stop` too.
            times: How many requests to stall; default until :meth:`clear`.
            path_contains: Stall only requests whose path contains this.
        """
        self._add(_Fault("delay", _checked(times), path_contains, seconds=seconds))

    def drop(self, *, times: int | None = None, path_contains: str | None = None) -> None:
        """Read a request, then close its connection without a word (an empty reply).

        Args:
            times: How many requests to drop; default until :meth:`clear`.
            path_contains: Drop only requests whose path contains this.
        """
        self._add(_Fault("drop", _checked(times), path_contains))

    def trickle(
        self, interval: float, *, times: int | None = None, path_contains: str | None = None
    ) -> None:
        """Forward, then send the upstream's answer headers first, its body one byte at a time.

        Each byte arrives well within a client's read timeout, which restarts with it, so
        only a deadline over the whole call ends the wait.

        Args:
            interval: Seconds between bytes; :meth:`clear` sends the rest at once, and
                :meth:`stop` cuts the connection.
            times: How many requests to answer so; default until :meth:`clear`.
            path_contains: Trickle only the answers to requests whose path contains this.
        """
        if not interval > 0:
            raise ValueError(f"interval must be a number of seconds > 0, not {interval}")
        self._add(_Fault("trickle", _checked(times), path_contains, seconds=interval))

    def clear(self) -> None:
        """Remove every fault; requests being delayed go on at once."""
        with self._lock:
            self._faults.clear()
            self._wake_sleepers()

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _wake_sleepers(self) -> None:
        self._wake.set()
        self._wake = threading.Event()

    def _arrived(self, path: str) -> tuple[_Fault | None, _Fault | None, threading.Event]:
        """Count a request and take (one use of) the delay and the action that apply to it."""
        with self._lock:
            self._requests += 1
            self._paths.append(path)
            delay = self._take(path, "delay")
            action = self._take(path, "respond", "drop", "trickle")
            return delay, action, self._wake

    def _take(self, path: str, *kinds: str) -> _Fault | None:
        for fault in self._faults:
            if fault.kind in kinds and (fault.path_contains or "") in path:
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _count_forwarded(self) -> None:
        with self._lock:
            self._forwarded += 1


def _checked(times: int | None) -> int | None:
    if times is not None and times < 1:
        raise ValueError(f"times must be at least 1 (or None for until cleared), not {times}")
    return times


class _Server(TrackingHTTPServer):
    def __init__(self, port: int, proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(("127.0.0.1", port), _Handler)
        if proxy.tls is not None:
            # The handshake waits for the handler thread, so a stalled client blocks only itself.
            self.socket = proxy.tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )


class _Handler(QuietHandler):
    server: _Server

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def _handle(self) -> None:
        proxy = self.server.proxy
        try:
            body, framed = self._read_body()
        except ValueError:
            self.close_connection = True
            self._reply(400, [], b"fault proxy: malformed request body\n")
            return
        delay, action, wake = proxy._arrived(self.path)
        if delay is not None:
            wake.wait(delay.seconds)
        if not proxy.serving or (action is not None and action.kind == "drop"):
            self.close_connection = True
        elif action is not None and action.kind == "respond":
            self._reply(action.status, action.headers, action.body)
        else:
            trickle = None if action is None else (action.seconds, wake)
            self._forward(proxy, body, framed=framed, trickle=trickle)

    # http.server dispatches on do_<METHOD>; LIST is Vault's.
    do_GET = do_HEAD = do_POST = do_PUT = _handle  # noqa: N815
    do_PATCH = do_DELETE = do_OPTIONS = do_LIST = _handle  # noqa: N815

    def _read_body(self) -> tuple[bytes, bool]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailer fields, which an end-to-end body does not need
            return b"".join(chunks), True
        length = self.headers.get("Content-Length")
        return (b"", False) if length is None else (self.rfile.read(int(length)), True)

    def _forward(
        self,
        proxy: FaultProxy,
        body: bytes,
        *,
        framed: bool,
        trickle: tuple[float, threading.Event] | None = None,
    ) -> None:
        upstream: http.client.HTTPConnection
        if proxy.upstream_tls is None:
            upstream = http.client.HTTPConnection(
                proxy.upstream_host, proxy.upstream_port, timeout=_UPSTREAM_TIMEOUT
            )
        else:
            upstream = http.client.HTTPSConnection(
                proxy.upstream_host,
                proxy.upstream_port,
                timeout=_UPSTREAM_TIMEOUT,
                context=proxy.upstream_tls,
            )
        try:
            # The client's Host header goes through unchanged: AWS signatures cover it.
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            # Expect is dropped because the body has already been read from the client.
            for name, value in _end_to_end(self.headers.items(), "content-length", "expect"):
                upstream.putheader(name, value)
            if framed:
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body)
            proxy._count_forwarded()
            answer = upstream.getresponse()
            payload = answer.read()
        except (OSError, ValueError, http.client.HTTPException):
            self._reply(502, [("Content-Type", "text/plain")], b"fault proxy: upstream failed\n")
            return
        finally:
            upstream.close()
        self._reply(answer.status, answer.getheaders(), payload, answer.reason, trickle=trickle)

    def _reply(
        self,
        status: int,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        reason: str | None = None,
        *,
        trickle: tuple[float, threading.Event] | None = None,
    ) -> None:
        bodiless = self.command == "HEAD" or status in (204, 304) or status < 200
        self.send_response_only(status, reason)
        # A HEAD or 304 answer keeps the upstream's Content-Length: it describes the absent body.
        for name, value in _end_to_end(headers, *(() if bodiless else ("content-length",))):
            self.send_header(name, value)
        if not bodiless:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if bodiless:
            return
        if trickle is None:
            self.wfile.write(body)
            return
        interval, wake = trickle
        for sent in range(len(body)):
            self.wfile.write(body[sent : sent + 1])
            if wake.wait(interval):  # cleared or stopped: the rest at once, or a cut link
                self.wfile.write(body[sent + 1 :])
                return
