"""The demo's live steps: a rotated key reaching a running client, and telemetry received
by a real OTLP receiver, with no key in any of it."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Any

from .._cache import ResolutionCache
from .._fingerprint import Fingerprinter
from .._manager import SecretsManager
from ..testing import InMemorySecretProvider
from ._demo import Stage, fake_key, proof, say, table


def live_rotation(stage: Stage) -> None:
    stage.step(
        "A rotated key reaches a running client",
        "An LLM service stand-in on loopback accepts one key. A client sends its requests "
        "with SecretsAuth (an httpx.Auth: openai's and anthropic's SDKs take it through "
        "their http_client). Then the key is rotated in the managed source and at the "
        "service, without telling the client.",
    )
    try:
        import httpx

        from ..integrations.httpx import SecretsAuth
        from ..testing.fake_llm import FakeLLMServer
    except ImportError:
        say("(install 'abstractcore-secrets[httpx]' to see this step)")
        return
    first, second = fake_key("demokey-openai-"), fake_key("demokey-openai-rotated-")
    managed = InMemorySecretProvider({"openai": first}, name="vault")
    fingerprinter = Fingerprinter(key_path=stage.folder / "fingerprint.key")
    manager = SecretsManager([managed], cache=ResolutionCache(300), fingerprinter=fingerprinter)
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping"}]}
    with (
        FakeLLMServer(keys=[first]) as service,
        httpx.Client(
            base_url=service.base_url, auth=SecretsAuth("openai", manager=manager), timeout=5
        ) as client,
    ):
        client.post("/chat/completions", json=chat).raise_for_status()
        managed.set("openai", second)
        service.accept(second)  # the first key is refused from now on
        answer = client.post("/chat/completions", json=chat)
        rows = [
            {
                "request": number,
                "path": seen.path,
                "status": seen.status,
                "key": _short(fingerprinter, seen.key),
            }
            for number, seen in enumerate(service.requests, start=1)
        ]
    table(rows, ("request", "path", "status", "key"))
    proof(
        f"the application made two calls and both succeeded (the second: {answer.status_code}"
        f", {json.loads(answer.text)['choices'][0]['message']['content']!r}). The service saw "
        "three requests: the second carried the cached, now revoked key and got 401; the "
        "client invalidated it, resolved again, got the rotated key (a new fingerprint) and "
        "retried once. No restart, no code in the application."
    )


def _short(fingerprinter: Fingerprinter, key: str | None) -> str | None:
    if key is None:
        return None
    return fingerprinter.fingerprint(key).split(":", 1)[1][:12]


def telemetry(stage: Stage) -> None:
    stage.step(
        "Traces, metrics and audit events, received over OTLP",
        "configure_telemetry() points the OpenTelemetry SDK at an OTLP receiver on loopback "
        "(a collector's stand-in); a manager built by build_secrets_manager() then resolves "
        "three keys from the config file, one of them twice.",
    )
    try:
        # Importing configure_telemetry imports the OTel SDK (the otlp extra).
        from ..telemetry import configure_telemetry
        from ..testing.otlp import OTLPReceiver
    except ImportError:
        say("(install 'abstractcore-secrets[otlp]' to see this step)")
        return
    from ..assembly import build_secrets_manager
    from ..settings import load_settings

    with OTLPReceiver() as receiver, _without_otel_variables():
        configured = configure_telemetry(
            "demo", protocol="http/protobuf", endpoint=receiver.http_endpoint
        )
        settings = load_settings(stage.config, environ={"ABSTRACTCORE_SECRETS_CHAIN": "config"})
        keys = []
        with build_secrets_manager(settings, telemetry=configured) as manager:
            for provider in ("openai", "anthropic", "openai"):
                resolution = manager.resolve(provider)
                if resolution.value is not None:
                    keys.append(resolution.value.reveal())
        configured.force_flush()
        receiver.wait_for(lambda: _resolutions(receiver.metrics()) >= 3)
        spans, logs = receiver.spans(), receiver.logs()
        counted = _resolutions(receiver.metrics())
        payloads = b"".join(receiver.raw())
        configured.shutdown()
    table(
        [
            {
                "span": span["name"],
                "provider": span["attributes"].get("secrets.provider"),
                "source": span["attributes"].get("secrets.source"),
                "outcome": span["attributes"].get("secrets.outcome"),
            }
            for span in spans
        ],
        ("span", "provider", "source", "outcome"),
    )
    say(f"audit events received: {', '.join(str(log['event_name']) for log in logs)}")
    say(f"resolutions counted by the metric: {counted}")
    leaks = sum(payloads.count(key.encode()) for key in keys)
    proof(
        f"every resolution reached the receiver as a span (its lookup as a child span), an "
        f"audit event and a count ({counted}); the second openai was a cache hit, counted and "
        f"summarised, not traced as a span of its own. The {len(payloads):,} bytes received "
        f"hold the resolved keys {leaks} times."
    )


@contextlib.contextmanager
def _without_otel_variables() -> Iterator[None]:
    """Hide this shell's ``OTEL_*`` variables from the SDK for the step: a sampler switched
    off or an SDK disabled there would leave the receiver empty, and the proof untrue."""
    hidden = {name: value for name, value in os.environ.items() if name.startswith("OTEL_")}
    for name in hidden:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(hidden)


def _resolutions(points: list[dict[str, Any]]) -> int:
    """The resolutions counter's latest total (it is cumulative), over its attribute sets."""
    latest: dict[str, float] = {}
    for point in points:
        if point["name"] == "abstractcore.secrets.resolutions":
            latest[json.dumps(point["attributes"], sort_keys=True)] = point["value"]
    return int(sum(latest.values()))
