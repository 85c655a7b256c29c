"""Run the real CLI in a child process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(
    *arguments: str,
    stdin: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m abstractcore_secrets ARGS`` with this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "abstractcore_secrets", *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )
