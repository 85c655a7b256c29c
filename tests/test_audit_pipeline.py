"""The audit pipeline: processors, synchronous and batching sink processors, close, capture."""

from __future__ import annotations

import json
import re
import threading
import time
import warnings

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from abstractcore_secrets import (
    ConfigurationError,
    SecretsManager,
    SourceForbiddenError,
    build_secrets_manager,
)
from abstractcore_secrets.assembly import middleware_stacks
from abstractcore_secrets.audit import (
    AuditFailureWarning,
    AuditMiddleware,
    AuditUnavailableError,
    BatchingSinkProcessor,
    OTelLogSink,
    SimpleSinkProcessor,
    principal,
)
from abstractcore_secrets.audit.journal import CHECKPOINT, Journal, load_signing_key
from abstractcore_secrets.config import load_settings
from abstractcore_secrets.telemetry import names
from abstractcore_secrets.testing import (
    FailingSecretProvider,
    InMemorySecretProvider,
    MemorySink,
    capture_audit_events,
    capture_telemetry,
)
from abstractcore_secrets.testing.canary import canary, find_leaks

ENV_KEY = "sk-pipeline-test-0123456789abcdef"


class GatedSink(MemorySink):
    """A sink that waits at a gate before keeping each event: a slow logger or collector."""

    def __init__(self) -> None:
        super().__init__("gated")
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.closed = False

    def __call__(self, event):
        self.entered.set()
        self.gate.wait(10)
        super().__call__(event)

    def close(self):
        self.closed = True


def _records(reader) -> dict[tuple[str, str], int]:
    counts = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == names.AUDIT_RECORDS:
                    for point in metric.data.data_points:
                        key = (point.attributes[names.SINK], point.attributes[names.RESULT])
                        counts[key] = int(point.value)
    return counts


def _manager(audit, fingerprinter, secrets=None):
    source = InMemorySecretProvider(secrets or {"openai": "sk-pipeline-in-memory-0123"})
    return SecretsManager([source], middleware=[audit], cache=None, fingerprinter=fingerprinter)


def _write_settings(config_path, audit):
    config_path.parent.mkdir(parents=True, mode=0o700)
    config_path.write_text(json.dumps({"secrets": {"chain": ["env"], "audit": audit}}))
    config_path.chmod(0o600)


class TestBatchingSinkProcessor:
    def test_delivers_every_event_in_order_and_close_flushes(self, fingerprinter):
        """Every event reaches the sink, in order; closing the manager delivers the queue."""
        sink = GatedSink()
        audit = AuditMiddleware([BatchingSinkProcessor(sink)], fingerprinter=fingerprinter)
        with _manager(audit, fingerprinter) as manager:
            for _ in range(50):
                manager.resolve("openai")
            sink.gate.set()
        assert [event["seq"] for event in sink.events] == list(range(1, 51))
        assert sink.closed

    def test_flush_waits_for_what_was_queued(self, fingerprinter):
        """``flush()`` returns once the events queued before it are in the sink."""
        sink = MemorySink()
        processor = BatchingSinkProcessor(sink)
        manager = _manager(AuditMiddleware([processor], fingerprinter=fingerprinter), fingerprinter)
        for _ in range(20):
            manager.resolve("openai")
        assert processor.flush(5)
        assert len(sink.events) == 20
        manager.close()

    def test_a_full_queue_drops_counts_and_warns_without_blocking(self, fingerprinter):
        """A slow sink fills the queue: later events are dropped, counted, warned about once."""
        reader = InMemoryMetricReader()
        meters = MeterProvider(metric_readers=[reader])
        sink = GatedSink()
        processor = BatchingSinkProcessor(sink, max_queue_size=2, meter_provider=meters)
        manager = _manager(AuditMiddleware([processor], fingerprinter=fingerprinter), fingerprinter)
        manager.resolve("openai")
        assert sink.entered.wait(5)  # the thread holds event 1 at the gate
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(9):
                assert manager.get_api_key("openai") == "sk-pipeline-in-memory-0123"
        elapsed = time.perf_counter() - started
        sink.gate.set()
        manager.close()
        (message,) = [str(w.message) for w in caught if w.category is AuditFailureWarning]
        assert re.fullmatch(
            r"audit sink 'gated': queue full \(2 events\); event [0-9a-f-]{36} and those "
            r"after it are dropped until there is room",
            message,
        )
        assert elapsed < 1.0  # nine resolutions while the sink is stuck: none waited for it
        assert [event["seq"] for event in sink.events] == [1, 2, 3]
        assert _records(reader) == {("gated", "written"): 3, ("gated", "dropped"): 7}
        meters.shutdown()

    def test_a_failing_sink_is_counted_and_logged_from_the_thread(self, fingerprinter, caplog):
        """A sink that raises in the thread: counted as failed, logged, the next event goes on."""
        reader = InMemoryMetricReader()
        meters = MeterProvider(metric_readers=[reader])

        class Flaky(MemorySink):
            def __call__(self, event):
                if event["seq"] == 1:
                    raise OSError("collector gone")
                super().__call__(event)

        sink = Flaky("flaky")
        audit = AuditMiddleware(
            [BatchingSinkProcessor(sink, meter_provider=meters)], fingerprinter=fingerprinter
        )
        with _manager(audit, fingerprinter) as manager:
            manager.resolve("openai")
            manager.resolve("openai")
        assert [event["seq"] for event in sink.events] == [2]
        assert _records(reader) == {("flaky", "failed"): 1, ("flaky", "written"): 1}
        assert any("'flaky' failed (OSError)" in r.getMessage() for r in caplog.records)
        meters.shutdown()

    def test_a_durable_sink_is_never_batched(self, tmp_path):
        """The journal is called synchronously: wrapping it in a queue is refused."""
        journal = Journal(tmp_path / "audit.jsonl", load_signing_key(tmp_path / "k.pem"))
        with pytest.raises(ConfigurationError, match="'journal' is durable"):
            BatchingSinkProcessor(journal)
        journal.close()


