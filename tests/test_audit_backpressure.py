"""Audit back-pressure on the OTLP path: one bounded queue, every event counted, none lost unseen.

With the logger provider ``configure_telemetry()`` sets up, the OTel log sink exports each
batch from the audit's ``BatchingSinkProcessor`` straight to the OTLP exporter, so that the
processor's queue is the only one an audit record waits in (docs/telemetry.md, "Audit
back-pressure"). Tested against real OTLP receivers; a fault proxy in front of one plays a
collector that is down or stalled.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from abstractcore_secrets import (
    ConfigurationError,
    SecretsManager,
    SourceForbiddenError,
    SourceUnavailableError,
)
from abstractcore_secrets.assembly import middleware_stacks
from abstractcore_secrets.audit import (
    AuditFailureWarning,
    AuditMiddleware,
    BatchingSinkProcessor,
    Journal,
    OTelLogSink,
    principal,
)
from abstractcore_secrets.audit._pipeline import DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_QUEUE_SIZE
from abstractcore_secrets.redaction import RedactionPolicy
from abstractcore_secrets.telemetry import names
from abstractcore_secrets.telemetry._setup import DirectExportLoggerProvider
from abstractcore_secrets.testing import (
    FailingSecretProvider,
    InMemorySecretProvider,
    MemorySink,
)
from abstractcore_secrets.testing.canary import canary, find_leaks
from abstractcore_secrets.testing.faultproxy import FaultProxy
from abstractcore_secrets.testing.otlp import OTLPReceiver

pytestmark = pytest.mark.server
PROTOCOLS = ["grpc", "http/protobuf"]
RESOURCE = Resource.create({"service.name": "backpressure"})
DROPPED = re.compile(
    r"audit sink 'otel': queue full \(1000 events\); event [0-9a-f-]{36} and those after it "
    r"are dropped until there is room"
)


def _exporter(protocol: str, receiver_or_address: OTLPReceiver | str, timeout: float = 10) -> Any:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

        assert isinstance(receiver_or_address, OTLPReceiver)
        return OTLPLogExporter(
            endpoint=receiver_or_address.grpc_endpoint, insecure=True, timeout=timeout
        )
    from opentelemetry.exporter.otlp.proto.http._log_exporter import (
        OTLPLogExporter as HTTPLogExporter,
    )

    base = (
        receiver_or_address.http_endpoint
        if isinstance(receiver_or_address, OTLPReceiver)
        else receiver_or_address
    )
    return HTTPLogExporter(endpoint=f"{base}/v1/logs", timeout=timeout)


@dataclass
class Pipeline:
    """The OTLP path of an audit event, as configure_telemetry() and the assembly build it."""

    processor: BatchingSinkProcessor
    provider: DirectExportLoggerProvider
    reader: InMemoryMetricReader

    def counts(self) -> dict[str, int]:
        """``audit.records`` of the otel sink, by result."""
        return _counted(self.reader, "otel")


def _counted(reader: InMemoryMetricReader, sink: str) -> dict[str, int]:
    """``audit.records`` of ``sink``, by result."""
    counts = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == names.AUDIT_RECORDS:
                    for point in metric.data.data_points:
                        if point.attributes[names.SINK] == sink:
                            counts[str(point.attributes[names.RESULT])] = int(point.value)
    return counts


@contextmanager
def direct_pipeline(exporter: Any, **sizes: Any) -> Iterator[Pipeline]:
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    provider = DirectExportLoggerProvider(RESOURCE, [exporter])
    processor = BatchingSinkProcessor(OTelLogSink(provider), meter_provider=meters, **sizes)
    try:
        yield Pipeline(processor, provider, reader)
    finally:
        processor.close(5)
        provider.shutdown()
        meters.shutdown()


def _events(count: int, fingerprinter) -> list[dict[str, Any]]:
    """``count`` audit events as the middleware makes them, each with its own id and seq."""
    sink = MemorySink()
    source = FailingSecretProvider(None, name="vault", fallback={"openai": "sk-bp-0123456789"})
    manager = SecretsManager(
        [source],
        middleware=[AuditMiddleware([sink], fingerprinter=fingerprinter)],
        cache=None,
        fingerprinter=fingerprinter,
    )
    with principal("alice"):
        manager.resolve("openai")
        manager.resolve("mistral")
        source.error = SourceForbiddenError("denied for the test", source="vault")
        manager.resolve("openai")
    models = sink.events
    return [
        {**models[(seq - 1) % len(models)], "seq": seq, "event_id": str(uuid.uuid4())}
        for seq in range(1, count + 1)
    ]


def _emit_timed(processor: BatchingSinkProcessor, events: list[dict[str, Any]]) -> list[float]:
    """Hand every event to ``processor`` from this thread; return each call's duration."""
    durations = []
    for event in events:
        started = time.perf_counter()
        processor.on_emit(event)
        durations.append(time.perf_counter() - started)
    return durations


