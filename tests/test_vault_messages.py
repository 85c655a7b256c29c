"""What the Vault source says when the address or TLS is wrong: which failure it was, and
the setting that fixes it, against real servers (never a library's internal error)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from abstractcore_secrets import Outcome, SecretsManager, VaultSecretProvider
from abstractcore_secrets.testing import OpenBaoServer

pytestmark = pytest.mark.server


def _message(address: str, **options: object) -> str:
    source = VaultSecretProvider(address, "root", path="secret/data/abstractcore", **options)
    with SecretsManager([source], cache=None) as manager:
        resolution = manager.resolve("openai")
    assert resolution.outcome is Outcome.ERROR
    assert resolution.error is not None
    return str(resolution.error)


@pytest.fixture(scope="module")
def tls_bao() -> Iterator[OpenBaoServer]:
    with OpenBaoServer(tls=True) as server:
        yield server


@pytest.fixture
def hangs_up() -> Iterator[int]:
    """A port that accepts a connection and closes it at once (a TLS handshake cut short)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def test_an_untrusted_certificate_names_the_ca_setting(tls_bao: OpenBaoServer) -> None:
    message = _message(tls_bao.address)
    assert "certificate is not trusted" in message
    assert "VAULT_CACERT" in message


def test_https_to_a_plain_http_server_says_it_does_not_speak_tls() -> None:
    with OpenBaoServer() as bao:
        message = _message(bao.address.replace("http://", "https://"))
    assert "does not speak TLS" in message


def test_a_handshake_cut_short_is_no_certificate_problem(hangs_up: int) -> None:
    message = _message(f"https://127.0.0.1:{hangs_up}")
    assert "did not finish" in message
    assert "VAULT_CACERT" not in message


def test_a_host_no_resolver_accepts_is_a_bad_address() -> None:
    message = _message(f"https://{'a' * 64}.example:8200")
    assert "does not name a valid host" in message
    assert "SourceError subclass" not in message


def test_connection_refused_names_both_places_the_address_is_set() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    message = _message(f"http://127.0.0.1:{port}", timeout=2.0, connect_timeout=1.0)
    assert "VAULT_ADDR, or secrets.sources.vault.addr" in message