class TestJournalIsASink:
    def test_the_journal_meets_the_sink_protocol_itself(self, tmp_path):
        """No adapter: name, durable, listening(), flush() (fsync, no checkpoint), close()."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, load_signing_key(tmp_path / "k.pem"))
        processor = SimpleSinkProcessor(journal)
        assert (processor.name, processor.durable, processor.listening()) == (
            "journal",
            True,
            True,
        )
        processor.on_emit({"event": "secret.resolved", "provider": "openai"})
        assert journal.flush() is True
        assert [json.loads(line).get("type") for line in path.read_text().splitlines()] == [
            None
        ]  # flushed to disk, not sealed
        processor.close()
        assert json.loads(path.read_text().splitlines()[-1])["type"] == CHECKPOINT
        assert journal.flush() is False  # closed: nothing more reaches the disk

    def test_a_managers_layers_are_public(self, fingerprinter):
        """The stacks a manager runs, cache and miss memory included, outermost first."""
        sink = MemorySink()
        audit = AuditMiddleware([sink], fingerprinter=fingerprinter)
        source = InMemorySecretProvider({"openai": "sk-pipeline-in-memory-0123"})
        manager = SecretsManager([source], middleware=[audit], fingerprinter=fingerprinter)
        assert manager.cache is not None
        assert manager.middleware == (audit, manager.cache)
        assert manager.attempt_middleware == (manager.cache.remember_misses,)
        extra = MemorySink("late")
        late = SimpleSinkProcessor(extra)
        audit.add_sink_processor(late)
        manager.resolve("openai")
        audit.remove_sink_processor(late)
        manager.resolve("openai")  # a cache hit: audited too, in a summary
        audit.flush()
        assert [e["event"] for e in sink.events] == ["secret.resolved", "secret.accessed"]
        assert len(extra.events) == 1


class TestProcessors:
    def test_a_processor_returning_none_drops_the_event(self, fingerprinter):
        """A filter in the processor list keeps an event from every sink."""
        sink = MemorySink()
        audit = AuditMiddleware(
            [sink],
            fingerprinter=fingerprinter,
            processors=[lambda event: None if event["outcome"] == "not_found" else event],
        )
        manager = _manager(audit, fingerprinter)
        manager.resolve("openai")
        manager.resolve("groq")
        assert [(e["provider"], e["outcome"]) for e in sink.events] == [("openai", "found")]

    def test_a_failing_processor_denies_in_block_mode(self, tmp_path, fingerprinter):
        """No sink got the event: block mode denies as for a failed journal."""
        journal = Journal(
            tmp_path / "audit.jsonl", load_signing_key(tmp_path / "k.pem"), fsync="always"
        )

        def broken(event):
            raise ValueError("broken processor")

        audit = AuditMiddleware(
            [journal], failure_mode="block", fingerprinter=fingerprinter, processors=[broken]
        )
        with pytest.warns(AuditFailureWarning, match="processor"):
            resolution = _manager(audit, fingerprinter).resolve("openai")
        assert resolution.outcome.value == "denied"
        journal.close()


class TestBlockModeThroughTheAssembly:
    def test_a_failing_journal_denies_the_key(self, config_path, monkeypatch):
        """Journal on a full device, logger and OTel batched beside it: the key is denied."""
        _write_settings(config_path, {"journal": "/dev/full", "failure_mode": "block"})
        monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
        with capture_audit_events() as events:
            manager = build_secrets_manager(load_settings())
            with pytest.warns(AuditFailureWarning, match="'journal' failed \\(OSError\\)"):
                resolution = manager.resolve("openai")
            with pytest.warns(AuditFailureWarning, match="'journal' could not be closed"):
                manager.close()
        assert (resolution.outcome.value, resolution.value) == ("denied", None)
        assert isinstance(resolution.error, AuditUnavailableError)
        assert [(e["event"], e["outcome"]) for e in events] == [
            ("secret.resolved", "found"),
            ("secret.denied", "denied"),
        ]

    def test_close_seals_the_journal(self, config_path, monkeypatch, tmp_path):
        """Closing the manager writes the journal's closing checkpoint."""
        path = tmp_path / "audit.jsonl"
        _write_settings(config_path, {"journal": str(path), "failure_mode": "block"})
        monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
        with build_secrets_manager(load_settings()) as manager:
            assert manager.get_api_key("openai") == ENV_KEY
        records = [json.loads(line) for line in path.read_text().splitlines()]
        assert [r.get("type") for r in records][-1] == CHECKPOINT
        assert [r["event"]["event"] for r in records if "event" in r] == ["secret.resolved"]


