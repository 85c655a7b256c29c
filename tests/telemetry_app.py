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
from abstractcore_secrets.telemetry._setup import configure_telemetry
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
        tracer = telemetry.tracer_provider.get_tracer("telemetry-app")  # type: ignore[attr-defined]
        with tracer.start_as_current_span("app.handler"):
            _report(manager.resolve("openai"))  # cache hit of the degraded answer
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


def real_sources(telemetry: object) -> None:
    """Every real source, driven through every outcome; the tests planted the canaries.

    OpenBao, moto and the Key Vault emulator run in the parent; their addresses and the
    credentials (themselves canaries) come in the environment.
    """
    import structlog

    from abstractcore_secrets import (
        AWSSecretsProvider,
        AzureKeyVaultProvider,
        ConfigFileSecretProvider,
        EnvironmentSecretProvider,
        VaultSecretProvider,
    )
    from abstractcore_secrets.redaction._processors import StructlogRedactor
    from abstractcore_secrets.testing import EmulatorCredential

    structlog_file = Path(os.environ["APP_STRUCTLOG"]).open("a")  # noqa: SIM115 - until exit
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            StructlogRedactor(telemetry.policy),  # type: ignore[attr-defined]
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.PrintLoggerFactory(structlog_file),
    )
    resilience = Resilience(RetryPolicy(attempts=2, wait_initial=0.01))
    middleware, attempt_middleware = telemetry.middleware(resilience=resilience)  # type: ignore[attr-defined]
    sources = [
        EnvironmentSecretProvider(),
        VaultSecretProvider(),  # VAULT_ADDR and VAULT_TOKEN
        AWSSecretsProvider(endpoint_url=os.environ["APP_AWS_URL"], read_timeout=1),
        AzureKeyVaultProvider(
            os.environ["APP_AZURE_URL"],
            credential=EmulatorCredential(os.environ["APP_AZURE_TOKEN"]),
            client_options={
                "connection_verify": os.environ["APP_AZURE_CA"],
                "verify_challenge_resource": False,
            },
        ),
        ConfigFileSecretProvider(),
    ]
    manager = SecretsManager(
        sources,
        cache=ResolutionCache(),
        middleware=middleware,
        attempt_middleware=[*attempt_middleware, resilience],
    )
    with principal("carol"):
        for provider in os.environ["APP_PROVIDERS"].split(","):
            _report(manager.resolve(provider))
        _report(manager.resolve("portkey", api_key=os.environ["APP_EXPLICIT"]))
        structlog.get_logger("app").info(
            "done", api_key=os.environ["APP_EXPLICIT"], note="key " + os.environ["APP_EXPLICIT"]
        )
        logging.getLogger("abstractcore_secrets.app").warning(
            "explicit key was %s", os.environ["APP_EXPLICIT"]
        )


def nesting(telemetry: object) -> None:
    """Spans under the caller's span, and the SDK instrumentations' spans under ours."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    from abstractcore_secrets import build_secrets_manager

    RequestsInstrumentor().instrument()
    BotocoreInstrumentor().instrument()
    manager = build_secrets_manager(telemetry=telemetry)  # type: ignore[arg-type]
    tracer = trace.get_tracer("telemetry-app")
    with tracer.start_as_current_span("app.request"):
        for provider in os.environ["APP_PROVIDERS"].split(","):
            _report(manager.resolve(provider))


def main() -> None:
    """Run the scenario named in argv[1]."""
    if os.environ.get("APP_DEBUG_LOG"):
        logging.basicConfig(filename=os.environ["APP_DEBUG_LOG"], level=logging.DEBUG)
    telemetry = configure_telemetry("telemetry-app")
    scenario = sys.argv[1]
    if scenario == "outcomes":
        outcomes(telemetry)
    elif scenario == "real-sources":
        real_sources(telemetry)
    elif scenario == "nesting":
        nesting(telemetry)
    elif scenario == "outage":
        manager = outcomes(telemetry)
        print("phase-1-done", flush=True)
        sys.stdin.readline()  # the parent starts the receiver, then says go
        with principal("bob"):
            _report(manager.resolve("anthropic", api_key="sk-app-explicit-after-outage"))
    telemetry.force_flush(int(float(os.environ.get("APP_FLUSH_SECONDS", "10")) * 1000))
    telemetry.shutdown()
    Path(os.environ.get("APP_DONE", os.devnull)).write_text("done")


if __name__ == "__main__":
    main()
