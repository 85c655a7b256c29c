"""Hostile tests of the hot path: cached environment and file values, hits served past the
stack, hit summaries, and the Watch objects that hold raw values.

Each test names, in its docstring, the promise it attacks. A test marked ``xfail(strict)``
shows a bug found: it fails for the reason given, and turns red once the bug is fixed.

Over 800 lines on purpose: one adversarial review of one change, a class per promise
attacked, kept together so that the bugs it shows are read side by side.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import json
import logging
import os
import pickle
import signal
import threading
import types
import warnings
from pathlib import Path

import pytest
from conftest import FailingDurableSink

from abstractcore_secrets import ResolutionCache, SecretsManager
from abstractcore_secrets.assembly import middleware_stacks
from abstractcore_secrets.audit import AuditMiddleware, principal
from abstractcore_secrets.errors import (
    AuditFailureWarning,
    AuditUnavailableError,
    ConfigurationError,
    InsecureFileWarning,
    SourceUnavailableError,
)
from abstractcore_secrets.sources import ConfigFileSecretProvider, EnvironmentSecretProvider
from abstractcore_secrets.testing import InMemorySecretProvider, MemorySink
from abstractcore_secrets.testing.capture import capture_telemetry
from abstractcore_secrets.testing.sources import FailingSecretProvider

KEY = "sk-hostile-0123456789abcdef0123"
OTHER = "sk-hostile-rotated-9876543210ab"
RESOLUTIONS = "abstractcore.secrets.resolutions"


def _private_file(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def _write_config(path: Path, api_keys: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"api_keys": api_keys}))
    path.chmod(0o600)
    return path


def _run_threads(target, count: int = 8) -> None:
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)

    threads = [threading.Thread(target=guarded) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not [thread for thread in threads if thread.is_alive()], "a thread hung"
    assert errors == []


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _stacked(captured, sources, *, audit=None, hit_spans="event", cache=None):
    cache = cache or ResolutionCache()
    middleware, attempts = middleware_stacks(
        tracer_provider=captured.telemetry.tracer_provider,
        meter_provider=captured.telemetry.meter_provider,
        audit=audit or AuditMiddleware([MemorySink()]),
        cache=cache,
        hit_spans=hit_spans,
    )
    return SecretsManager.stacked(
        sources, middleware=middleware, attempt_middleware=attempts, cache=cache
    )


def _raised(call) -> BaseException | None:
    """Return what ``call()`` raised, or ``None``."""
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - returned for the test to compare
        return exc
    return None


def _counted(points) -> int:
    return sum(point.value for point in points.get(RESOLUTIONS, []))


class TestEveryEditShowsOnTheNextCall:
    def test_a_hundred_successive_edits_each_show_on_the_next_call(self, monkeypatch):
        """Promise 1: any change of a variable the source reads shows on the next call."""
        manager = SecretsManager([EnvironmentSecretProvider()])
        for i in range(100):
            value = f"{KEY}-{i:04d}"
            monkeypatch.setenv("OPENAI_API_KEY", value)
            assert manager.get_api_key("openai") == value
            assert manager.get_api_key("openai") == value  # and the hit is that value

    def test_a_same_length_rewrite_of_a_key_file_shows_on_the_next_call(
        self, monkeypatch, tmp_path
    ):
        """Promise 1: a _FILE's content rewritten in place, same size, shows on the next call.

        The watch is the file's stat: only its times can tell such a rewrite.
        """
        key_file = _private_file(tmp_path / "key", KEY)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(key_file))
        manager = SecretsManager([EnvironmentSecretProvider()])
        for i in range(50):
            value = f"{KEY[:-4]}{i:04d}"
            with key_file.open("r+") as stream:  # in place: same inode, same size
                stream.write(value)
            assert manager.get_api_key("openai") == value

    def test_a_key_file_made_readable_by_others_is_refused_on_the_next_call(
        self, monkeypatch, tmp_path
    ):
        """Promise 1: a _FILE's permissions changing shows on the next call."""
        key_file = _private_file(tmp_path / "key", KEY)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(key_file))
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.get_api_key("openai") == KEY
        assert manager.resolve("openai").cache_hit
        key_file.chmod(0o644)
        resolution = manager.resolve("openai")
        assert (resolution.outcome.value, resolution.value) == ("error", None)

    def test_the_file_variable_pointed_elsewhere_shows_on_the_next_call(
        self, monkeypatch, tmp_path
    ):
        """Promise 1: a change of the _FILE variable itself shows on the next call."""
        first = _private_file(tmp_path / "first", KEY)
        second = _private_file(tmp_path / "second", OTHER)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(first))
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.get_api_key("openai") == KEY
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(second))
        assert manager.get_api_key("openai") == OTHER

    def test_a_relative_key_file_follows_the_working_directory(self, monkeypatch, tmp_path):
        """Promise 1: a relative _FILE names another file after chdir; that file is read."""
        for folder, value in (("a", KEY), ("b", OTHER)):
            (tmp_path / folder).mkdir()
            _private_file(tmp_path / folder / "key", value)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", "key")
        monkeypatch.chdir(tmp_path / "a")
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.get_api_key("openai") == KEY
        monkeypatch.chdir(tmp_path / "b")
        assert manager.get_api_key("openai") == OTHER

    @pytest.mark.parametrize("replacement", ["fifo", "directory", "huge", "empty", "gone"])
    def test_a_key_file_replaced_by_something_unreadable_is_an_error_at_once(
        self, monkeypatch, tmp_path, replacement
    ):
        """Promises 1 and 5: a _FILE swapped for a FIFO, a directory, a huge or empty file,
        or nothing, is an error on the next call (never the cached key, never a hang)."""
        key_file = _private_file(tmp_path / "key", KEY)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(key_file))
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.get_api_key("openai") == KEY
        key_file.unlink()
        if replacement == "fifo":
            os.mkfifo(key_file, 0o600)
        elif replacement == "directory":
            key_file.mkdir(mode=0o700)
        elif replacement == "huge":
            _private_file(key_file, "k" * (1024 * 1024))
        elif replacement == "empty":
            _private_file(key_file, "")
        answers: list[object] = []
        worker = threading.Thread(target=lambda: answers.append(manager.resolve("openai")))
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "the resolution hung on the file"
        (resolution,) = answers
        assert (resolution.outcome.value, resolution.value) == ("error", None)
        assert KEY not in repr(resolution) + str(resolution.error)

    def test_the_insecure_files_policy_turned_to_refuse_shows_on_the_next_call(
        self, monkeypatch, tmp_path
    ):
        """Promise 1: ABSTRACTCORE_SECRETS_INSECURE_FILES is a variable the env source reads
        on each fetch; setting it from warn to refuse must refuse the open key file at once.
        """
        key_file = tmp_path / "key"
        key_file.write_text(KEY)
        key_file.chmod(0o644)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(key_file))
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_INSECURE_FILES", "warn")
        manager = SecretsManager([EnvironmentSecretProvider()])
        with pytest.warns(InsecureFileWarning):
            assert manager.get_api_key("openai") == KEY
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_INSECURE_FILES", "refuse")
        resolution = manager.resolve("openai")
        assert (resolution.outcome.value, resolution.value) == ("error", None)

    def test_an_alias_set_above_a_cached_config_value_wins_on_the_next_call(
        self, monkeypatch, config_path
    ):
        """Promise 1: env > config; HF_TOKEN (the second alias) set later wins at once."""
        _write_config(config_path, {"huggingface": KEY})
        manager = SecretsManager([EnvironmentSecretProvider(), ConfigFileSecretProvider()])
        assert manager.resolve("huggingface").source == "config"
        assert manager.resolve("huggingface").cache_hit
        monkeypatch.setenv("HF_TOKEN", OTHER)
        resolution = manager.resolve("huggingface")
        assert (resolution.source, resolution.value.reveal()) == ("env", OTHER)

    @pytest.mark.parametrize("change", ["env variable unset", "config entry removed"])
    def test_a_value_whose_source_changed_is_never_served_stale(
        self, monkeypatch, config_path, change
    ):
        """Promise 1: a changed source's value is never served stale, even once its ttl is
        over and a managed source below is down."""
        clock = _Clock()
        vault = FailingSecretProvider(None, name="vault")  # up, without the key
        if change == "env variable unset":
            monkeypatch.setenv("OPENAI_API_KEY", KEY)
        else:
            _write_config(config_path, {"openai": KEY})
        manager = SecretsManager(
            [EnvironmentSecretProvider(), vault, ConfigFileSecretProvider()],
            cache=ResolutionCache(10, negative_ttl=5, clock=clock, jitter=lambda: 0.999),
        )
        assert manager.get_api_key("openai") == KEY
        clock.now += 11  # past the refresh time (and vault's miss), well within max_stale
        vault.error = SourceUnavailableError("vault is down", source="vault")
        if change == "env variable unset":
            monkeypatch.delenv("OPENAI_API_KEY")
        else:
            _write_config(config_path, {})
        resolution = manager.resolve("openai")
        assert resolution.value is None, "the removed key was served, marked stale"

    def test_a_higher_source_that_cannot_be_cached_is_asked_on_every_call(self, monkeypatch):
        """Promise 1: a value above a cached one wins on the next call. A source that is
        neither cacheable nor watched, asked before the environment, must be asked again."""
        live = InMemorySecretProvider({}, name="live", cacheable=False)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        manager = SecretsManager([live, EnvironmentSecretProvider()])
        assert manager.resolve("openai").source == "env"
        live.set("openai", OTHER)
        resolution = manager.resolve("openai")
        assert (resolution.source, resolution.value.reveal()) == ("live", OTHER)

    def test_a_source_added_above_a_cached_config_value_wins_on_the_next_call(self, config_path):
        """Promise 1: a value set above a cached source wins on the next call; add_provider
        puts a source above the config file."""
        _write_config(config_path, {"openai": KEY})
        manager = SecretsManager()
        assert manager.get_api_key("openai") == KEY
        manager.add_provider(InMemorySecretProvider({"openai": OTHER}, name="vault"))
        assert manager.resolve("openai").source == "vault"

    def test_edits_from_another_thread_during_hits_only_ever_show_written_values(self, monkeypatch):
        """Promises 1 and 5: os.environ mutated from another thread during hits; readers
        only ever see values written, and once the writer is done the next call sees its
        last value."""
        monkeypatch.setenv("OPENAI_API_KEY", f"{KEY}-start")
        manager = SecretsManager([EnvironmentSecretProvider()])
        written = {f"{KEY}-start"}
        seen: set[str | None] = set()
        lock = threading.Lock()
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                value = manager.get_api_key("openai")
                with lock:
                    seen.add(value)

        readers = [threading.Thread(target=reader) for _ in range(6)]
        for thread in readers:
            thread.start()
        try:
            for i in range(300):
                value = f"{KEY}-{i:04d}"
                with lock:
                    written.add(value)
                os.environ["OPENAI_API_KEY"] = value
                manager.get_api_key("openai")
        finally:
            stop.set()
            for thread in readers:
                thread.join(30)
        assert seen <= written
        assert manager.get_api_key("openai") == f"{KEY}-0299"

    def test_a_call_after_an_edit_never_joins_a_fetch_started_before_it(self, monkeypatch):
        """Promise 1: an edit shows on the very next call, even while another thread's fetch
        of the same key, started before the edit, is still under way."""
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        entered, release = threading.Event(), threading.Event()

        class SlowEnvironment(EnvironmentSecretProvider):
            def fetch(self, key):
                record = super().fetch(key)
                entered.set()
                release.wait(10)
                return record

        manager = SecretsManager([SlowEnvironment()])
        first = threading.Thread(target=manager.get_api_key, args=("openai",))
        first.start()
        assert entered.wait(10)
        monkeypatch.setenv("OPENAI_API_KEY", OTHER)  # the edit, then the next call
        answers: list[str | None] = []
        second = threading.Thread(target=lambda: answers.append(manager.get_api_key("openai")))
        second.start()
        second.join(0.3)  # time to join the fetch under way, if it does
        release.set()
        for thread in (first, second):
            thread.join(10)
        assert answers == [OTHER]


