"""Our OpenTelemetry Collector distribution, run on loopback ports of its own.

The binary comes from ``instrumentation/collector/build.sh`` (it prints its path); the
configuration is the shipped ``collector.yaml``, steered only through its environment
variables, so that what the tests run is what users deploy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from ._http import ServerContext
from .openbao import free_port


class CollectorProcess(ServerContext):
    """Run the collector with ``config`` until :meth:`stop`; a restart keeps its folders.

    Args:
        binary: The ``otelcol-abstractcore`` binary.
        config: The collector configuration file.
        environment: Variables the configuration reads, beyond the ports and folders this
            class assigns (``ABSTRACTCORE_COLLECTOR_*``; see docs/observability.md).
        grpc_port, http_port: The OTLP receivers' ports; default free ones.
    """

    def __init__(
        self,
        binary: Path,
        config: Path,
        environment: Mapping[str, str] | None = None,
        *,
        grpc_port: int | None = None,
        http_port: int | None = None,
    ) -> None:
        self.binary = Path(binary)
        self.config = Path(config)
        self.home = Path(tempfile.mkdtemp(prefix="otelcol-"))
        self.archive_dir = self.home / "archive"
        self.storage_dir = self.home / "storage"
        self.grpc_port, self.http_port = grpc_port or free_port(), http_port or free_port()
        self.health_port, self.metrics_port = free_port(), free_port()
        self.grpc_endpoint = f"http://127.0.0.1:{self.grpc_port}"
        self.http_endpoint = f"http://127.0.0.1:{self.http_port}"
        self.environment = {
            "ABSTRACTCORE_COLLECTOR_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{self.grpc_port}",
            "ABSTRACTCORE_COLLECTOR_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{self.http_port}",
            "ABSTRACTCORE_COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{self.health_port}",
            "ABSTRACTCORE_COLLECTOR_METRICS_PORT": str(self.metrics_port),
            "ABSTRACTCORE_COLLECTOR_ARCHIVE_DIR": str(self.archive_dir),
            "ABSTRACTCORE_COLLECTOR_STORAGE_DIR": str(self.storage_dir),
            **(environment or {}),
        }
        self.log_path = self.home / "collector.log"
        self._process: subprocess.Popen[bytes] | None = None

    def validate(self) -> subprocess.CompletedProcess[str]:
        """Run ``validate`` on the configuration with this environment."""
        return subprocess.run(  # noqa: S603 - fixed argument list
            [str(self.binary), "validate", f"--config={self.config}"],
            env={**os.environ, **self.environment},
            capture_output=True,
            text=True,
            check=False,
        )

    def start(self, timeout: float = 30.0) -> CollectorProcess:
        """Start the collector and wait until its health check answers."""
        self.archive_dir.mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argument list
                [str(self.binary), f"--config={self.config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.environment},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the collector exited early:\n{self.log()[-4000:]}")
            if self.healthy():
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"the collector was not healthy within {timeout} s")

    def healthy(self) -> bool:
        """Whether the health check extension answers 200."""
        url = f"http://127.0.0.1:{self.health_port}/"
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop gracefully (SIGTERM: queues flushed, checkpoints saved), killing at timeout."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def cleanup(self) -> None:
        """Remove the collector's folder (archives, storage, log)."""
        shutil.rmtree(self.home, ignore_errors=True)

    def log(self) -> str:
        """Return what the collector printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def output_files(self) -> list[Path]:
        """Return every file the collector wrote (archives and storage)."""
        return sorted(path for path in self.home.rglob("*") if path.is_file())
