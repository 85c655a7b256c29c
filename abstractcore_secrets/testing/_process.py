"""What the test servers run as binaries share: a folder, a log, a readiness wait, a stop."""

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
from typing import Any

from ._http import ServerContext


class ProcessServer(ServerContext):
    """A server binary run in a folder of its own (``home``) until :meth:`stop`.

    Subclasses give :meth:`arguments` (writing any configuration first) and ``ready_url``,
    which answers 200 once the server serves; ``environment`` is added to the process's.
    """

    ready_url = ""
    environment: Mapping[str, str] = {}

    def __init__(self, binary: str | Path, *, prefix: str) -> None:
        self.binary = str(binary)
        self.home = Path(tempfile.mkdtemp(prefix=prefix))
        self.log_path = self.home / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    def arguments(self) -> list[str]:
        """Return the command line, after writing the configuration it names."""
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Any:  # noqa: ANN401 - the subclass's self
        """Start the server and wait until ``ready_url`` answers."""
        command = self.arguments()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argument list
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.environment},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited early:\n{self.log()[-4000:]}")
            if self.ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.binary} was not ready within {timeout} s:\n{self.log()[-4000:]}")

    def ready(self) -> bool:
        """Whether ``ready_url`` answers 200."""
        try:
            with urllib.request.urlopen(self.ready_url, timeout=1) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop gracefully (SIGTERM), killing at ``timeout``; the folder stays."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def cleanup(self) -> None:
        """Remove the server's folder."""
        shutil.rmtree(self.home, ignore_errors=True)

    def log(self) -> str:
        """Return what the server printed."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
