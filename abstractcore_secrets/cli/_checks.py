"""What ``doctor`` finds, as data: checks with a status, a detail, a fix and what they cost.

A probe of a source (:mod:`._probe_vault`, :mod:`._probe_cloud`, :mod:`._probe_local`) is a
list of :class:`Check` objects; the command renders them as text or JSON and derives its
exit code from the worst :class:`Problem` among them. Every call a probe makes to a server
runs through :func:`bounded`, so that a server that hangs costs at most the timeout.
"""

from __future__ import annotations

import enum
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from . import _console as console

T = TypeVar("T")


class Status(str, enum.Enum):
    """How a check ended."""

    OK = "ok"
    WARN = "warn"  # works, but will not for long, or not safely
    FAIL = "fail"
    SKIP = "skip"  # not run: an earlier check of the source failed


class Problem(enum.Enum):
    """What a failed check means for the exit code; the first in this order wins."""

    CONFIGURATION = console.Exit.CONFIGURATION  # settings, extras, TLS trust, wrong answers
    DENIED = console.Exit.DENIED  # the source refused our credentials or our reads
    FAILED = console.Exit.FAILED  # the source is down, unreachable or too slow


@dataclass(frozen=True)
class Check:
    """One thing checked about a source.

    Attributes:
        name: What was checked: ``settings``, ``reachable``, ``tls``, ``server``, ``auth``,
            ``read``, ...
        status: ok, warn, fail or skip.
        detail: What was found, in a line.
        fix: What to do about a warning or a failure, in the CLI's terms.
        problem: For a failure, what kind it is (decides the exit code).
        seconds: How long the check took, where that is a measure of the source.
        providers: For ``read``: each provider's outcome (``found``, ``not_found``, or the
            failure's category).
    """

    name: str
    status: Status
    detail: str
    fix: str | None = None
    problem: Problem | None = None
    seconds: float | None = None
    providers: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """Return the check as ``--json`` shows it."""
        return {
            "check": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
            "problem": None if self.problem is None else self.problem.name.lower(),
            "ms": None if self.seconds is None else round(self.seconds * 1000, 1),
            "providers": dict(self.providers) or None,
        }


def ok(name: str, detail: str, seconds: float | None = None) -> Check:
    """Return a passed check."""
    return Check(name, Status.OK, detail, seconds=seconds)


def warning(name: str, detail: str, fix: str, seconds: float | None = None) -> Check:
    """Return a check that passed with a warning and its fix."""
    return Check(name, Status.WARN, detail, fix, seconds=seconds)


def failure(
    name: str, detail: str, fix: str | None, problem: Problem, seconds: float | None = None
) -> Check:
    """Return a failed check, what kind of problem it is, and its fix."""
    return Check(name, Status.FAIL, detail, fix, problem, seconds)


def skipped(names: Iterable[str], why: str) -> list[Check]:
    """Return the checks not run because an earlier one failed."""
    return [Check(name, Status.SKIP, why) for name in names]


def exit_code(checks: Iterable[Check]) -> console.Exit:
    """Return the exit code of a set of checks: 0, or the first problem kind found."""
    found = {check.problem for check in checks if check.status is Status.FAIL}
    for problem in Problem:
        if problem in found:
            return console.Exit(problem.value)
    return console.Exit.OK


class TimedOut(Exception):  # noqa: N818 - a signal inside doctor, never raised to users
    """A bounded call did not return in time."""


def bounded(seconds: float, call: Callable[[], T]) -> tuple[T, float]:
    """Run ``call`` on a worker thread; return its result and how long it took.

    A call still running after ``seconds`` is abandoned (the thread is a daemon: a
    server that never answers cannot keep the command alive).

    Raises:
        TimedOut: ``call`` did not return within ``seconds``.
        Exception: Whatever ``call`` raised.
    """
    answers: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            answers.put((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            answers.put((False, exc))

    started = time.perf_counter()
    threading.Thread(target=run, name="doctor-probe", daemon=True).start()
    try:
        succeeded, answer = answers.get(timeout=seconds)
    except queue.Empty:
        raise TimedOut from None
    took = time.perf_counter() - started
    if not succeeded:
        assert isinstance(answer, BaseException)  # noqa: S101 - put there by run() above
        raise answer
    return answer, took  # type: ignore[return-value]


def milliseconds(seconds: float | None) -> str:
    """Return a duration as a message shows it: ``12 ms``."""
    return "" if seconds is None else f"{seconds * 1000:.0f} ms"


def time_left(seconds: float) -> str:
    """Return a duration as people read it: ``45 s``, ``12 min``, ``5 h 3 min``, ``31 d``."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 72:
        return f"{hours} h {minutes % 60} min"
    return f"{hours // 24} d"
