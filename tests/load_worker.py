"""One worker of the sustained load test (tests/test_load.py), run as a child process.

It builds the manager the way applications do (``build_secrets_manager()`` from the config
file and the environment the test prepared: audit journal in block mode), resolves a fixed
mix of providers ``count`` times, and writes to ``report`` (JSON) what it did: how many
resolutions per provider, source and outcome, how many rotations it saw, and its pid, so
that the test can match the journal record for record. At the halfway point it waits until
the test has rotated a key in the config file, then invalidates the cache and carries on.

Run: ``python tests/load_worker.py COUNT REPORT [--profile FILE]`` (``--profile`` writes
cProfile statistics of the resolution loop to FILE).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abstractcore_secrets import SecretsManager

ROTATED = "anthropic"
"""The provider whose key the test changes in the config file half way through."""

# (provider, call, explicit key variable): the mix each worker cycles through. Values come
# from the environment the test set: a worker never holds a key the test did not plant.
MIX = (
    ("openai", "resolve", None),  # env: OPENAI_API_KEY
    ("huggingface", "resolve", None),  # env: HF_TOKEN, the second of its variables
    ("groq", "get_api_key", None),  # env and config file: env wins
    (ROTATED, "resolve", None),  # config file, rotated half way
    ("mistral", "get_api_key", None),  # config file
    ("together.ai", "resolve", None),  # nowhere: not found
    ("ollama", "get_api_key", None),  # nowhere: not found
    ("openrouter", "resolve", "LOAD_EXPLICIT_KEY"),  # the caller's explicit key
)
INVALIDATE_EVERY = 4_999
"""Drop the whole cache now and then, so that sources are read again, not only the cache."""


def main() -> None:
    """Resolve, count, report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", type=int)
    parser.add_argument("report", type=Path)
    parser.add_argument("--profile", type=Path, default=None)
    arguments = parser.parse_args()

    # Route the library's loggers (audit events included) to stderr, which the test keeps
    # and searches for canaries like the journal.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")

    from abstractcore_secrets import build_secrets_manager

    manager = build_secrets_manager()
    profiler = None
    if arguments.profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    counts, rotations = _resolve_many(manager, arguments.count, int(os.environ["LOAD_WORKER"]))
    elapsed = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(arguments.profile))
    arguments.report.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "resolutions": sum(counts.values()),
                "counts": dict(counts),
                "rotations": rotations,
                "seconds": elapsed,
            }
        )
    )


def _resolve_many(manager: SecretsManager, count: int, worker: int) -> tuple[Counter[str], int]:
    """Resolve ``count`` times; return the count per provider, source and outcome, and the
    number of rotations seen (a provider's fingerprint changing at one source)."""
    expected = json.loads(os.environ["LOAD_EXPECTED"])
    explicit = {var: os.environ[var] for _, _, var in MIX if var is not None}
    counts: Counter[str] = Counter()
    last_fingerprint: dict[str, str] = {}
    rotations = 0
    halfway = count // 2
    for index in range(count):
        if index == halfway:
            _wait_for_rotation(worker)
            manager.invalidate(ROTATED)
        elif index % INVALIDATE_EVERY == 0:
            manager.invalidate()
        provider, call, variable = MIX[(index + worker) % len(MIX)]
        key = explicit[variable] if variable else None
        phase = "after" if index >= halfway else "before"
        want = expected[phase][provider]
        if call == "get_api_key":
            served = manager.get_api_key(provider, api_key=key)
            # The value tells the source: every source holds a canary of its own.
            source, outcome, fingerprint = want["source"], want["outcome"], None
        else:
            resolution = manager.resolve(provider, api_key=key)
            served = None if resolution.value is None else resolution.value.reveal()
            source, outcome = resolution.source, resolution.outcome.value
            fingerprint = resolution.fingerprint
        if served != want["value"] or (source, outcome) != (want["source"], want["outcome"]):
            # Never print a value: name the provider and what was wrong.
            raise SystemExit(f"worker {worker}: wrong answer for {provider} ({phase} rotation)")
        counts[f"{provider}|{source}|{outcome}"] += 1
        if fingerprint is not None and source != "explicit":
            slot = f"{provider}|{source}"
            if last_fingerprint.get(slot, fingerprint) != fingerprint:
                rotations += 1
            last_fingerprint[slot] = fingerprint
    return counts, rotations


def _wait_for_rotation(worker: int) -> None:
    """Say this worker is half way, and wait until the test has rotated the key."""
    folder = Path(os.environ["LOAD_SIGNALS"])
    (folder / f"halfway-{worker}").touch()
    deadline = time.monotonic() + 600
    while not (folder / "rotated").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"worker {worker}: the key was never rotated")
        time.sleep(0.01)


if __name__ == "__main__":
    main()
