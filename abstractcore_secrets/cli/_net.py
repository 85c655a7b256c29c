"""Reachability and TLS of a source's server, checked the way its SDK will connect.

A connection goes where the SDK's would: straight to the server, or through the proxy
that ``HTTPS_PROXY``/``HTTP_PROXY`` name (``NO_PROXY`` honoured), tunnelled with
``CONNECT``. TLS is checked against the CA bundle the SDK will trust, so that a
certificate problem shows here with its reason (expired, self-signed, wrong name), not as
an opaque SDK error later. Nothing here sends a credential.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import socket
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from . import _checks as checks
from ._checks import Check, Problem

_HEAD_LIMIT = 8192  # a proxy's answer to CONNECT: a status line and a few headers
EXPIRY_WARNING_DAYS = 14


@dataclass(frozen=True)
class Endpoint:
    """Where a source's server listens: ``scheme://host:port``."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        """Whether the server is on this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def endpoint_of(url: str) -> Endpoint | None:
    """Return the endpoint of an ``http`` or ``https`` URL, or ``None`` if it is not one."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return Endpoint(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80))


def valid_host(host: str) -> bool:
    """Return whether ``host`` can be looked up: an IP address, or a name whose every label
    IDNA encodes (1 to 63 characters), as the socket layer will encode it."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    try:
        host.encode("idna")
    except UnicodeError:
        return False
    return True


def proxy_for(endpoint: Endpoint) -> Endpoint | None:
    """Return the proxy the environment sends ``endpoint``'s requests through, if any."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(endpoint.scheme)
    if not proxy or urllib.request.proxy_bypass(endpoint.host):
        return None
    return endpoint_of(proxy if "://" in proxy else f"http://{proxy}")


def _proxy_authorization() -> str | None:
    proxy = urllib.request.getproxies().get("https", "")
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not parts.username:
        return None
    pair = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def open_connection(endpoint: Endpoint, timeout: float) -> tuple[socket.socket, Endpoint | None]:
    """Connect to ``endpoint`` as the SDK would; return the socket and the proxy used.

    Raises:
        OSError: The host or proxy cannot be resolved or reached, or the proxy refused the
            tunnel (a ``ConnectionRefusedError`` naming its status).
    """
    proxy = proxy_for(endpoint)
    target = proxy or endpoint
    connection = socket.create_connection((target.host, target.port), timeout=timeout)
    if proxy is None or endpoint.scheme != "https":
        return connection, proxy
    try:
        _tunnel(connection, endpoint)
    except BaseException:
        connection.close()
        raise
    return connection, proxy


def _tunnel(connection: socket.socket, endpoint: Endpoint) -> None:
    lines = [f"CONNECT {endpoint} HTTP/1.1", f"Host: {endpoint}"]
    authorization = _proxy_authorization()
    if authorization is not None:
        lines.append(f"Proxy-Authorization: {authorization}")
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
        chunk = connection.recv(1024)
        if not chunk:
            break
        head += chunk
    status = head.split(b"\r\n", 1)[0].split(b" ")
    if len(status) < 2 or status[1] != b"200":
        code = status[1].decode("ascii", "replace")[:3] if len(status) > 1 else "no answer"
        raise ConnectionRefusedError(f"the proxy refused the tunnel ({code})")


def reach(endpoint: Endpoint, timeout: float, fix: str) -> Check:
    """Check that ``endpoint`` accepts a connection; ``fix`` says where its address is set."""
    started = time.perf_counter()
    proxy = proxy_for(endpoint)
    via = "" if proxy is None else f" through the proxy {proxy}"
    for named in (endpoint, proxy):
        if named is not None and not valid_host(named.host):
            return checks.failure(
                "reachable",
                f"{'the proxy' if named is proxy else 'the address'} does not name a valid host "
                "(a host name is labels of 1 to 63 characters, separated by dots)",
                fix,
                Problem.CONFIGURATION,
            )
    problem: str | None = None
    try:
        connection, _ = open_connection(endpoint, timeout)
    except socket.gaierror:
        problem = f"cannot resolve the host {endpoint.host!r}{via}"
    except TimeoutError:
        problem = (
            f"no answer from {endpoint}{via} within {timeout:g} s (a firewall, or a wrong port)"
        )
    except ConnectionRefusedError as exc:
        problem = (
            f"{exc}{via}"
            if proxy is not None and endpoint.scheme == "https" and "tunnel" in str(exc)
            else f"nothing listens at {endpoint}{via} (connection refused)"
        )
    except OSError as exc:
        problem = f"cannot connect to {endpoint}{via} ({exc.strerror or type(exc).__name__})"
    took = time.perf_counter() - started
    if problem is not None:
        return checks.failure("reachable", problem, fix, Problem.FAILED, took)
    connection.close()
    return checks.ok("reachable", f"{endpoint}{via} in {checks.milliseconds(took)}", took)


def default_ca_bundle(environment_variables: tuple[str, ...]) -> str | None:
    """Return the CA bundle an SDK trusts by default: the first variable set, else certifi's."""
    for name in environment_variables:
        value = os.environ.get(name)
        if value:
            return value
    try:
        import certifi
    except ImportError:  # pragma: no cover - requests and botocore depend on it
        return None
    return str(certifi.where())