class _Counting:
    """A resolution layer without on_hit: it must see every resolution."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, request, call_next):
        self.calls += 1
        return call_next(request)


class TestHitsPastTheStackAreTheStacksOutcomes:
    def test_eight_threads_mixing_invalidate_and_hits_are_counted_and_audited_exactly(self):
        """Promise 2 and 5: with invalidate() racing hits, every resolution is counted once
        in the metrics and once in the audit trail (events plus summary counts)."""
        sink = MemorySink()
        audit = AuditMiddleware([sink], summary_window=0.01)
        source = InMemorySecretProvider({"openai": KEY}, name="vault")
        calls_each = 1_500
        with capture_telemetry() as captured:
            manager = _stacked(captured, [source], audit=audit)

            def mixed() -> None:
                for i in range(calls_each):
                    if i % 97 == 0:
                        manager.invalidate("openai" if i % 2 else None)
                    assert manager.get_api_key("openai") == KEY

            _run_threads(mixed)
            counted = _counted(captured.metrics())
            audit.close()  # joins the window thread: nothing is left in its hands
        total = 8 * calls_each
        assert counted == total
        assert sum(event["count"] for event in sink.events) == total
        assert source.fetches > 1  # invalidate() was honoured

    def test_after_invalidate_the_rotated_key_is_served_to_the_caller(self):
        """Promise 2: invalidate() is respected by the direct hit path under threads."""
        source = InMemorySecretProvider({"openai": KEY}, name="vault")
        manager = SecretsManager([source])
        manager.get_api_key("openai")
        lock = threading.Lock()

        def rotate_and_read() -> None:
            for i in range(200):
                value = f"{KEY}-{threading.get_ident()}-{i}"
                with lock:  # the rotation and the invalidation, as one operator step
                    source.set("openai", value)
                    manager.invalidate("openai")
                    assert manager.get_api_key("openai") == value

        _run_threads(rotate_and_read)

    def test_two_managers_on_one_meter_provider_are_both_counted(self):
        """Promise 2: hits are counted exactly, whatever the number of managers."""
        with capture_telemetry() as captured:
            managers = [
                _stacked(captured, [InMemorySecretProvider({"openai": KEY}, name="vault")])
                for _ in range(2)
            ]
            for manager in managers:
                for _ in range(10):
                    manager.get_api_key("openai")
            counted = _counted(captured.metrics())
        assert counted == 20

    def test_a_denied_hit_in_block_mode_is_counted_and_raised_as_through_the_stack(self):
        """Promise 2: block mode denies a hit whose durable record fails; the denial is what
        get_api_key raises and what the metrics count, exactly as through the stack."""

        sink = FailingDurableSink()
        with capture_telemetry() as captured:
            manager = _stacked(
                captured,
                [InMemorySecretProvider({"openai": KEY}, name="vault")],
                audit=AuditMiddleware([sink], failure_mode="block"),
            )
            assert manager.get_api_key("openai") == KEY
            sink.fail = True
            with pytest.warns(AuditFailureWarning):
                resolution = manager.resolve("openai")
            with pytest.warns(AuditFailureWarning), pytest.raises(AuditUnavailableError) as raised:
                manager.get_api_key("openai")
            sink.fail = False
            assert manager.get_api_key("openai") == KEY  # served again once recorded
            points = captured.metrics()[RESOLUTIONS]
        assert (resolution.outcome.value, resolution.value) == ("denied", None)
        assert raised.value.resolution.outcome.value == "denied"
        assert KEY not in str(raised.value)
        outcomes = {}
        for point in points:
            outcome = point.attributes["secrets.outcome"]
            outcomes[outcome] = outcomes.get(outcome, 0) + point.value
        assert outcomes == {"found": 2, "denied": 2}

    def test_block_mode_never_serves_a_hit_without_a_durable_record(self):
        """Promise 2: in block mode a hit whose durable record fails is denied, whichever
        way hits are recorded."""

        sink = FailingDurableSink()
        # Summaries are written after the hits they count: block mode refuses them.
        with pytest.raises(ConfigurationError, match="block"):
            AuditMiddleware([sink], failure_mode="block", hits="summary")
        audit = AuditMiddleware([sink], failure_mode="block")  # every hit, durably
        manager = SecretsManager([InMemorySecretProvider({"openai": KEY})], middleware=[audit])
        assert manager.get_api_key("openai") == KEY
        sink.fail = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AuditFailureWarning)
            resolution = manager.resolve("openai")
            audit.flush()
        assert resolution.value is None

    def test_a_stale_hit_is_an_event_of_its_own_and_counted_as_stale(self):
        """Promises 2 and 3: hits of a value served stale go past the stack as individual
        audit events, counted with stale=true, with the same value."""
        clock = _Clock()
        source = FailingSecretProvider(None, name="vault", fallback={"openai": KEY})
        sink = MemorySink()
        audit = AuditMiddleware([sink])
        with capture_telemetry() as captured:
            manager = _stacked(
                captured,
                [source],
                audit=audit,
                cache=ResolutionCache(10, clock=clock, jitter=lambda: 0.999),
            )
            assert manager.get_api_key("openai") == KEY
            clock.now += 11
            source.error = SourceUnavailableError("down", source="vault")
            for _ in range(3):
                assert manager.get_api_key("openai") == KEY
            points = captured.metrics()[RESOLUTIONS]
        audit.flush()
        stale = [e for e in sink.events if e["stale"]]
        assert [(e["event"], e["count"]) for e in stale] == [("secret.resolved", 1)] * 3
        assert sum(p.value for p in points if p.attributes["secrets.stale"]) == 3

    def test_a_layer_without_on_hit_anywhere_above_the_cache_sees_every_call(self):
        """Promise 2: a custom layer without on_hit, even under layers that have one, sends
        every resolution through the stack."""
        counting = _Counting()
        audit = AuditMiddleware([MemorySink()])
        manager = SecretsManager(
            [InMemorySecretProvider({"openai": KEY})], middleware=[audit, counting]
        )
        for _ in range(5):
            manager.get_api_key("openai")
        manager.resolve("openai")
        assert counting.calls == 6

    def test_an_explicit_key_wins_over_a_cached_one_in_every_form(self):
        """Promise 2: an explicit api_key, str or Secret, is never answered from the cache,
        and never put in it."""
        from abstractcore_secrets import Secret

        manager = SecretsManager([InMemorySecretProvider({"openai": KEY})])
        manager.get_api_key("openai")
        assert manager.get_api_key("openai", api_key=Secret(OTHER)) == OTHER
        assert manager.resolve("openai", api_key=OTHER).source == "explicit"
        assert manager.get_api_key("openai") == KEY

    @pytest.mark.parametrize(
        "odd",
        [b"openai", bytearray(b"openai"), 42, None, ["openai"], KEY],
        ids=["bytes", "bytearray", "int", "none", "list", "a-key"],
    )
    def test_odd_provider_values_fail_the_same_with_a_warm_cache(self, odd):
        """Promise 2: bad provider names or odd types raise as a cold manager does."""
        cold = SecretsManager([InMemorySecretProvider({"openai": KEY})])
        warm = SecretsManager([InMemorySecretProvider({"openai": KEY})])
        warm.get_api_key("openai")
        warm.get_api_key("openai")
        raised = [_raised(lambda m=manager: m.get_api_key(odd)) for manager in (cold, warm)]
        assert type(raised[0]) is type(raised[1])
        assert raised[0] is not None
        assert KEY not in str(raised[0]) + str(raised[1])

    def test_str_subclasses_with_odd_eq_are_normalised_like_plain_names(self):
        """Promise 5: a provider name of a str subclass whose __eq__ is never true goes
        through validation, gets its own key, and a key-shaped one is refused."""

        class Odd(str):
            def __eq__(self, other: object) -> bool:
                return False

            __hash__ = str.__hash__

        source = InMemorySecretProvider({"openai": KEY, "anthropic": OTHER})
        manager = SecretsManager([source])
        assert manager.get_api_key("openai") == KEY
        assert manager.get_api_key(Odd("anthropic")) == OTHER
        assert manager.resolve(Odd(" OpenAI ")).cache_hit
        with pytest.raises(ConfigurationError):
            manager.get_api_key(Odd(KEY))

    def test_str_subclasses_with_lying_eq_and_hash_never_get_another_key(self):
        """Promise 5: a provider name whose __eq__ is always true and whose hash is constant
        never gets another provider's key, and a key-shaped one is always refused."""

        class Liar(str):
            def __eq__(self, other: object) -> bool:
                return True

            def __hash__(self) -> int:
                return hash("openai")

        source = InMemorySecretProvider({"openai": KEY, "anthropic": OTHER})
        manager = SecretsManager([source])
        assert manager.get_api_key(Liar("anthropic")) == OTHER
        assert manager.get_api_key(Liar("openai")) == KEY
        with pytest.raises(ConfigurationError):
            manager.get_api_key(Liar(KEY))

    def test_hits_in_threads_put_one_event_on_each_callers_span(self):
        """Promise 2: a hit is traced as an event on the caller's own recording span, one
        per hit, under threads, with no value in any attribute."""
        with capture_telemetry() as captured:
            manager = _stacked(captured, [InMemorySecretProvider({"openai": KEY}, name="vault")])
            manager.get_api_key("openai")
            tracer = captured.telemetry.tracer_provider.get_tracer("app")

            def handler() -> None:
                with tracer.start_as_current_span("handler"):
                    for _ in range(25):
                        manager.get_api_key("openai")

            _run_threads(handler)
            spans = captured.spans()
        handlers = [span for span in spans if span.name == "handler"]
        assert len(handlers) == 8
        for span in handlers:
            assert [event.name for event in span.events] == ["secrets.cache_hit"] * 25
        assert KEY not in repr([(s.attributes, [e.attributes for e in s.events]) for s in spans])

    def test_get_api_key_still_goes_through_resolve(self):
        """Promise 2: outcomes identical to going through the stack; get_api_key has always
        been resolve() plus the value, and a subclass overriding resolve() relies on it."""

        class Refusing(SecretsManager):
            def resolve(self, provider, *, api_key=None):
                if provider == "openai" and self.refuse:
                    raise PermissionError("openai is switched off")
                return super().resolve(provider, api_key=api_key)

        manager = Refusing([InMemorySecretProvider({"openai": KEY})])
        manager.refuse = False
        assert manager.get_api_key("openai") == KEY
        manager.refuse = True
        with pytest.raises(PermissionError):
            manager.get_api_key("openai")


