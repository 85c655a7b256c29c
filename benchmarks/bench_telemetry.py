"""Cost of instrumentation on a cached resolution, side by side with its peers.

Candidates, per call:
- a cached ``get_api_key`` without middleware;
- the same with full telemetry (value learning, tracing, metrics, audit events to structlog
  and OTel logs), the SDK exporting over OTLP to a real receiver on loopback;
- the same with the collector down (nothing listening at the OTLP endpoint);
- a bare OpenTelemetry span (``start_as_current_span``) on the same SDK;
- aws-secretsmanager-caching's cache hit, its client pointed at a moto server.

OpenTelemetry's global providers can be set once per process, so each telemetry case runs in
a child process of this script; the table is printed by the parent, as ratios to the cached
resolution without middleware.

Run: ``python benchmarks/bench_telemetry.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


def child(collector: str, number: int, repeat: int) -> None:
    """Measure in this process, telemetry exporting to ``collector`` ('up' or 'down')."""
    from _peers import best_ns_per_call
    from opentelemetry import trace

    from abstractcore_secrets import ResolutionCache, SecretsManager
    from abstractcore_secrets.telemetry._setup import configure_telemetry
    from abstractcore_secrets.testing import InMemorySecretProvider, free_port
    from abstractcore_secrets.testing.otlp import OTLPReceiver

    receiver = OTLPReceiver()
    endpoint = f"http://127.0.0.1:{free_port()}"
    if collector == "up":
        receiver.start()
        endpoint = receiver.http_endpoint
    telemetry = configure_telemetry(
        "bench", protocol="http/protobuf", endpoint=endpoint, metric_interval_millis=1000
    )
    key = "sk-bench-" + "x" * 40
    bare = SecretsManager(
        [InMemorySecretProvider({"openai": key})], cache=ResolutionCache(ttl=3600)
    )
    middleware, attempt_middleware = telemetry.middleware()
    full = SecretsManager(
        [InMemorySecretProvider({"openai": key})],
        cache=ResolutionCache(ttl=3600),
        middleware=middleware,
        attempt_middleware=attempt_middleware,
    )
    bare.get_api_key("openai")
    full.get_api_key("openai")
    tracer = trace.get_tracer("bench")

    def span() -> None:
        with tracer.start_as_current_span("bench.span"):
            pass

    results = {
        "cached, no middleware": best_ns_per_call(
            lambda: bare.get_api_key("openai"), number, repeat
        ),
        f"cached, full telemetry, collector {collector}": best_ns_per_call(
            lambda: full.get_api_key("openai"), number, repeat
        ),
        "bare OTel span": best_ns_per_call(span, number, repeat),
    }
    print(json.dumps(results))
    telemetry.shutdown()
    receiver.stop()


def main() -> None:
    """Run both children and the AWS caching peer; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run")
    parser.add_argument("--collector", choices=["up", "down"], help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    number, repeat = (200, 2) if arguments.quick else (20_000, 5)
    home = tempfile.mkdtemp(prefix="bench-telemetry-")
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "ABSTRACTCORE_HOME": home,
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
        }
    )
    if arguments.collector:
        child(arguments.collector, number, repeat)
        return
    results: dict[str, float] = {}
    for collector in ("up", "down"):
        flags = ["--collector", collector] + (["--quick"] if arguments.quick else [])
        output = subprocess.run(
            [sys.executable, __file__, *flags],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        ).stdout
        results.update(json.loads(output.strip().splitlines()[-1]))

    from _peers import aws_caching_hit, best_ns_per_call, print_ratios

    try:
        with aws_caching_hit("sk-bench") as aws_hit:
            results["aws-secretsmanager-caching hit"] = best_ns_per_call(aws_hit, number, repeat)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"{number} calls x {repeat} repeats, best repeat")
    print_ratios(results, "cached, no middleware", "/ no middleware")


if __name__ == "__main__":
    main()
