"""Our OpenTelemetry Collector distribution, run on loopback ports of its own.

The binary comes from ``instrumentation/collector/build.sh`` (it prints its path); the
configuration is the shipped ``collector.yaml``, steered only through its environment
variables, so that what the tests run is what users deploy.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ._process import ProcessServer
from .openbao import free_port


class CollectorProcess(ProcessServer):
    """Run the collector with ``config`` until :meth:`stop`; a restart keeps its folders.

    Args:
        binary: The ``otelcol-abstractcore`` binary.
        config: The collector configuration file.
        environment: Variables the configuration reads, beyond the ports and folders this
            class assigns (``ABSTRACTCORE_COLLECTOR_*``; see docs/observability.md).
        grpc_port: The OTLP gRPC receiver's port; default a free one.
        http_port: The OTLP HTTP receiver's port; default a free one.
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
        super().__init__(binary, prefix="otelcol-")
        self.config = Path(config)
        self.archive_dir = self.home / "archive"
        self.storage_dir = self.home / "storage"
        self.grpc_port, self.http_port = grpc_port or free_port(), http_port or free_port()
        self.health_port, self.metrics_port = free_port(), free_port()
        self.grpc_endpoint = f"http://127.0.0.1:{self.grpc_port}"
        self.http_endpoint = f"http://127.0.0.1:{self.http_port}"
        self.ready_url = f"http://127.0.0.1:{self.health_port}/"
        self.environment = {
            "ABSTRACTCORE_COLLECTOR_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{self.grpc_port}",
            "ABSTRACTCORE_COLLECTOR_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{self.http_port}",
            "ABSTRACTCORE_COLLECTOR_HEALTH_ENDPOINT": f"127.0.0.1:{self.health_port}",
            "ABSTRACTCORE_COLLECTOR_METRICS_PORT": str(self.metrics_port),
            "ABSTRACTCORE_COLLECTOR_ARCHIVE_DIR": str(self.archive_dir),
            "ABSTRACTCORE_COLLECTOR_STORAGE_DIR": str(self.storage_dir),
            **(environment or {}),
        }

    def arguments(self) -> list[str]:
        """Return the command line (the archive folder is made first)."""
        self.archive_dir.mkdir(exist_ok=True)
        return [self.binary, f"--config={self.config}"]

    def validate(self) -> subprocess.CompletedProcess[str]:
        """Run ``validate`` on the configuration with this environment."""
        return subprocess.run(  # noqa: S603 - fixed argument list
            [self.binary, "validate", f"--config={self.config}"],
            env={**os.environ, **self.environment},
            capture_output=True,
            text=True,
            check=False,
        )

    def healthy(self) -> bool:
        """Whether the health check extension answers 200."""
        return self.ready()

    def output_files(self) -> list[Path]:
        """Return every file the collector wrote (archives, storage, its log)."""
        return sorted(path for path in self.home.rglob("*") if path.is_file())