def _wait_for(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def _ids(receiver: OTLPReceiver) -> list[str]:
    return [record["attributes"]["event_id"] for record in receiver.logs()]


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as running:
        yield running


class BatchSink(MemorySink):
    """A sink that writes batches: keeps each batch's size; records ``take`` of each, or all;
    may wait at a gate first (a collector that is slow)."""

    def __init__(self, take: int | None = None, error: Exception | None = None) -> None:
        super().__init__("batches")
        self.take, self.error = take, error
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def write_batch(self, batch):
        self.gate.wait(10)
        self.batches.append(len(batch))
        if self.error is not None:
            raise self.error
        for _, event in batch:
            self(event)
        return len(batch) if self.take is None else self.take


class TestBatchingSinkProcessorWithBatches:
    def test_defaults_hold_two_seconds_at_ten_thousand_events_a_second(self):
        """The defaults: a queue of 20,000 events, batches of 512 (one OTLP request each)."""
        processor = BatchingSinkProcessor(MemorySink())
        assert (processor.max_queue_size, processor.max_batch_size, processor.schedule_delay) == (
            DEFAULT_MAX_QUEUE_SIZE,
            DEFAULT_MAX_BATCH_SIZE,
            0.2,
        )
        assert DEFAULT_MAX_QUEUE_SIZE == 2 * 10_000
        processor.close()

    def test_a_batch_goes_when_full_or_flushed_never_waiting_out_its_delay(self, fingerprinter):
        """Full batches go at once; ``flush()`` sends the rest at once, despite a long delay."""
        sink = BatchSink()
        processor = BatchingSinkProcessor(sink, max_batch_size=5, schedule_delay=60)
        started = time.monotonic()
        for event in _events(13, fingerprinter):
            processor.on_emit(event)
        assert _wait_for(lambda: sink.batches == [5, 5], timeout=5)
        assert processor.flush(5)
        processor.close()
        assert sink.batches == [5, 5, 3]
        assert [event["seq"] for event in sink.events] == list(range(1, 14))
        assert time.monotonic() - started < 5

    @pytest.mark.parametrize(
        ("sink", "expected", "logged"),
        [
            pytest.param(
                BatchSink(take=2), {"written": 2, "failed": 3}, "could not record 3 of", id="part"
            ),
            pytest.param(
                BatchSink(error=ValueError("quoting sk-nothing")),
                {"failed": 5},
                "could not record 5 of a batch of 5 events (ValueError)",
                id="raises",
            ),
        ],
    )
    def test_what_a_batch_did_not_record_is_counted_failed_and_logged(
        self, sink, expected, logged, fingerprinter, caplog
    ):
        """Each event of a batch is counted once: written or failed; a failure is logged
        with the exception's type, never its text."""
        reader = InMemoryMetricReader()
        meters = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
        processor = BatchingSinkProcessor(sink, max_batch_size=5, meter_provider=meters)
        for event in _events(5, fingerprinter):
            processor.on_emit(event)
        assert processor.flush(5)
        processor.close()
        assert _counted(reader, "batches") == expected
        assert logged in caplog.text
        assert "sk-nothing" not in caplog.text
        meters.shutdown()

    def test_closing_past_its_timeout_drops_what_is_left_counted_and_warned(self, fingerprinter):
        """A sink stuck at close: what is still queued is counted dropped, with a warning; the
        batch being written is counted when it returns."""
        reader = InMemoryMetricReader()
        meters = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
        sink = BatchSink()
        sink.gate.clear()
        processor = BatchingSinkProcessor(sink, max_batch_size=4, meter_provider=meters)
        for event in _events(10, fingerprinter):
            processor.on_emit(event)
        assert _wait_for(lambda: processor.pending == 6, timeout=5)
        with pytest.warns(AuditFailureWarning, match=r"closed with 6 events not yet delivered"):
            processor.close(0.2)
        sink.gate.set()
        assert _wait_for(lambda: sink.batches == [4], timeout=5)
        assert _wait_for(lambda: _counted(reader, "batches") == {"written": 4, "dropped": 6})
        meters.shutdown()

    def test_schedule_delay_is_seconds(self):
        """A negative or not-a-number delay is refused."""
        for delay in (-1, float("nan")):
            with pytest.raises(ConfigurationError, match="schedule_delay"):
                BatchingSinkProcessor(BatchSink(), schedule_delay=delay)


class TestOTelLogSinkDirectExport:
    def test_an_event_that_cannot_be_a_record_fails_alone(self, fingerprinter):
        """One event with a value no log record can hold: it fails; its batch is exported."""
        exporter = InMemoryLogRecordExporter()
        with direct_pipeline(exporter, max_batch_size=3) as pipeline:
            events = _events(3, fingerprinter)
            events[1] = {**events[1], "attempts": [object()]}  # no JSON for it
            for event in events:
                pipeline.processor.on_emit(event)
            assert pipeline.processor.flush(5)
            assert pipeline.counts() == {"written": 2, "failed": 1}
        assert [r.log_record.attributes["seq"] for r in exporter.get_finished_logs()] == [1, 3]

    def test_an_exporter_that_raises_fails_its_batch(self, fingerprinter):
        """An exporter raising instead of answering FAILURE: the batch is counted failed."""

        class Broken(InMemoryLogRecordExporter):
            def export(self, batch):
                raise ConnectionError("no collector")

        with direct_pipeline(Broken(), max_batch_size=4) as pipeline:
            for event in _events(4, fingerprinter):
                pipeline.processor.on_emit(event)
            assert pipeline.processor.flush(5)
            assert pipeline.counts() == {"failed": 4}

    def test_with_no_exporter_records_take_the_logs_api(self, fingerprinter):
        """``OTEL_LOGS_EXPORTER=none``: nothing to export to directly; the provider's own
        processors get the records, through the logs API."""
        exporter = InMemoryLogRecordExporter()
        provider = DirectExportLoggerProvider(RESOURCE, [])
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        processor = BatchingSinkProcessor(OTelLogSink(provider))
        assert provider.direct_export("abstractcore_secrets") is None
        for event in _events(3, fingerprinter):
            processor.on_emit(event)
        assert processor.flush(5)
        processor.close()
        provider.shutdown()
        assert [r.log_record.event_name for r in exporter.get_finished_logs()] == [
            "secret.resolved",
            "secret.not_found",
            "secret.denied",
        ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_burst_of_20000_events_arrives_whole(receiver, protocol, fingerprinter):
    """20,000 events as fast as one thread can hand them over: all arrive, all counted written."""
    events = _events(20_000, fingerprinter)
    with direct_pipeline(_exporter(protocol, receiver)) as pipeline:
        started = time.perf_counter()
        _emit_timed(pipeline.processor, events)
        emitted_in = time.perf_counter() - started
        assert pipeline.processor.flush(120)
        counts = pipeline.counts()
    assert emitted_in < 2.0  # faster than 10,000 a second: the queue took the burst
    assert counts == {"written": 20_000}  # none dropped, none failed
    assert sorted(_ids(receiver)) == sorted(event["event_id"] for event in events)


@pytest.mark.parametrize("fault", ["stalled", "down"])
def test_a_collector_stalled_or_down_drops_are_counted_exactly_and_no_call_waits(
    receiver, fault, fingerprinter, caplog
):
    """The queue fills: each event is written, failed or dropped, one warning per overflow,
    and handing an event over never waits for the collector."""
    events = _events(5_000, fingerprinter)
    with (
        FaultProxy(receiver.http_endpoint) as proxy,
        direct_pipeline(
            _exporter("http/protobuf", proxy.address, timeout=30 if fault == "stalled" else 2),
            max_queue_size=1_000,
            max_batch_size=100,
        ) as pipeline,
    ):
        if fault == "stalled":
            proxy.delay(60)  # every request waits, unanswered, until cleared
        else:
            proxy.stop()  # connection refused
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            durations = _emit_timed(pipeline.processor, events[:100])
            # A full batch: the thread takes it to the collector, and is held there.
            assert _wait_for(lambda: pipeline.processor.pending == 0)
            durations += _emit_timed(pipeline.processor, events[100:])
        assert not pipeline.processor.flush(0.5)
        if fault == "stalled":
            proxy.clear()
        else:
            # The exporter gives up on that batch after its retries (2 s): counted failed.
            assert _wait_for(lambda: pipeline.counts().get("failed", 0) >= 100)
            proxy.start()
        assert pipeline.processor.flush(60)
        counts = pipeline.counts()
    dropped_warnings = [str(w.message) for w in caught if w.category is AuditFailureWarning]
    assert len(dropped_warnings) == 1  # the queue overflowed once: one warning
    assert DROPPED.fullmatch(dropped_warnings[0])
    written, failed, dropped = (
        counts.get(result, 0) for result in ("written", "failed", "dropped")
    )
    # Room for the batch at the collector (100) and the queue (1,000): the rest dropped.
    assert dropped == len(events) - 1_100
    assert written + failed == 1_100
    assert (failed > 0) is (fault == "down")
    assert len(_ids(receiver)) == written  # what is counted written arrived, and only that
    if fault == "down":
        failures = [r.getMessage() for r in caplog.records if "could not record" in r.getMessage()]
        assert failures
        assert all(
            re.fullmatch(
                r"audit sink 'otel' could not record 100 of a batch of 100 events; the first "
                r"was event [0-9a-f-]{36}",
                message,
            )
            for message in failures
        )
    durations.sort()
    assert durations[len(durations) // 2] < 0.0001  # a lock and an append: microseconds
    assert durations[len(durations) * 99 // 100] < 0.001
    # The slowest: at most a thread switch (5 ms) or a busy machine's scheduling, never the
    # collector's wait (60 s stalled; 1 to 2 s a batch down).
    assert durations[-1] < 0.5


def test_the_journal_keeps_every_event_the_otlp_side_dropped(
    receiver, tmp_path, signing_key, fingerprinter
):
    """With the collector stalled, OTLP drops (counted); the journal has every event."""
    path = tmp_path / "audit.jsonl"
    with (
        FaultProxy(receiver.http_endpoint) as proxy,
        direct_pipeline(
            _exporter("http/protobuf", proxy.address, timeout=30),
            max_queue_size=50,
            max_batch_size=10,
        ) as pipeline,
    ):
        proxy.delay(60)
        journal = Journal(path, signing_key)
        audit = AuditMiddleware([pipeline.processor, journal], fingerprinter=fingerprinter)
        source = InMemorySecretProvider({"openai": "sk-bp-journal-0123456789"})
        manager = SecretsManager(
            [source], middleware=[audit], cache=None, fingerprinter=fingerprinter
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(10):
                manager.resolve("openai")
            # A full batch: the thread takes it to the collector, and is held there.
            assert _wait_for(lambda: pipeline.processor.pending == 0)
            for _ in range(490):
                manager.resolve("openai")
        proxy.clear()
        assert pipeline.processor.flush(60)
        counts = pipeline.counts()
        manager.close()
    journaled = [
        record["event"]["event_id"]
        for record in map(json.loads, path.read_text().splitlines())
        if isinstance(record.get("event"), dict)
        and record["event"].get("event") == "secret.resolved"
    ]
    shipped = _ids(receiver)
    assert len(journaled) == len(set(journaled)) == 500
    assert [w.category for w in caught] == [AuditFailureWarning]
    assert counts == {"written": 10 + 50, "dropped": 500 - 10 - 50}
    assert len(shipped) == counts["written"]
    assert set(shipped) < set(journaled)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_records_on_the_wire_are_those_the_logs_api_sends(protocol, fingerprinter):
    """The same events by the logs API (the SDK's queue) and by direct export: byte for byte
    the same records (attributes, event name, body, severity, time, trace and span ids),
    resource and scope; only the observed time differs."""
    with OTLPReceiver() as by_api, OTLPReceiver() as direct:
        api_provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
        api_provider.add_log_record_processor(BatchLogRecordProcessor(_exporter(protocol, by_api)))
        direct_provider = DirectExportLoggerProvider(RESOURCE, [_exporter(protocol, direct)])
        tracer_provider = TracerProvider(shutdown_on_exit=False)
        meter_provider = MeterProvider(shutdown_on_exit=False)
        policy = RedactionPolicy()
        processors = [
            BatchingSinkProcessor(OTelLogSink(api_provider), meter_provider=meter_provider),
            BatchingSinkProcessor(OTelLogSink(direct_provider), meter_provider=meter_provider),
        ]
        middleware, attempt_middleware = middleware_stacks(
            policy,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            audit=AuditMiddleware(
                processors, policy=policy, fingerprinter=fingerprinter, service_name="svc"
            ),
        )
        vault = FailingSecretProvider(None, name="vault", fallback={"openai": "sk-bp-wire-01"})
        manager = SecretsManager(
            [vault],
            middleware=middleware,
            attempt_middleware=attempt_middleware,
            cache=None,
            fingerprinter=fingerprinter,
        )
        with principal("alice"):
            manager.resolve("openai")  # found
            manager.resolve("mistral")  # not found
            vault.fallback["openai"] = "sk-bp-wire-02"
            manager.resolve("openai")  # found, rotated
            vault.error = SourceForbiddenError("denied for the test", source="vault")
            manager.resolve("openai")  # denied
            vault.error = SourceUnavailableError("down for the test", source="vault")
            manager.resolve("openai")  # error
        manager.close()
        api_provider.force_flush()
        assert by_api.wait_for(lambda: len(by_api.logs()) == 6)
        assert direct.wait_for(lambda: len(direct.logs()) == 6)
        sent_by_api, sent_direct = _wire(by_api), _wire(direct)
        decoded = direct.logs()
        for provider in (api_provider, direct_provider, tracer_provider, meter_provider):
            provider.shutdown()
    assert sent_direct == sent_by_api
    assert [(r["event_name"], r["severity_text"]) for r in decoded] == [
        ("secret.resolved", "INFO"),
        ("secret.not_found", "INFO"),
        ("secret.resolved", "INFO"),
        ("secret.rotated", "INFO"),
        ("secret.denied", "WARN"),
        ("secret.error", "WARN"),
    ]
    for record in decoded:  # the comparison is not of empty fields
        assert record["trace_id"] == record["attributes"]["trace_id"]
        assert record["span_id"] == record["attributes"]["span_id"]
        assert (record["scope"], record["resource"]["service.name"]) == (
            "abstractcore_secrets",
            "backpressure",
        )


def _wire(receiver: OTLPReceiver) -> list[tuple[bytes, bytes, str, bytes]]:
    """Every log record received with its resource and scope, as protobuf bytes (sorted),
    with the one field set when the record is made (its observed time) cleared."""
    sent = []
    for _protocol, signal, payload in receiver.received:
        if signal != "logs":
            continue
        request = ExportLogsServiceRequest.FromString(payload)
        for resource_logs in request.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    record.observed_time_unix_nano = 0
                    sent.append(
                        (
                            resource_logs.resource.SerializeToString(),
                            scope_logs.scope.SerializeToString(),
                            scope_logs.schema_url,
                            record.SerializeToString(),
                        )
                    )
    return sorted(sent, key=lambda item: item[3])


def test_a_canary_key_reaches_neither_the_receiver_nor_a_warning(receiver, fingerprinter, caplog):
    """A key planted as a canary, served, quoted by a failing source and passed explicitly,
    through a collector down (failed batches, drops, warnings) then back: no byte of it out."""
    value = canary()
    policy = RedactionPolicy()
    with (
        FaultProxy(receiver.http_endpoint) as proxy,
        direct_pipeline(
            _exporter("http/protobuf", proxy.address, timeout=2),
            max_queue_size=1_000,
            max_batch_size=100,
        ) as pipeline,
    ):
        middleware, attempt_middleware = middleware_stacks(
            policy,
            tracer_provider=TracerProvider(shutdown_on_exit=False),
            meter_provider=MeterProvider(shutdown_on_exit=False),
            audit=AuditMiddleware([pipeline.processor], policy=policy, fingerprinter=fingerprinter),
        )
        vault = FailingSecretProvider(None, name="vault", fallback={"anthropic": "sk-bp-0123456"})
        manager = SecretsManager(
            [vault, InMemorySecretProvider({"openai": value})],
            middleware=middleware,
            attempt_middleware=attempt_middleware,
            cache=None,
            fingerprinter=fingerprinter,
        )
        proxy.stop()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert manager.get_api_key("openai") == value
            vault.error = SourceForbiddenError(f"token {value} revoked", source="vault")
            for _ in range(1_500):
                manager.resolve("anthropic")
            manager.resolve("portkey", api_key=value)
            assert _wait_for(lambda: pipeline.counts().get("failed", 0) > 0)
            proxy.start()
            assert pipeline.processor.flush(60)
        counts = pipeline.counts()
        manager.close()
    assert counts["dropped"] > 0
    assert counts["failed"] > 0
    assert receiver.logs()  # what was written arrived
    said = [caplog.text, *(str(w.message) for w in caught)]
    assert "could not record" in said[0]
    assert any("queue full" in text for text in said[1:])
    assert find_leaks([*receiver.raw(), *said], [value]) == []


_APP = """
import os
from abstractcore_secrets import build_secrets_manager
from abstractcore_secrets.telemetry._setup import configure_telemetry

telemetry = configure_telemetry("backpressure-app")
manager = build_secrets_manager(telemetry=telemetry)
for _ in range(int(os.environ["APP_RESOLUTIONS"])):
    manager.resolve("openai")
manager.close()
telemetry.shutdown(30)
"""


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_configure_telemetry_takes_audit_records_past_the_sdk_queue(receiver, protocol):
    """An application set up by configure_telemetry(): the SDK's log queue (here one record,
    exported once a minute) is not on the audit path; every record arrives, counted."""
    resolutions = 3_000
    endpoint = receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint
    result = subprocess.run(
        [sys.executable, "-c", _APP],
        env={
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_BLRP_MAX_QUEUE_SIZE": "1",
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "1",
            "OTEL_BLRP_SCHEDULE_DELAY": "60000",
            "OTEL_METRIC_EXPORT_INTERVAL": "60000",
            "ABSTRACTCORE_SECRETS_CACHE_TTL": "0",
            "OPENAI_API_KEY": "sk-bp-app-0123456789abcdef",
            "APP_RESOLUTIONS": str(resolutions),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Queue full" not in result.stderr  # the SDK's queue saw no audit record
    records = [
        r for r in receiver.logs() if r["resource"].get("service.name") == "backpressure-app"
    ]
    assert [r["event_name"] for r in records] == ["secret.resolved"] * resolutions
    assert [r["attributes"]["seq"] for r in records] == list(range(1, resolutions + 1))
    counted = {
        (p["attributes"]["sink"], p["attributes"]["result"]): p["value"]
        for p in receiver.metrics()
        if p["name"] == names.AUDIT_RECORDS
    }
    assert counted[("otel", "written")] == resolutions
    assert ("otel", "dropped") not in counted
