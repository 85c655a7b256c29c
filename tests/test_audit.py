"""AuditMiddleware: the event schema, principals, rotation events, failing sinks."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import ListSink

from abstractcore_secrets import SecretsManager, SourceForbiddenError
from abstractcore_secrets.audit import AuditMiddleware, LoggingSink, principal
from abstractcore_secrets.audit._middleware import AuditFailureWarning
from abstractcore_secrets.redaction import RedactionPolicy
from abstractcore_secrets.testing import FailingSecretProvider, InMemorySecretProvider


class BrokenSink:
    name = "broken"

    def __call__(self, event):
        raise OSError("disk full")


def _manager(source, audit, fingerprinter):
    return SecretsManager([source], middleware=[audit], cache=None, fingerprinter=fingerprinter)


class TestAuditMiddleware:
    def test_event_schema(self, fingerprinter):
        """A resolution's event carries the documented fields, and never the value."""
        sink = ListSink()
        audit = AuditMiddleware([sink], service_name="svc", fingerprinter=fingerprinter)
        source = InMemorySecretProvider({"openai": "sk-audit-value-123"}, name="vault")
        with principal("alice"):
            _manager(source, audit, fingerprinter).resolve("openai")
        event = sink.events[0]
        assert set(event) == {
            "time",
            "seq",
            "event_id",
            "event",
            "provider",
            "source",
            "outcome",
            "stale",
            "degraded",
            "cache_hit",
            "attempts",
            "locator",
            "version",
            "fingerprint",
            "user",
            "service.name",
            "host.name",
            "process.pid",
            "trace_id",
            "span_id",
            "source_request_id",
            "duration_ms",
            "error.type",
            "error.message",
            "count",
            "first_time",
            "last_time",
        }
        assert {
            k: event[k]
            for k in (
                "event",
                "provider",
                "source",
                "outcome",
                "locator",
                "version",
                "service.name",
                "seq",
            )
        } == {
            "event": "secret.resolved",
            "provider": "openai",
            "source": "vault",
            "outcome": "found",
            "locator": "vault:openai",
            "version": "1",
            "service.name": "svc",
            "seq": 1,
        }
        assert event["user"]["id"] == "alice"
        assert event["time"].endswith("+00:00")

    def test_pseudonymised_principal(self, fingerprinter):
        """With pseudonymize, the principal is a keyed, stable pseudonym."""
        sink = ListSink()
        audit = AuditMiddleware([sink], pseudonymize=True, fingerprinter=fingerprinter)
        manager = _manager(InMemorySecretProvider({"openai": "k"}), audit, fingerprinter)
        for user in ("alice", "alice", "bob"):
            with principal(user):
                manager.resolve("openai")
        pseudonyms = [event["user"]["pseudo_id"] for event in sink.events]
        assert pseudonyms[0] == pseudonyms[1] != pseudonyms[2]
        assert "alice" not in json.dumps(sink.events)

    def test_rotation_and_denial_events(self, fingerprinter):
        """A changed fingerprint adds secret.rotated; a fail-closed outcome is secret.denied."""
        sink = ListSink()
        audit = AuditMiddleware([sink], fingerprinter=fingerprinter)
        source = FailingSecretProvider(None, name="vault", fallback={"openai": "k1"})
        manager = _manager(source, audit, fingerprinter)
        manager.resolve("openai")
        source.fallback["openai"] = "k2"
        manager.resolve("openai")
        source.error = SourceForbiddenError("revoked")
        manager.resolve("openai")
        assert [e["event"] for e in sink.events] == [
            "secret.resolved",
            "secret.resolved",
            "secret.rotated",
            "secret.denied",
        ]
        assert sink.events[0]["error.type"] is None
        rotated = sink.events[2]
        assert rotated["previous_fingerprint"] == sink.events[0]["fingerprint"]
        assert sink.events[3]["error.type"] == "forbidden"

    def test_failover_between_sources_is_not_a_rotation(self, fingerprinter):
        """The same provider answered by another source is not reported as rotated."""
        sink = ListSink()
        audit = AuditMiddleware([sink], fingerprinter=fingerprinter)
        vault = FailingSecretProvider(None, name="vault", fallback={"openai": "from-vault"})
        env = InMemorySecretProvider({"openai": "from-env"}, name="env")
        manager = SecretsManager(
            [vault, env], middleware=[audit], cache=None, fingerprinter=fingerprinter
        )
        manager.resolve("openai")
        vault.fallback.clear()
        manager.resolve("openai")
        assert [e["event"] for e in sink.events] == ["secret.resolved", "secret.resolved"]

    def test_failing_sink_is_reported_not_silent(self, fingerprinter):
        """A sink that raises: the resolution succeeds, a warning names the sink and event."""
        sink = ListSink()
        audit = AuditMiddleware([BrokenSink(), sink], fingerprinter=fingerprinter)
        manager = _manager(InMemorySecretProvider({"openai": "k"}), audit, fingerprinter)
        with pytest.warns(AuditFailureWarning, match="'broken' failed"):
            assert manager.get_api_key("openai") == "k"
        assert len(sink.events) == 1

    def test_events_are_scrubbed_before_any_sink(self, fingerprinter):
        """An error message quoting a learnt value is masked in the event."""
        policy = RedactionPolicy()
        policy.add("sk-quoted-in-error-123")
        sink = ListSink()
        audit = AuditMiddleware([sink], policy=policy, fingerprinter=fingerprinter)
        broken = FailingSecretProvider(SourceForbiddenError("bad key sk-quoted-in-error-123"))
        _manager(broken, audit, fingerprinter).resolve("openai")
        assert "sk-quoted-in-error-123" not in json.dumps(sink.events)

    def test_logging_sink_writes_json_lines_to_stdlib_logging(self, fingerprinter, caplog):
        """Without structlog configured, events are JSON lines on abstractcore_secrets.audit."""
        caplog.set_level(logging.INFO, logger="abstractcore_secrets.audit")
        audit = AuditMiddleware([LoggingSink()], fingerprinter=fingerprinter)
        _manager(InMemorySecretProvider({"openai": "k"}), audit, fingerprinter).resolve("openai")
        events = [
            json.loads(r.getMessage())
            for r in caplog.records
            if r.name == "abstractcore_secrets.audit"
        ]
        assert [e["event"] for e in events] == ["secret.resolved"]


class SwitchableSink(ListSink):
    name = "switchable"

    def __init__(self):
        super().__init__()
        self.on = False

    def listening(self):
        return self.on


def test_no_event_is_built_while_nobody_listens_but_rotations_are_tracked(fingerprinter):
    """Silent sinks cost no event; a rotation that happened meanwhile is still reported."""
    sink = SwitchableSink()
    audit = AuditMiddleware([sink], fingerprinter=fingerprinter)
    source = FailingSecretProvider(None, name="vault", fallback={"openai": "k1"})
    manager = _manager(source, audit, fingerprinter)
    manager.resolve("openai")
    assert sink.events == []
    source.fallback["openai"] = "k2"
    sink.on = True
    manager.resolve("openai")
    assert [e["event"] for e in sink.events] == ["secret.resolved", "secret.rotated"]
