"""Redaction by value: the cost of learning a value, and of scrubbing, as more are learnt.

Compares, for the policy's learnt-value matching:
- before: one regex alternation of every form of every value (longest first), compiled again
  from all the values at each new one (re-implemented here as the baseline);
- ours: an Aho-Corasick automaton, built from the forms kept per value and swapped in.

Measures learning the Nth value (N = 1, 64, 256, the policy keeping N values) and scrubbing a
4 KiB text with 256 values learnt (with 4 of them in it, and with none).

Run: ``python benchmarks/bench_redaction_learn.py`` (``--quick`` for a smoke run).
Prints nanoseconds per call (best of several repeats) of each, and ``before / ours``.
"""

from __future__ import annotations

import argparse
import itertools
import re
import secrets
import sys
from collections import OrderedDict
from collections.abc import Callable

from _peers import best_ns_per_call

from abstractcore_secrets.redaction import RedactionPolicy, encodings

MASK = "[REDACTED]"
_MIN_VALUE = 6


class AlternationPolicy:
    """The learnt-value matching the automaton replaced: one regex, recompiled per value."""

    def __init__(self, max_values: int) -> None:
        self.max_values = max_values
        self._known: OrderedDict[str, None] = OrderedDict()
        self._needles: re.Pattern[str] | None = None

    def add(self, *values: str) -> None:
        fresh = [value for value in values if value not in self._known]
        for value in values:
            if value in self._known:
                self._known.move_to_end(value)
        if not fresh:
            return
        for value in fresh:
            self._known[value] = None
        while len(self._known) > self.max_values:
            self._known.popitem(last=False)
        needles = {
            form for known in self._known for form in encodings(known) if len(form) >= _MIN_VALUE
        }
        self._needles = re.compile(
            "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
        )

    def scrub_text(self, text: str) -> str:
        return text if self._needles is None else self._needles.sub(MASK, text)


def _key() -> str:
    return "sk-proj-" + secrets.token_urlsafe(42)


def _learning(policy: RedactionPolicy | AlternationPolicy, kept: int) -> Callable[[], None]:
    """Return a call that learns a new value, the policy keeping ``kept`` values."""
    policy.add(*(_key() for _ in range(kept - 1)))
    fresh = (_key() for _ in itertools.count())
    return lambda: policy.add(next(fresh))


def _text(values: list[str]) -> str:
    """Return 4 KiB of log lines with ``values`` spread through them."""
    line = "DEBUG botocore.endpoint Sending http request: <AWSPreparedRequest method=POST> "
    text = line * (4096 // len(line) + 1)
    step = len(text) // (len(values) + 1)
    for index, value in enumerate(values, start=1):
        text = text[: index * step] + value + text[index * step :]
    return text[:4096]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run")
    arguments = parser.parse_args()
    learn_number, scrub_number, repeat = (2, 20, 1) if arguments.quick else (20, 2_000, 5)

    rows: dict[str, tuple[float, float]] = {}
    for kept in (1, 64, 256):
        before = AlternationPolicy(max_values=kept)
        ours = RedactionPolicy(patterns=False, max_values=kept)
        rows[f"learn value #{kept}"] = (
            best_ns_per_call(_learning(before, kept), learn_number, repeat),
            best_ns_per_call(_learning(ours, kept), learn_number, repeat),
        )

    values = [_key() for _ in range(256)]
    before = AlternationPolicy(max_values=256)
    ours = RedactionPolicy(patterns=False, max_values=256)
    before.add(*values)
    ours.add(*values)
    for label, text in (
        ("scrub 4 KiB, 4 values in it", _text(values[::64])),
        ("scrub 4 KiB, no value in it", _text([])),
    ):
        assert ours.scrub_text(text) == before.scrub_text(text)
        rows[label + " (256 learnt)"] = (
            best_ns_per_call(lambda t=text: before.scrub_text(t), scrub_number, repeat),
            best_ns_per_call(lambda t=text: ours.scrub_text(t), scrub_number, repeat),
        )

    print(f"python {sys.version.split()[0]}, best of {repeat} repeats")
    width = max(map(len, rows))
    print(f"{'measure'.ljust(width)}  {'before ns':>12}  {'ours ns':>12}  {'before / ours':>13}")
    for name, (old, new) in rows.items():
        print(f"{name.ljust(width)}  {old:12.0f}  {new:12.0f}  {old / new:13.1f}")


if __name__ == "__main__":
    main()