class TestHitSummaries:
    def test_principals_in_threads_are_never_mixed_and_every_hit_is_counted(self):
        """Promise 3: under threads and short windows, each summary carries one principal's
        hits only, and the counts add up exactly per principal."""
        sink = MemorySink()
        audit = AuditMiddleware([sink], summary_window=0.005)
        manager = SecretsManager(
            [InMemorySecretProvider({"openai": KEY}, name="vault")], middleware=[audit]
        )
        manager.get_api_key("openai")
        names = iter(f"user-{i}" for i in range(8))
        names_lock = threading.Lock()
        hits_each = 2_000

        def as_someone() -> None:
            with names_lock:
                name = next(names)
            with principal(name):
                for _ in range(hits_each):
                    manager.get_api_key("openai")

        _run_threads(as_someone)
        manager.close()  # joins the window thread: nothing is left in its hands
        per_user: dict[str, int] = {}
        for event in sink.events:
            if event["event"] == "secret.accessed":
                per_user[event["user"]["id"]] = (
                    per_user.get(event["user"]["id"], 0) + (event["count"])
                )
        assert per_user == {f"user-{i}": hits_each for i in range(8)}

    def test_flush_returns_only_once_every_hit_counted_before_it_is_written(self):
        """Promise 3: summaries are written on flush(); when flush() returns, every hit
        counted before it is in the sinks, also those the window's thread is writing."""
        entered, release = threading.Event(), threading.Event()

        class SlowSink(MemorySink):
            def __call__(self, event):
                if event["event"] == "secret.accessed" and not entered.is_set():
                    entered.set()
                    release.wait(10)  # a slow disk, a busy collector
                super().__call__(event)

        sink = SlowSink()
        audit = AuditMiddleware([sink], summary_window=0.05)
        manager = SecretsManager([InMemorySecretProvider({"openai": KEY})], middleware=[audit])
        for _ in range(6):
            manager.get_api_key("openai")
        assert entered.wait(10)  # the window ended: its thread is writing the 5 hits
        threading.Timer(0.5, release.set).start()
        audit.flush()
        counted = sum(event["count"] for event in sink.events)
        release.set()
        manager.close()
        assert counted == 6

    def test_hits_after_close_are_still_recorded(self):
        """Promise 3: after close(), hits are still recorded, each at once."""
        sink = MemorySink()
        audit = AuditMiddleware([sink])
        manager = SecretsManager([InMemorySecretProvider({"openai": KEY})], middleware=[audit])
        manager.get_api_key("openai")
        manager.get_api_key("openai")
        manager.close()
        for _ in range(3):
            manager.get_api_key("openai")
        assert sum(event["count"] for event in sink.events) == 5

    def test_rotations_by_environment_edits_stay_events_and_summaries_split_by_key(
        self, monkeypatch
    ):
        """Promise 3: a key rotated in the environment is a rotation event of its own; the
        hits of each key are summarised separately, by fingerprint."""
        sink = MemorySink()
        audit = AuditMiddleware([sink])
        manager = SecretsManager([EnvironmentSecretProvider()], middleware=[audit])
        for value in (KEY, OTHER, KEY):
            monkeypatch.setenv("OPENAI_API_KEY", value)
            for _ in range(4):
                assert manager.get_api_key("openai") == value
        audit.flush()
        events = [(e["event"], e["count"]) for e in sink.events]
        assert events.count(("secret.rotated", 1)) == 2
        summaries = [e for e in sink.events if e["event"] == "secret.accessed"]
        assert len({e["fingerprint"] for e in summaries}) == 2
        assert sum(e["count"] for e in summaries) == 9
        assert sum(e["count"] for e in sink.events if e["event"] != "secret.rotated") == 12

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
    def test_a_forked_child_neither_hangs_nor_reports_its_parents_hits(self):
        """Promise 3: fork safety; a child forked while threads count hits does not hang on
        its first hit, and its summaries hold its own hits, not its parent's."""
        sink = MemorySink()
        audit = AuditMiddleware([sink])
        manager = SecretsManager(
            [InMemorySecretProvider({"openai": KEY}, name="vault")], middleware=[audit]
        )
        manager.get_api_key("openai")
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                manager.get_api_key("openai")

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        statuses = []
        try:
            for _ in range(10):
                stop.wait(0.005)
                pid = os.fork()
                if pid == 0:  # pragma: no cover - the child reports by its exit status
                    status = 1
                    try:
                        signal.alarm(5)
                        before = len(sink.events)
                        manager.get_api_key("openai")
                        manager.get_api_key("openai")
                        audit.flush()
                        written = [e["count"] for e in sink.events[before:]]
                        status = 0 if written == [2] else 2
                    finally:
                        os._exit(status)
                _, status = os.waitpid(pid, 0)
                statuses.append(status)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        audit.flush()
        assert statuses == [0] * 10
        hits = sum(e["count"] for e in sink.events)
        assert hits >= 1