class TestCaptureAuditEvents:
    def test_captures_a_manager_built_inside_it(self, fingerprinter):
        """The whole event, as every sink receives it, is in the list when resolve returns."""
        with capture_audit_events() as events:
            audit = AuditMiddleware([], service_name="svc", fingerprinter=fingerprinter)
            with principal("alice"):
                _manager(audit, fingerprinter).resolve("openai")
        (event,) = events
        volatile = ("time", "event_id", "host.name", "process.pid", "duration_ms", "attempts")
        assert {k: v for k, v in event.items() if k not in volatile} == {
            "seq": 1,
            "event": "secret.resolved",
            "provider": "openai",
            "source": "memory",
            "outcome": "found",
            "stale": False,
            "degraded": False,
            "cache_hit": False,
            "locator": "memory:openai",
            "version": "1",
            "fingerprint": fingerprinter.fingerprint("sk-pipeline-in-memory-0123"),
            "user": {"id": "alice", "os_user": event["user"]["os_user"]},
            "service.name": "svc",
            "trace_id": None,
            "span_id": None,
            "source_request_id": None,
            "error.type": None,
            "error.message": None,
            "count": 1,
            "first_time": None,
            "last_time": None,
        }
        assert [(a["source"], a["outcome"], a["tries"]) for a in event["attempts"]] == [
            ("memory", "found", 1)
        ]

    def test_captures_managers_passed_to_it_and_stops_at_exit(self, fingerprinter):
        """A manager built before is captured when passed; after the block, nothing is added."""
        before = _manager(AuditMiddleware([], fingerprinter=fingerprinter), fingerprinter)
        other = _manager(AuditMiddleware([], fingerprinter=fingerprinter), fingerprinter)
        with capture_audit_events(before) as events:
            before.resolve("openai")
            other.resolve("openai")  # built before, not passed: not captured
        before.resolve("openai")
        assert [e["seq"] for e in events] == [1]

    def test_pseudonymised_principal_is_captured_as_sinks_see_it(self, fingerprinter):
        """With pseudonymize, no sink and no capture sees the principal in clear."""
        with capture_audit_events() as events:
            audit = AuditMiddleware([], pseudonymize=True, fingerprinter=fingerprinter)
            with principal("alice"):
                _manager(audit, fingerprinter).resolve("openai")
        pseudo = fingerprinter.fingerprint("principal:alice").split(":", 1)[1][:32]
        assert events[0]["user"] == {"pseudo_id": pseudo, "os_user": events[0]["user"]["os_user"]}


