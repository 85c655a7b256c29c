"""Run the real CLI in a child process, as a user would."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading


def run_cli(
    *arguments: str,
    stdin: str | bytes = "",
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m abstractcore_secrets ARGS`` with this test's environment.

    ``stdin`` as bytes is sent as it is (to give the CLI input that is not UTF-8).
    """
    raw = isinstance(stdin, bytes)
    result = subprocess.run(
        [sys.executable, "-m", "abstractcore_secrets", *arguments],
        input=stdin,
        capture_output=True,
        text=not raw,
        env=_environment(env),
        timeout=timeout,
        check=False,
    )
    if raw:
        return subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode("utf-8", "replace"),
            result.stderr.decode("utf-8", "replace"),
        )
    return result


def run_cli_on_terminal(
    *arguments: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the CLI with standard error on a pseudo-terminal, standard output on a pipe.

    As ``command > out.jsonl`` on a terminal: what the terminal shows is returned as
    ``stderr``, with its carriage returns.
    """
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "abstractcore_secrets", *arguments],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=_environment(env),
    )
    os.close(terminal)
    shown = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            shown.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = process.communicate(timeout=timeout)
    reader.join(timeout=10)
    os.close(controller)
    return subprocess.CompletedProcess(
        process.args, process.returncode, stdout.decode(), shown.decode("utf-8", "replace")
    )


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    """This test's environment, without a COLUMNS of the shell that runs the tests: output
    piped to a test is then kept whole, unless the test sets COLUMNS itself."""
    inherited = {name: value for name, value in os.environ.items() if name != "COLUMNS"}
    return {**inherited, **(extra or {})}
