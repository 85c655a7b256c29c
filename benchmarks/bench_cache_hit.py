"""Cost of a cached resolution, side by side with its peers, in one process.

Compares, per call:
- ``SecretsManager.get_api_key`` and ``.resolve`` answered from the cache;
- a plain dict lookup and ``os.environ.get`` (the floor: no provenance, no rotation);
- aws-secretsmanager-caching's cache hit, ``SecretCache.get_secret_string``, its client
  pointed at a moto server on loopback (warmed first, so no request is made while timed).

Run: ``python benchmarks/bench_cache_hit.py`` (``--quick`` for a smoke run).
Prints nanoseconds per call (best of several repeats) and each one's cost as a multiple
of ours (``it / ours``: above 1 is slower than ours, below 1 faster).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run")
    arguments = parser.parse_args()
    number, repeat = (200, 2) if arguments.quick else (200_000, 7)

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    home = tempfile.mkdtemp(prefix="bench-home-")
    os.environ["ABSTRACTCORE_HOME"] = home  # the fingerprint key goes here, not in ~

    from _peers import aws_caching_hit, best_ns_per_call, print_ratios

    from abstractcore_secrets import ResolutionCache, SecretsManager
    from abstractcore_secrets.testing import InMemorySecretProvider

    key = "sk-bench-" + "x" * 40
    try:
        with aws_caching_hit(key) as aws_hit:
            manager = SecretsManager(
                [InMemorySecretProvider({"openai": key})], cache=ResolutionCache(ttl=3600)
            )
            assert manager.get_api_key("openai") == key
            assert manager.resolve("openai").cache_hit
            plain = {"openai": key}
            os.environ["OPENAI_API_KEY"] = key
            candidates: dict[str, Callable[[], object]] = {
                "abstractcore-secrets get_api_key (cached)": lambda: manager.get_api_key("openai"),
                "abstractcore-secrets resolve (cached)": lambda: manager.resolve("openai"),
                "dict lookup": lambda: plain["openai"],
                "os.environ.get": lambda: os.environ.get("OPENAI_API_KEY"),
                "aws-secretsmanager-caching get_secret_string (hit)": aws_hit,
            }
            results = {
                name: best_ns_per_call(call, number, repeat) for name, call in candidates.items()
            }
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"python {sys.version.split()[0]}, {number} calls x {repeat} repeats, best repeat")
    print_ratios(results, "abstractcore-secrets get_api_key (cached)", "it / ours")


if __name__ == "__main__":
    main()
