"""``demo``: the chain at work on an embedded, offline setup that touches nothing of yours.

It builds a throw-away folder with a config file, an environment of its own and stand-ins
for the services (an in-memory managed source, an LLM service on loopback, an OTLP
receiver), then walks through what the library promises, one step at a time: each says
what it does, shows the rows, and says why those rows prove it. Keys are random per run and
never printed: fingerprints (a keyed hash) identify them. Output fits 100 columns.
"""

from __future__ import annotations

import secrets
import tempfile
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from . import _console as console

WIDTH = 100
T = TypeVar("T")


@click.command("demo")
def demo_command() -> None:
    """Show the resolver chain at work, offline, on a throw-away setup."""
    from . import _demo_chain, _demo_live, _demo_tools

    with tempfile.TemporaryDirectory(prefix="abstractcore-secrets-demo-") as folder:
        stage = Stage(Path(folder))
        say(
            f"A throw-away folder ({folder}) holds this demo's config file, keys and journal; "
            "nothing of yours is read or written. Keys are random; only fingerprints (a keyed "
            "hash of the key, 12 hex digits here) are shown, never a key."
        )
        steps = (
            *_demo_chain.STEPS,
            _demo_live.live_rotation,
            _demo_tools.journal,
            _demo_tools.commands,
            # Last: it sets the process's OpenTelemetry providers, then shuts them down.
            _demo_live.telemetry,
        )
        for step in steps:
            step(stage)


class Stage:
    """What the steps share: the folder, and how to show a locator inside it briefly."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.config = folder / "config" / "abstractcore.json"
        self._number = 0
        self._shared: dict[str, Any] = {}

    def shared(self, name: str, make: Callable[[], T]) -> T:
        """What several steps use (the chain's sources), made by the first that asks."""
        if name not in self._shared:
            self._shared[name] = make()
        found: T = self._shared[name]
        return found

    def step(self, title: str, what: str) -> None:
        """Start the next step: its number and title, then what it does."""
        self._number += 1
        heading = f"-- {self._number}. {title} "
        console.say("\n" + heading + "-" * max(WIDTH - len(heading), 3))
        say(what)

    def short(self, text: str | None) -> str:
        """``text`` with the demo's folder left out (paths then fit the table)."""
        return "-" if text is None else text.replace(f"{self.folder}/config/", "")


def fake_key(prefix: str) -> str:
    """A random key, new each run, shaped like none of the real providers' formats."""
    return prefix + secrets.token_urlsafe(24)


def say(text: str, *, indent: str = "") -> None:
    """Print ``text`` wrapped at the demo's width."""
    for paragraph in text.split("\n"):
        console.say(
            textwrap.fill(paragraph, WIDTH, initial_indent=indent, subsequent_indent=indent)
            if paragraph
            else ""
        )


def proof(text: str) -> None:
    """Say why the rows above prove the step's point."""
    say("Proof: " + text, indent="")


def table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> None:
    """Print ``rows`` as a table of ``columns`` (cut to the demo's width, never wrapped)."""
    console.print_table([{c: _cell(row.get(c)) for c in columns} for row in rows], columns)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


Step = Callable[[Stage], None]
