"""A progress bar on standard error for the audit commands that read whole journals.

Shown only on a terminal: silent when standard error is piped or redirected, with
``--quiet``, and for a command whose output goes to the same terminal (the bar would
tangle with it). The bar measures how far the command has read its journals: a
background thread samples the kernel's file positions of this process's open journal
files (``/proc/self/fdinfo``, as ``pv -d`` does), so the reading code needs no hook and
is not slowed down. Where there is no ``/proc`` (macOS), the bar shows time spent only.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

import click

_PROC_FD = Path("/proc/self/fd")
_INTERVAL = 0.2


def _terminal(stream: TextIO | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


class ReadPosition:
    """How many bytes of the watched files this process has read, over every open of them.

    Each sample lists the open file descriptors that point at a watched file and reads
    their positions. A descriptor that closed, or now starts over (a second pass, or a
    number reused), adds the position it had reached to what was read before.
    """

    def __init__(self, paths: Iterable[Path]) -> None:
        self.watched = {os.path.realpath(path) for path in paths}
        self.done = 0
        self._open: dict[int, tuple[str, int]] = {}

    @staticmethod
    def available() -> bool:
        """Whether this system shows file positions (Linux's ``/proc``)."""
        return _PROC_FD.is_dir()

    def sample(self) -> int:
        """Return the bytes read so far."""
        current: dict[int, tuple[str, int]] = {}
        with contextlib.suppress(OSError):
            for entry in _PROC_FD.iterdir():
                with contextlib.suppress(OSError, ValueError):
                    target = str(entry.readlink())
                    if target in self.watched:
                        current[int(entry.name)] = (target, _position(int(entry.name)))
        for number, (target, last) in self._open.items():
            now = current.get(number)
            if now is None or now[0] != target or now[1] < last:
                self.done += last
        self._open = current
        return self.done + sum(position for _, position in current.values())


def _position(descriptor: int) -> int:
    with Path(f"/proc/self/fdinfo/{descriptor}").open(encoding="ascii") as info:
        for line in info:
            if line.startswith("pos:"):
                return int(line.split()[1])
    return 0


@contextlib.contextmanager
def reading(
    paths: Iterable[Path],
    label: str,
    *,
    passes: int = 1,
    quiet: bool = False,
    output_on_stdout: bool = False,
) -> Iterator[None]:
    """Show a progress bar on standard error while the block reads ``paths``.

    Args:
        paths: The journals the block reads.
        label: What the bar says it is doing (``verifying``).
        passes: How many times the block reads the journals whole.
        quiet: Show nothing (``--quiet``).
        output_on_stdout: The command writes its result to standard output as it goes: no
            bar when that is the terminal too.
    """
    files = [path for path in paths if path.is_file()]
    shown = (
        not quiet
        and _terminal(sys.stderr)
        and not (output_on_stdout and _terminal(sys.stdout))
        and bool(files)
    )
    if not shown:
        yield
        return
    size = sum(path.stat().st_size for path in files)
    measured = ReadPosition.available()
    total = max(1, size * passes) if measured else 1
    described = f"{label} {_size(size)}"
    position = ReadPosition(files)
    stop = threading.Event()
    started = time.monotonic()
    with click.progressbar(
        length=total,
        label=described,
        file=sys.stderr,
        show_eta=measured,
        show_percent=measured,
        item_show_func=None if measured else lambda item: item,
        width=30,
    ) as bar:

        def follow() -> None:
            while not stop.wait(_INTERVAL):
                if measured:
                    now = min(position.sample(), total - 1)
                    if now > bar.pos:
                        bar.update(now - bar.pos)
                else:  # no positions to read: the time spent moves on
                    bar.current_item = f"{time.monotonic() - started:.0f} s"
                    bar.render_progress()

        watcher = threading.Thread(target=follow, name="audit-progress", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join()
        bar.update(total - bar.pos)


def _size(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
