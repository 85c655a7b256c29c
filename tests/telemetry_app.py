"""An application that resolves keys with telemetry exported over OTLP; run as a child process.

The telemetry tests run it in a process of its own, as a real application would be, because
OpenTelemetry's global providers can be set once per process. It reads its scenario from
``argv[1]`` and its setup from the environment (``OTEL_*`` and ``APP_*``), prints one JSON
line per resolution, and flushes the exporters before it exits.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from abstractcore_secrets import (
    Resilience,
    ResolutionCache,
    RetryPolicy,
    SecretsManager,
    SourceForbiddenError,
    SourceUnavailableError,
)
from abstractcore_secrets.audit import principal
from abstractcore_secrets.telemetry.setup import configure_telemetry
from abstractcore_secrets.testing import FailingSecretProvider


def _report(resolution: object) -> None:
    print(
        json.dumps(
            {
                "provider": resolution.provider,  # type: ignore[attr-defined]
                "outcome": resolution.outcome.value,  # type: ignore[attr-defined]
                "source": resolution.source,  # type: ignore[attr-defined]
                "stale": resolution.stale,  # type: ignore[attr-defined]
                "cache_hit": resolution.cache_hit,  # type: ignore[attr-defined]
            }
        ),
        flush=True,
    )


def outcomes(telemetry: object) -> SecretsManager:
    """Found, cache hit, fall-through, not found, denied, error and stale resolutions."""
    clock = [0.0]
    vault = FailingSecretProvider(None, name="vault", fallback={"openai": os.environ["APP_VALUE"]})
    flaky = FailingSecretProvider(None, name="aws", fallback={"anthropic": "sk-app-anthropic"})
    down = FailingSecretProvider(SourceUnavailableError("down"), name="azure")
    resilience = Resilience(RetryPolicy(attempts=1))
    middleware, attempt_middleware = telemetry.middleware(resilience=resilience)  # type: ignore[attr-defined]
    manager = SecretsManager(
        [down, vault, flaky],
        cache=ResolutionCache(60, clock=lambda: clock[0], jitter=lambda: 0.999),
        middleware=middleware,
        attempt_middleware=[*attempt_middleware, resilience],
    )
    with principal("alice"):
        _report(manager.resolve("openai"))  # azure down, then found at vault
        _report(manager.resolve("openai"))  # cache hit
        down.error = None  # azure is back, holding no keys
        _report(manager.resolve("mistral"))  # not found anywhere
        flaky.error = SourceForbiddenError("denied for the test", source="aws")
        _report(manager.resolve("anthropic"))  # denied at aws
        vault.fallback["openai"] = os.environ["APP_VALUE"] + "-rotated"
        clock[0] += 60
        _report(manager.resolve("openai"))  # refreshed: rotated
        vault.error = SourceUnavailableError("vault down", source="vault")
        down.error = SourceUnavailableError("down again", source="azure")
        flaky.error = SourceUnavailableError("down too", source="aws")
        clock[0] += 60
        _report(manager.resolve("openai"))  # every source down: stale
        _report(manager.resolve("groq"))  # every source failing: error
    return manager


def main() -> None:
    """Run the scenario named in argv[1]."""
    if os.environ.get("APP_DEBUG_LOG"):
        logging.basicConfig(filename=os.environ["APP_DEBUG_LOG"], level=logging.DEBUG)
    telemetry = configure_telemetry("telemetry-app")
    scenario = sys.argv[1]
    if scenario == "outcomes":
        outcomes(telemetry)
    elif scenario == "outage":
        manager = outcomes(telemetry)
        print("phase-1-done", flush=True)
        sys.stdin.readline()  # the parent starts the receiver, then says go
        with principal("bob"):
            _report(manager.resolve("anthropic", api_key="sk-app-explicit-after-outage"))
    telemetry.force_flush(10_000)
    telemetry.shutdown()
    Path(os.environ.get("APP_DONE", os.devnull)).write_text("done")


if __name__ == "__main__":
    main()