class TestNoValueInWatches:
    def _resolution_with_watches(self, monkeypatch, tmp_path):
        monkeypatch.setenv("HF_TOKEN", KEY)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(_private_file(tmp_path / "k", OTHER)))
        manager = SecretsManager([EnvironmentSecretProvider()])
        manager.get_api_key("huggingface")
        manager.get_api_key("openai")
        return manager, manager.resolve("huggingface")

    def test_no_repr_str_or_copy_of_what_the_cache_keeps_shows_a_value(self, monkeypatch, tmp_path):
        """Promise 4: repr, str, format, copy, deepcopy, asdict and vars of the manager, its
        cache and its resolutions never show a value held by a Watch."""
        manager, resolution = self._resolution_with_watches(monkeypatch, tmp_path)
        (watch,) = resolution.watches
        shown = [
            repr(manager),
            repr(vars(manager)),
            repr(vars(manager.cache)),
            repr(resolution),
            str(resolution),
            f"{resolution!r:>10}",
            repr(dataclasses.replace(resolution)),
            repr(copy.deepcopy(resolution)),
            repr(dataclasses.asdict(resolution)),
            repr(watch),
            str(watch),
            format(watch, ""),
            repr(copy.copy(watch)),
            repr(copy.deepcopy({"w": watch})),
        ]
        for text in shown:
            assert KEY not in text
            assert OTHER not in text
        with pytest.raises(TypeError):
            vars(watch)

    def test_pickling_a_watch_fails_without_its_values(self, monkeypatch, tmp_path):
        """Promise 4: a Watch refuses pickling at every protocol, in a message without a
        value."""
        _, resolution = self._resolution_with_watches(monkeypatch, tmp_path)
        (watch,) = resolution.watches
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            with pytest.raises(TypeError) as raised:
                pickle.dumps(watch, protocol=protocol)
            assert KEY not in str(raised.value)
            with pytest.raises(TypeError):
                pickle.dumps(resolution.watches, protocol=protocol)

    def test_an_object_dump_of_the_manager_shows_no_value(self, monkeypatch, tmp_path):
        """Promise 4: a debugger-style dump (the repr of every object reachable from the
        manager through gc.get_referents, raw strings and builtin containers aside, module
        globals and the process environment, where values come from, not followed) shows
        no value."""
        manager, _ = self._resolution_with_watches(monkeypatch, tmp_path)
        builtin = (str, bytes, tuple, list, dict, set, frozenset, type(None), int, float, bool)
        seen: set[int] = {id(os.environ)}
        pending: list[object] = [manager]
        dumped: list[str] = []
        while pending and len(seen) < 20_000:
            current = pending.pop()
            if id(current) in seen or isinstance(current, (type, types.ModuleType)):
                continue
            seen.add(id(current))
            if type(current) not in builtin:
                dumped.append(repr(current))
            if isinstance(current, types.FunctionType):
                cells = current.__closure__ or ()
                pending.extend(cell.cell_contents for cell in cells)
                continue
            pending.extend(gc.get_referents(current))
        text = "\n".join(dumped)
        assert "Watch(" in text  # the dump did reach the watches
        assert KEY not in text
        assert OTHER not in text

    def test_resolutions_logged_at_debug_show_no_value(self, monkeypatch, tmp_path, caplog):
        """Promise 4: logging a resolution, its watches and its hits shows no value."""
        manager, resolution = self._resolution_with_watches(monkeypatch, tmp_path)
        logger = logging.getLogger("app.hostile")
        with caplog.at_level(logging.DEBUG):
            logger.debug("resolved %r %s %r", resolution, resolution, resolution.watches)
            logger.debug("hit %r", manager.resolve("openai"))
            logger.debug("watch %s", resolution.watches[0])
        assert caplog.records
        assert KEY not in caplog.text
        assert OTHER not in caplog.text

    def test_a_key_pasted_into_a_file_variable_travels_nowhere(self, monkeypatch):
        """Promise 4: a key pasted into OPENAI_API_KEY_FILE (a path is expected) is held by
        the watch, but never shown by a resolution, an audit event, a span or a metric."""
        monkeypatch.setenv("OPENAI_API_KEY_FILE", KEY)
        sink = MemorySink()
        audit = AuditMiddleware([sink], hits="every")
        with capture_telemetry() as captured:
            manager = _stacked(captured, [EnvironmentSecretProvider()], audit=audit)
            resolutions = [manager.resolve("openai") for _ in range(3)]
            spans, points = captured.spans(), captured.metrics()
        texts = [repr(resolutions), str([str(r.error) for r in resolutions])]
        texts.append(repr(sink.events))
        texts.append(repr([(s.attributes, [e.attributes for e in s.events]) for s in spans]))
        texts.append(repr({name: [p.attributes for p in ps] for name, ps in points.items()}))
        assert resolutions[0].outcome.value == "error"
        for text in texts:
            assert KEY not in text


