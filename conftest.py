"""Docs that run: every Python and shell example in README.md and docs/ is a test (sybil).

- ```` ```python ```` blocks run in one namespace per document, in order, as a reader would
  paste them; ``<!-- invisible-code-block: python -->`` comments set up what a reader
  already has (a server, a variable) without showing it.
- ```` ```bash ```` blocks run as one bash script (``set -euo pipefail``): every command must
  succeed.
- ```` ```json ```` blocks must parse; one with a ``secrets`` section is written as the
  config file and must load as settings (so no option in a doc is misspelt or stale).
- ```` ```toml ```` blocks must parse. ```` ```text ```` and ```` ```hcl ```` blocks are shown,
  not run (a record's schema, a Vault policy).
- ```` ```console ```` blocks hold ``$ command`` lines, each followed by its expected output
  (``...`` on a line of its own matches any lines; within a line, any text); a command
  expected to fail says so with ``# exit N`` at the end of its line.
- ``<!-- skip: next "why" -->`` skips the next example, for what cannot run in a test (an
  install from the package index, the test script itself, a server that runs until stopped):
  a skip must give its reason, and tests/test_docs_examples.py keeps their number in check.

Each document runs in a sandbox of its own: a fresh home folder (so no example reads or
writes the real ``~/.abstractcore``), the working directory there, a test key in
``OPENAI_API_KEY``, and the environment restored afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sybil import Example, Sybil
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

ROOT = Path(__file__).parent
DOCS_KEY = "sk-docs-example-" + "d0c5" * 8
"""The key the examples' environment holds (OPENAI_API_KEY): a test value."""

BASH = shutil.which("bash") or "/bin/bash"

_VARIABLE = re.compile(r"^(ABSTRACTCORE|OTEL|VAULT|BAO|AWS|AZURE|OPENAI|ANTHROPIC)_")


def _sandbox_setup(namespace: dict[str, Any]) -> None:
    home = Path(tempfile.mkdtemp(prefix="docs-home-"))
    home.chmod(0o700)
    saved = dict(os.environ)
    # The collector's build cache stays the real one: a build takes minutes, a hit none.
    collector_cache = os.environ.get("ABSTRACTCORE_COLLECTOR_CACHE") or str(
        Path.home() / ".cache" / "abstractcore-secrets" / "otelcol"
    )
    for name in list(os.environ):
        # COLUMNS too: the CLI fits its tables to it, and the documents show them whole.
        if _VARIABLE.match(name) or name == "COLUMNS":
            del os.environ[name]
    os.environ.update(
        {
            "HOME": str(home),
            "OPENAI_API_KEY": DOCS_KEY,
            "ABSTRACTCORE_COLLECTOR_CACHE": collector_cache,
        }
    )
    # Commands in the docs run from a clone's root: its folders are there.
    for folder in ("instrumentation", "scripts"):
        (home / folder).symlink_to(ROOT / folder)
    namespace["__sandbox__"] = {"home": home, "environ": saved, "cwd": Path.cwd()}
    namespace["__stop__"] = []  # servers an invisible block started
    os.chdir(home)
    _reset_global_manager()


def _sandbox_teardown(namespace: dict[str, Any]) -> None:
    sandbox = namespace["__sandbox__"]
    _reset_global_manager()
    for stop in reversed(namespace["__stop__"]):
        stop()
    os.chdir(sandbox["cwd"])
    os.environ.clear()
    os.environ.update(sandbox["environ"])
    shutil.rmtree(sandbox["home"], ignore_errors=True)


def _reset_global_manager() -> None:
    """Close the process-wide manager an example built; the next one builds afresh."""
    from abstractcore_secrets import assembly

    manager = assembly._global_manager
    assembly.set_secrets_manager(None)
    if manager is not None:
        manager.close()


