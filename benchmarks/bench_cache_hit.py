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
import logging
import os
import shutil
import sys
import tempfile
import timeit
from collections.abc import Callable


def _best_ns_per_call(call: Callable[[], object], number: int, repeat: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e9


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
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines

    import boto3
    from aws_secretsmanager_caching import SecretCache, SecretCacheConfig
    from moto.server import ThreadedMotoServer

    from abstractcore_secrets import ResolutionCache, SecretsManager
    from abstractcore_secrets.testing import InMemorySecretProvider, free_port

    key = "sk-bench-" + "x" * 40
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client("secretsmanager", endpoint_url=f"http://127.0.0.1:{port}")
        client.create_secret(Name="abstractcore/openai", SecretString=key)
        aws_cache = SecretCache(config=SecretCacheConfig(), client=client)
        assert aws_cache.get_secret_string("abstractcore/openai") == key

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
            "aws-secretsmanager-caching get_secret_string (hit)": lambda: (
                aws_cache.get_secret_string("abstractcore/openai")
            ),
        }
        results = {
            name: _best_ns_per_call(call, number, repeat) for name, call in candidates.items()
        }
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)

    ours = results["abstractcore-secrets get_api_key (cached)"]
    width = max(map(len, results))
    print(f"python {sys.version.split()[0]}, {number} calls x {repeat} repeats, best repeat")
    print(f"{'candidate'.ljust(width)}  {'ns/call':>9}  {'it / ours':>9}")
    for name, nanoseconds in results.items():
        print(f"{name.ljust(width)}  {nanoseconds:9.0f}  {nanoseconds / ours:9.3f}")


if __name__ == "__main__":
    main()