class _Source(InMemorySecretProvider):
    """An in-memory source with the watch() it is given."""

    def __init__(self, watch, **options) -> None:
        super().__init__({"openai": KEY}, cacheable=False, **options)
        self._watch = watch

    def watch(self, key):
        return self._watch(key)


class _BoomError(Exception):
    pass


class _RaisingEq:
    def __eq__(self, other: object) -> bool:
        raise _BoomError(KEY)

    __hash__ = object.__hash__


class _Ambiguous:
    """Like a numpy array: == answers something whose truth cannot be told."""

    def __eq__(self, other: object) -> object:
        return self

    def __bool__(self) -> bool:
        raise ValueError("the truth value is ambiguous")

    __hash__ = object.__hash__


def _raising_later(key):
    calls = [0]

    def watcher():
        calls[0] += 1
        if calls[0] > 1:
            raise _BoomError(f"watcher broke holding {KEY}")
        return 1

    return watcher


class _FlakyEnviron(dict):
    """An environ mapping whose get() breaks after its first calls (a remote-backed one)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    def get(self, key, default=None):
        self.calls += 1
        if self.calls > 12:
            raise RuntimeError(f"environ backend down; last value {KEY}")
        return super().get(key, default)


class TestHostileWatchers:
    def test_a_watch_that_raises_means_asked_every_time(self):
        """Promise 5: a custom source whose watch() raises is simply never cached."""

        def broken(key):
            raise _BoomError(KEY)

        source = _Source(broken)
        manager = SecretsManager([source])
        for _ in range(3):
            assert manager.get_api_key("openai") == KEY
        assert source.fetches == 3

    @pytest.mark.parametrize(
        "token", [lambda: [1, 2], lambda: {"a": 1}, lambda: {1, 2}], ids=["list", "dict", "set"]
    )
    def test_unhashable_but_stable_tokens_cache_and_still_see_changes(self, token):
        """Promise 5: unhashable tokens work: cached while equal, refetched once they differ."""
        state = {"token": token()}
        source = _Source(lambda key: lambda: state["token"])
        manager = SecretsManager([source])
        manager.get_api_key("openai")
        assert manager.resolve("openai").cache_hit
        source.set("openai", OTHER)
        state["token"] = "changed"
        assert manager.get_api_key("openai") == OTHER

    @pytest.mark.parametrize(
        "token", [object, lambda: float("nan"), os.urandom], ids=["object", "nan", "random"]
    )
    def test_tokens_that_always_change_mean_a_fetch_every_call(self, token):
        """Promise 5: a token that never compares equal is never served from the cache."""
        source = _Source(lambda key: (lambda: token(8)) if token is os.urandom else token)
        manager = SecretsManager([source])
        for i in range(5):
            source.set("openai", f"{KEY}-{i}")
            resolution = manager.resolve("openai")
            assert (resolution.cache_hit, resolution.value.reveal()) == (False, f"{KEY}-{i}")

    def test_an_expensive_watcher_is_called_once_per_hit(self):
        """Promise 5: a watcher is asked once per hit (and once before each fetch), no more."""
        calls = [0]

        def watcher() -> int:
            calls[0] += 1
            return 1

        manager = SecretsManager([_Source(lambda key: watcher)])
        for _ in range(10):
            manager.get_api_key("openai")
        assert calls[0] == 10

    def test_a_watcher_that_edits_the_environment_never_leaves_a_stale_value(self, monkeypatch):
        """Promise 5: a watcher (above the env source) that changes os.environ each time it
        is asked; every answer is the environment's value as it stands after the call."""
        counter = [0]

        def meddling(key):
            def watcher() -> int:
                counter[0] += 1
                os.environ["OPENAI_API_KEY"] = f"{KEY}-{counter[0]}"
                return 1

            return watcher

        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        above = _Source(meddling, name="above")
        above.delete("openai")
        manager = SecretsManager([above, EnvironmentSecretProvider()])
        for _ in range(10):
            assert manager.get_api_key("openai") == os.environ["OPENAI_API_KEY"]

    def test_an_environ_mapping_that_raises_at_once_is_an_error_outcome(self):
        """Promise 5: an environ mapping whose get() always raises: resolve() still answers
        with an outcome, nothing cached, nothing raised."""

        class Broken(dict):
            def get(self, key, default=None):
                raise RuntimeError(KEY)

        manager = SecretsManager([EnvironmentSecretProvider(Broken())])
        for _ in range(2):
            resolution = manager.resolve("openai")
            assert (resolution.outcome.value, resolution.cache_hit) == ("error", False)
            assert KEY not in str(resolution.error)

    @pytest.mark.parametrize(
        "kind", ["watcher raises later", "token == raises", "token == ambiguous", "environ"]
    )
    def test_a_watcher_failing_on_a_hit_never_breaks_the_resolution(self, kind):
        """Promise 5 (and 4): a watcher that raises on a later call, or a token whose
        comparison raises, must neither make resolve() raise (it never raises for an
        outcome) nor carry a value out in an exception."""
        if kind == "environ":
            source = EnvironmentSecretProvider(_FlakyEnviron(OPENAI_API_KEY=KEY))
        elif kind == "watcher raises later":
            source = _Source(_raising_later)
        else:
            token = _RaisingEq() if kind == "token == raises" else _Ambiguous()
            source = _Source(lambda key: lambda: token)
        manager = SecretsManager([source])
        assert manager.get_api_key("openai") == KEY
        raised = [_raised(lambda: manager.resolve("openai")) for _ in range(10)]
        assert KEY not in repr([str(exc) for exc in raised]), "a value escaped in a message"
        assert raised == [None] * 10
