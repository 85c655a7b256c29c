"""The assembly: one place that builds the manager and decides its layers' order."""

from __future__ import annotations

import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import abstractcore_secrets
from abstractcore_secrets import assembly, config, manager
from abstractcore_secrets._cache import ResolutionCache
from abstractcore_secrets._fingerprint import Fingerprinter
from abstractcore_secrets.audit import AuditMiddleware, principal
from abstractcore_secrets.redaction import default_policy
from abstractcore_secrets.redaction._processors import ValueLearner
from abstractcore_secrets.resilience import Resilience
from abstractcore_secrets.telemetry import MetricsMiddleware, TracingMiddleware
from abstractcore_secrets.telemetry._setup import Telemetry


@pytest.fixture
def spans():
    """A tracer provider of its own, not the global one, whose spans are kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _write_settings(config_path, audit):
    config_path.parent.mkdir(parents=True, mode=0o700)
    config_path.write_text(json.dumps({"secrets": {"chain": ["env"], "audit": audit}}))
    config_path.chmod(0o600)


class TestBuildSecretsManager:
    def test_pseudonymize_reaches_spans_when_telemetry_is_configured(
        self, config_path, monkeypatch, spans
    ):
        """``secrets.audit.pseudonymize`` names principals by pseudonym in spans too."""
        _write_settings(config_path, {"pseudonymize": True})
        monkeypatch.setenv("OPENAI_API_KEY", "sk-assembly-test-0123456789abcdef")
        provider, exporter = spans
        telemetry = Telemetry(default_policy(), "svc", tracer_provider=provider)
        built = assembly.build_secrets_manager(config.load_settings(), telemetry=telemetry)
        with principal("alice"):
            assert built.resolve("openai").source == "env"
        pseudonym = Fingerprinter().fingerprint("principal:alice").split(":", 1)[1][:32]
        endusers = [
            {k: v for k, v in (span.attributes or {}).items() if k.startswith("enduser.")}
            for span in exporter.get_finished_spans()
            if span.name == "secrets.resolve"
        ]
        assert endusers == [{"enduser.pseudo.id": pseudonym}]

    def test_principal_in_clear_without_pseudonymize(self, config_path, monkeypatch, spans):
        """Without the setting, spans carry the principal as ``enduser.id``."""
        _write_settings(config_path, {})
        monkeypatch.setenv("OPENAI_API_KEY", "sk-assembly-test-0123456789abcdef")
        provider, exporter = spans
        telemetry = Telemetry(default_policy(), "svc", tracer_provider=provider)
        built = assembly.build_secrets_manager(config.load_settings(), telemetry=telemetry)
        with principal("alice"):
            built.resolve("openai")
        (span,) = [s for s in exporter.get_finished_spans() if s.name == "secrets.resolve"]
        assert (span.attributes or {})["enduser.id"] == "alice"

    def test_the_cache_is_placed_once(self, config_path):
        """The built manager's cache is in its stacks, and is what ``invalidate`` drops from."""
        built = assembly.build_secrets_manager(config.load_settings())
        assert isinstance(built.cache, ResolutionCache)


class TestMiddlewareStacks:
    def test_order(self):
        """Both stacks, outermost first, as the assembly's literal lists give them."""
        resilience, cache = Resilience(), ResolutionCache()
        audit = AuditMiddleware([])
        middleware, attempt_middleware = assembly.middleware_stacks(
            resilience=resilience, cache=cache, audit=audit
        )
        learner, tracing, measuring = middleware[:3]
        assert [type(learner), type(tracing), type(measuring)] == [
            ValueLearner,
            TracingMiddleware,
            MetricsMiddleware,
        ]
        assert middleware == [
            learner,
            tracing,
            measuring,
            audit,
            resilience.deadline_scope,
            cache,
        ]
        assert attempt_middleware == [
            cache.remember_misses,
            learner.attempt,
            tracing.attempt,
            measuring.attempt,
            resilience,
        ]

    def test_absent_layers_are_skipped(self):
        """Without resilience and cache, only the observability layers remain, in order."""
        middleware, attempt_middleware = assembly.middleware_stacks()
        assert [type(layer) for layer in middleware] == [
            ValueLearner,
            TracingMiddleware,
            MetricsMiddleware,
            AuditMiddleware,
        ]
        assert len(attempt_middleware) == 3


class TestPublicNames:
    def test_old_imports_keep_working(self):
        """The package root and ``config`` still offer the names users import."""
        assert abstractcore_secrets.get_secrets_manager is assembly.get_secrets_manager
        assert abstractcore_secrets.set_secrets_manager is assembly.set_secrets_manager
        assert abstractcore_secrets.build_secrets_manager is assembly.build_secrets_manager
        assert callable(config.build_secrets_manager)

    def test_the_chain_does_not_know_the_assembly(self):
        """``manager`` holds the chain only: the singleton lives in the assembly."""
        assert not hasattr(manager, "get_secrets_manager")