class TestCaptureTelemetry:
    def test_spans_logs_and_metrics_of_a_built_manager(self, config_path, monkeypatch):
        """A manager built with the capture's telemetry: its span, audit record and counters."""
        _write_settings(config_path, {})
        monkeypatch.setenv("OPENAI_API_KEY", ENV_KEY)
        with capture_telemetry("svc") as captured:
            manager = build_secrets_manager(load_settings(), telemetry=captured.telemetry)
            with principal("alice"):
                manager.resolve("openai")
            (resolve,) = [s for s in captured.spans() if s.name == "secrets.resolve"]
            (record,) = captured.logs()
            metrics = captured.metrics()
            manager.close()
        assert dict(resolve.attributes or {}) == {
            "secrets.provider": "openai",
            "secrets.source": "env",
            "secrets.outcome": "found",
            "secrets.cache_hit": False,
            "secrets.stale": False,
            "secrets.degraded": False,
            "secrets.locator": "env:OPENAI_API_KEY",
            "enduser.id": "alice",
        }
        attributes = dict(record.attributes or {})
        assert record.event_name == "secret.resolved"
        assert record.trace_id == resolve.context.trace_id  # the thread ran in its context
        assert attributes["trace_id"] == format(resolve.context.trace_id, "032x")
        assert (attributes["provider"], attributes["user.id"], attributes["service.name"]) == (
            "openai",
            "alice",
            "svc",
        )
        written = {
            (p.attributes[names.SINK], p.attributes[names.RESULT]): p.value
            for p in metrics[names.AUDIT_RECORDS]
        }
        assert written == {("log", "written"): 1, ("otel", "written"): 1}


def test_a_canary_key_reaches_no_event_span_log_or_metric(fingerprinter):
    """A key planted as a canary, found, then quoted by a failing source, is never captured."""
    value = canary()
    with capture_telemetry("svc") as captured, capture_audit_events() as events:
        middleware, attempt_middleware = middleware_stacks(
            captured.telemetry.policy,
            tracer_provider=captured.telemetry.tracer_provider,
            meter_provider=captured.telemetry.meter_provider,
            audit=AuditMiddleware(
                [BatchingSinkProcessor(OTelLogSink(captured.telemetry.logger_provider))],
                policy=captured.telemetry.policy,
                fingerprinter=fingerprinter,
            ),
        )
        manager = SecretsManager(
            [
                FailingSecretProvider(
                    None, name="vault", fallback={"anthropic": "sk-anthropic-0123456789"}
                ),
                InMemorySecretProvider({"openai": value}),
            ],
            middleware=middleware,
            attempt_middleware=attempt_middleware,
            cache=None,
            fingerprinter=fingerprinter,
        )
        assert manager.get_api_key("openai") == value
        manager.sources[0].error = SourceForbiddenError(f"token {value} revoked", source="vault")
        manager.resolve("anthropic")
        manager.resolve("portkey", api_key=value)
        spans, logs, metrics = captured.spans(), captured.logs(), captured.metrics()
        manager.close()
    assert [e["outcome"] for e in events] == ["found", "denied", "found"]
    texts = [json.dumps(events, default=str)]
    for span in spans:
        texts.append(json.dumps(dict(span.attributes or {}), default=str))
        texts += [json.dumps(dict(e.attributes or {}), default=str) for e in span.events]
        texts.append(str(span.status.description))
    texts += [json.dumps([str(r.body), dict(r.attributes or {})], default=str) for r in logs]
    texts += [str(dict(p.attributes)) for points in metrics.values() for p in points]
    assert len(logs) == 3
    assert find_leaks(texts, [value]) == []
