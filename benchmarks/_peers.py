"""What the benchmarks share: timing, the AWS caching client as a peer, the ratio table."""

from __future__ import annotations

import contextlib
import logging
import timeit
from collections.abc import Callable, Iterator, Mapping


def best_ns_per_call(call: Callable[[], object], number: int, repeat: int) -> float:
    """Return nanoseconds per call of the best of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e9


@contextlib.contextmanager
def aws_caching_hit(value: str) -> Iterator[Callable[[], str]]:
    """Yield a warm aws-secretsmanager-caching lookup, its client on a moto server (loopback).

    The credentials (AWS_ACCESS_KEY_ID, ...) must be set in the environment beforehand.
    """
    import boto3
    from aws_secretsmanager_caching import SecretCache, SecretCacheConfig
    from moto.server import ThreadedMotoServer

    from abstractcore_secrets.testing import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client("secretsmanager", endpoint_url=f"http://127.0.0.1:{port}")
        client.create_secret(Name="abstractcore/openai", SecretString=value)
        cache = SecretCache(config=SecretCacheConfig(), client=client)
        assert cache.get_secret_string("abstractcore/openai") == value  # warm: no request timed
        yield lambda: cache.get_secret_string("abstractcore/openai")
    finally:
        server.stop()


def print_ratios(results: Mapping[str, float], baseline: str, ratio_label: str) -> None:
    """Print nanoseconds per call and each candidate as a multiple of ``baseline``."""
    base = results[baseline]
    width = max(map(len, results))
    print(f"{'candidate'.ljust(width)}  {'ns/call':>9}  {ratio_label:>16}")
    for name, nanoseconds in results.items():
        print(f"{name.ljust(width)}  {nanoseconds:9.0f}  {nanoseconds / base:16.3f}")
