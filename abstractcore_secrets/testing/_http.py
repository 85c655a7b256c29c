"""What the test servers share: a loopback HTTP server that stops cleanly, and a quiet handler."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar


class TrackingHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its connections, so that stopping it is immediate.

    Handler threads are joined on close, so a stopped server leaves no thread or socket
    behind; a restart binds the same port despite connections in TIME_WAIT.
    """

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's look-up of the host's FQDN, a DNS query that can stall."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.socket.getsockname()[1])

    # Any, as typeshed declares these parameters.
    def process_request(self, request: Any, client_address: Any) -> None:  # noqa: ANN401
        """Track the connection, then serve it in a thread."""
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:  # noqa: ANN401
        """Forget the connection before closing it, so that cut_connections() never sees it."""
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        """Shut every client connection down; idle keep-alive handlers then see end of file."""
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    # socket.socket's, not SSLSocket's: no TLS close_notify on a dying link.
                    socket.socket.shutdown(connection, socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:  # noqa: ANN401, ARG002
        """Ignore clients that hang up; name anything else by type only (no header quoted)."""
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            sys.stderr.write(f"{type(self).__name__}: {type(error).__name__} in a handler\n")


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, TCP_NODELAY, and no request log (lines may carry tokens)."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        """Turn Nagle off: headers and body go out in separate writes, which would otherwise
        wait on the client's delayed ACK (about 40 ms a response)."""
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401
        """Log nothing."""


_Server = TypeVar("_Server", bound="ServerContext")


class Serving:
    """A :class:`TrackingHTTPServer` served on a thread of its own, until :meth:`stop`."""

    def __init__(self, server: TrackingHTTPServer, name: str) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close every connection and the socket, join the thread."""
        self.server.shutdown()
        self.server.cut_connections()
        self.server.server_close()
        self._thread.join()


class ServerContext:
    """``with server:`` starts it and stops it; subclasses define ``start``, ``stop``,
    and ``cleanup`` for what a stop keeps (a restart reuses it) but an exit removes."""

    def start(self: _Server) -> _Server:
        """Start serving; return the server."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop serving."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Remove what only the context's end should remove (default: nothing)."""

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        self.cleanup()