REQUESTS_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
"""The variables requests (hvac, azure-core) reads for its CA bundle."""


def tls(endpoint: Endpoint, verify: bool | str, timeout: float, fix_trust: str) -> Check:
    """Check the TLS handshake and the certificate of ``endpoint``.

    Args:
        endpoint: An ``https`` endpoint.
        verify: ``False`` (no verification, as configured), or the CA bundle's path.
        timeout: Seconds for the connection and the handshake.
        fix_trust: How to give the source the CA that signs the server's certificate.
    """
    from ..sources.spec import shown_path

    started = time.perf_counter()
    try:
        context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        return checks.failure(
            "tls",
            f"the CA bundle {shown_path(verify)} cannot be used: "
            + (
                "no such file"
                if isinstance(exc, FileNotFoundError)
                else f"it holds no PEM certificate ({type(exc).__name__})"
            ),
            fix_trust,
            Problem.CONFIGURATION,
        )
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    problem: Check | None = None
    certificate: Mapping[str, object] = {}
    version = None
    try:
        connection, _ = open_connection(endpoint, timeout)
        with context.wrap_socket(connection, server_hostname=endpoint.host) as secured:
            certificate = secured.getpeercert() or {}
            version = secured.version()
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or exc.reason or "verification failed"
        problem = checks.failure(
            "tls",
            f"the certificate of {endpoint} is not trusted: {reason}",
            _trust_fix(str(reason), fix_trust),
            Problem.CONFIGURATION,
        )
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
        # As a reset would: the server hung up during the handshake.
        problem = checks.failure(
            "tls",
            f"the TLS handshake with {endpoint} did not finish (the server closed the connection)",
            "check that the server serves TLS on this port, and its logs",
            Problem.FAILED,
        )
    except ssl.SSLError as exc:
        plain = "WRONG_VERSION_NUMBER" in str(exc) or "record layer" in str(exc)
        problem = checks.failure(
            "tls",
            f"{endpoint} does not speak TLS"
            if plain
            else f"the TLS handshake with {endpoint} failed ({exc.reason or type(exc).__name__})",
            "use http:// if the server serves plain HTTP, or the port that serves TLS"
            if plain
            else "check the server's TLS settings",
            Problem.CONFIGURATION,
        )
    except (OSError, ValueError) as exc:
        problem = checks.failure(
            "tls",
            f"the TLS handshake with {endpoint} did not finish ({type(exc).__name__})",
            "check that the server serves TLS on this port",
            Problem.FAILED,
        )
    took = time.perf_counter() - started
    if problem is not None:
        return problem
    if verify is False:
        return checks.warning(
            "tls",
            f"{version}, but the certificate is not verified (verification is off)",
            "turn verification on: give the CA bundle instead (" + fix_trust + ")",
            took,
        )
    return _expiry(endpoint, certificate, str(version), took)


def _expiry(
    endpoint: Endpoint, certificate: Mapping[str, object], version: str, took: float
) -> Check:
    not_after = certificate.get("notAfter")
    if not isinstance(not_after, str):
        return checks.ok("tls", f"{version}, certificate trusted", took)
    expires = dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), dt.timezone.utc)
    left = expires - dt.datetime.now(dt.timezone.utc)
    detail = f"{version}, certificate trusted, expires {expires:%Y-%m-%d} ({left.days} d left)"
    if left.days < EXPIRY_WARNING_DAYS:
        return checks.warning(
            "tls", detail, f"renew the certificate of {endpoint} before it expires", took
        )
    return checks.ok("tls", detail, took)


def _trust_fix(reason: str, fix_trust: str) -> str:
    lowered = reason.lower()
    if "expired" in lowered:
        return "renew the server's certificate"
    if "hostname" in lowered or "ip address mismatch" in lowered:
        return "use the name the certificate was issued for in the address"
    return fix_trust