def _shell_environment() -> dict[str, str]:
    """The examples' environment: this process's (the sandbox's), the venv's commands first."""
    environment = dict(os.environ)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    environment["REPO"] = str(ROOT)
    return environment


def _run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the commands are our documents' own
        [BASH, "-c", f"set -euo pipefail\n{command}"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_shell_environment(),
        timeout=300,
        check=False,
    )


def evaluate_bash(example: Example) -> str | None:
    """Run a ```bash block as one script; every command must succeed."""
    done = _run(example.parsed)
    if done.returncode != 0:
        return (
            f"exit {done.returncode} from:\n{example.parsed}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return None


def _commands(block: str) -> Iterator[tuple[str, int, list[str]]]:
    """Yield each ``$ command`` of a console block, its expected exit code and output."""
    command: str | None = None
    expected: list[str] = []
    status = 0
    lines = block.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("$ "):
            if command is not None:
                yield command, status, expected
            command, expected = line[2:], []
            while command.endswith("\\") and index + 1 < len(lines):
                index += 1
                command = command[:-1] + "\n" + lines[index]
            marker = re.search(r"\s#\s*exit (\d+)\s*$", command)
            status = int(marker.group(1)) if marker else 0
        elif command is not None:
            expected.append(line)
        index += 1
    if command is not None:
        yield command, status, expected


def _matches(expected: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` fits ``expected``: ``...`` alone matches any lines (none too), and
    any text within a line; trailing spaces do not count."""
    if not expected:
        return not actual
    head, rest = expected[0].rstrip(), expected[1:]
    if head.strip() == "...":
        return any(_matches(rest, actual[skipped:]) for skipped in range(len(actual) + 1))
    pattern = ".*".join(map(re.escape, head.split("...")))
    return (
        bool(actual)
        and re.fullmatch(pattern, actual[0].rstrip()) is not None
        and _matches(rest, actual[1:])
    )


def evaluate_console(example: Example) -> str | None:
    """Run each ``$ command`` of a console block; check its exit code and output."""
    for command, status, expected in _commands(example.parsed):
        done = _run(command)
        output = (done.stdout + done.stderr).splitlines()
        while expected and not expected[-1].strip():
            expected.pop()
        if done.returncode != status or not _matches(expected, output):
            return (
                f"$ {command}\nexpected exit {status}, got {done.returncode}\n"
                f"expected output:\n"
                + "\n".join(expected)
                + "\nactual output:\n"
                + "\n".join(output)
            )
    return None


def evaluate_json(example: Example) -> str | None:
    """Parse a ```json block; one with a ``secrets`` section must load as settings.

    Written as the sandbox's config file, then read by ``load_settings()``: an option
    renamed or removed fails its example.
    """
    import json

    from abstractcore_secrets.settings import load_settings

    try:
        document = json.loads(example.parsed)
    except json.JSONDecodeError as error:
        return f"not JSON: {error}"
    if isinstance(document, dict) and "secrets" in document:
        config = Path.home() / ".abstractcore" / "config" / "abstractcore.json"
        config.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        config.write_text(example.parsed)
        config.chmod(0o600)
        load_settings()
    return None


def evaluate_toml(example: Example) -> str | None:
    """Parse a ```toml block (entry points, settings of tools): it must be TOML."""
    import tomllib

    try:
        tomllib.loads(example.parsed)
    except tomllib.TOMLDecodeError as error:
        return f"not TOML: {error}"
    return None


pytest_collect_file = Sybil(
    parsers=[
        PythonCodeBlockParser(future_imports=["annotations"]),
        CodeBlockParser("bash", evaluate_bash),
        CodeBlockParser("console", evaluate_console),
        CodeBlockParser("json", evaluate_json),
        CodeBlockParser("toml", evaluate_toml),
        SkipParser(),
    ],
    patterns=["README.md", "docs/*.md", "docs/**/*.md"],
    setup=_sandbox_setup,
    teardown=_sandbox_teardown,
    name="docs",
).pytest()
