"""Typed usage examples: mypy --strict checks that the public API reads well to a type checker."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from abstractcore_secrets import (
    Attempt,
    AttemptRequest,
    Resolution,
    ResolveRequest,
    SecretProvider,
    SecretsManager,
    get_secrets_manager,
)
from abstractcore_secrets.audit import AuditSink, LoggingSink, SinkContext, register_sink
from abstractcore_secrets.audit.journal import Journal
from abstractcore_secrets.middleware import AttemptHandler, Handler


class StaticSource(SecretProvider):
    """A custom source, as users write them."""

    name = "static"

    def get_secret(self, key: str) -> str | None:
        return {"openai": "sk-static"}.get(key)


def count_resolutions(request: ResolveRequest, call_next: Handler) -> Resolution:
    """A resolution middleware."""
    return call_next(request)


def time_attempts(request: AttemptRequest, call_next: AttemptHandler) -> Attempt:
    """An attempt middleware."""
    return call_next(request)


def build() -> str | None:
    manager = SecretsManager(
        [StaticSource()], middleware=[count_resolutions], attempt_middleware=[time_attempts]
    )
    resolution: Resolution = manager.resolve("openai")
    source: str | None = resolution.source
    del source
    return get_secrets_manager().get_api_key("openai")


def journal_as_sink(path: str, key: Ed25519PrivateKey) -> AuditSink:
    """The journal meets the sink protocol as it is, with no adapter."""
    return Journal(path, key)


def registered_sink() -> None:
    """A sink named in settings (secrets.audit.sinks) through the registry."""

    def factory(context: SinkContext) -> AuditSink:
        return LoggingSink()

    register_sink("typed-example", factory)
