"""The hot path: cached environment and file values that still see every edit, and cache hits
served past the stack yet counted, audited and traced.

Figures are the benchmark's (benchmarks/bench_hot_path.py); these tests hold behaviour only.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import threading
from pathlib import Path

import pytest
from conftest import FailingDurableSink

from abstractcore_secrets import ResolutionCache, SecretsManager
from abstractcore_secrets.assembly import build_secrets_manager, middleware_stacks
from abstractcore_secrets.audit import AuditMiddleware, principal
from abstractcore_secrets.errors import AuditFailureWarning, ConfigurationError
from abstractcore_secrets.resilience import Resilience
from abstractcore_secrets.settings import load_settings
from abstractcore_secrets.sources import ConfigFileSecretProvider, EnvironmentSecretProvider
from abstractcore_secrets.testing import InMemorySecretProvider, MemorySink
from abstractcore_secrets.testing.capture import capture_telemetry

KEY = "sk-hot-path-0123456789abcdef"
OTHER = "sk-hot-path-rotated-99887766"


def _write_config(path: Path, api_keys: dict[str, str], secrets: dict | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"api_keys": api_keys, "secrets": secrets or {}}))
    path.chmod(0o600)


def _key_file(path: Path, value: str) -> Path:
    """A key file as a secret volume holds it: the value, readable by its owner only."""
    path.write_text(value)
    path.chmod(0o600)
    return path


class TestEnvironmentValuesAreCachedAndWatched:
    def test_a_second_call_is_a_hit_and_an_edit_shows_on_the_next_call(self, monkeypatch):
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.resolve("openai").cache_hit is False
        assert manager.resolve("openai").cache_hit is True
        monkeypatch.setenv("OPENAI_API_KEY", OTHER)
        changed = manager.resolve("openai")
        assert (changed.value.reveal(), changed.cache_hit) == (OTHER, False)
        assert manager.get_api_key("openai") == OTHER
        monkeypatch.delenv("OPENAI_API_KEY")
        assert manager.get_api_key("openai") is None

    def test_an_alias_set_later_is_seen_although_the_first_name_answered(self, monkeypatch):
        """HUGGINGFACE_TOKEN then HF_TOKEN: every name read is watched, not just the winner."""
        monkeypatch.setenv("HF_TOKEN", KEY)
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.get_api_key("huggingface") == KEY
        monkeypatch.setenv("HUGGINGFACE_TOKEN", OTHER)  # higher in the alias order
        assert manager.get_api_key("huggingface") == OTHER

    def test_setting_the_file_variable_beside_the_value_is_refused_at_once(
        self, monkeypatch, tmp_path
    ):
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.get_api_key("openai") == KEY
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(_key_file(tmp_path / "key", OTHER)))
        assert manager.resolve("openai").outcome.value == "error"  # both set: refused

    def test_a_key_file_rewritten_in_place_shows_on_the_next_call(self, monkeypatch, tmp_path):
        key_file = _key_file(tmp_path / "key", KEY)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(key_file))
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.get_api_key("openai") == KEY
        assert manager.resolve("openai").cache_hit
        key_file.write_text(OTHER + "-longer")  # another size, another mtime
        assert manager.get_api_key("openai") == OTHER + "-longer"

    def test_a_kubernetes_style_link_swap_shows_on_the_next_call(self, monkeypatch, tmp_path):
        """Kubelet updates a secret volume by pointing a link at a new folder."""
        first, second = tmp_path / "..data1", tmp_path / "..data2"
        for folder, value in ((first, KEY), (second, OTHER)):
            folder.mkdir()
            _key_file(folder / "key", value)
        link = tmp_path / "..data"
        link.symlink_to(first)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(link / "key"))
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.get_api_key("openai") == KEY
        staging = tmp_path / "..data_tmp"
        staging.symlink_to(second)
        staging.replace(link)  # atomic, as the kubelet does
        assert manager.get_api_key("openai") == OTHER

    def test_a_key_file_removed_is_an_error_not_the_cached_value(self, monkeypatch, tmp_path):
        key_file = _key_file(tmp_path / "key", KEY)
        monkeypatch.setenv("OPENAI_API_KEY_FILE", str(key_file))
        manager = SecretsManager([EnvironmentSecretProvider()])
        assert manager.get_api_key("openai") == KEY
        key_file.unlink()
        resolution = manager.resolve("openai")
        assert resolution.value is None
        assert resolution.outcome.value == "error"

    def test_a_given_mapping_is_watched_too(self):
        environ = {"OPENAI_API_KEY": KEY}
        manager = SecretsManager([EnvironmentSecretProvider(environ)])
        assert manager.get_api_key("openai") == KEY
        assert manager.resolve("openai").cache_hit
        environ["OPENAI_API_KEY"] = OTHER
        assert manager.get_api_key("openai") == OTHER

    def test_a_variable_set_above_a_cached_managed_value_wins_on_the_next_call(self, monkeypatch):
        """env > vault: the cached vault value is served only while the environment is as
        it was when vault was asked."""
        vault = InMemorySecretProvider({"openai": KEY}, name="vault")
        manager = SecretsManager([EnvironmentSecretProvider(), vault])
        assert manager.resolve("openai").source == "vault"
        assert manager.resolve("openai").cache_hit
        monkeypatch.setenv("OPENAI_API_KEY", OTHER)
        resolution = manager.resolve("openai")
        assert (resolution.source, resolution.value.reveal()) == ("env", OTHER)
        assert vault.fetches == 1  # the vault value itself was never refetched

    def test_the_value_changed_under_a_fetch_is_not_cached(self, monkeypatch):
        """The token is read before the fetch: a change during it makes the next call fetch."""
        monkeypatch.setenv("OPENAI_API_KEY", KEY)

        class ChangingDuringFetch(EnvironmentSecretProvider):
            def fetch(self, key):
                record = super().fetch(key)
                os.environ["OPENAI_API_KEY"] = OTHER  # changed after it was read
                return record

        manager = SecretsManager([ChangingDuringFetch()])
        assert manager.get_api_key("openai") == KEY
        assert manager.resolve("openai").cache_hit is False  # the change was seen

    def test_invalidate_still_forgets_an_environment_value(self, monkeypatch):
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        manager = SecretsManager([EnvironmentSecretProvider()])
        manager.get_api_key("openai")
        manager.invalidate("openai")
        assert manager.resolve("openai").cache_hit is False


class TestConfigFileValuesAreCachedAndWatched:
    def test_an_edit_of_the_file_shows_on_the_next_call(self, config_path):
        _write_config(config_path, {"openai": KEY})
        manager = SecretsManager([ConfigFileSecretProvider(config_path)])
        assert manager.get_api_key("openai") == KEY
        assert manager.resolve("openai").cache_hit
        _write_config(config_path, {"openai": OTHER})
        assert manager.get_api_key("openai") == OTHER

    def test_a_file_made_readable_by_others_is_refused_on_the_next_call(self, config_path):
        """chmod changes the file's ctime: the cached value is not served past it."""
        _write_config(config_path, {"openai": KEY})
        manager = SecretsManager([ConfigFileSecretProvider(config_path)])
        assert manager.get_api_key("openai") == KEY
        config_path.chmod(0o644)
        assert manager.resolve("openai").value is None


class _Watching:
    """A resolution layer without ``on_hit``: it must see every resolution."""

    def __init__(self) -> None:
        self.seen: list[bool] = []

    def __call__(self, request, call_next):
        resolution = call_next(request)
        self.seen.append(resolution.cache_hit)
        return resolution


class TestHitsPastTheStack:
    def test_a_layer_without_on_hit_sees_every_hit(self):
        layer = _Watching()
        manager = SecretsManager([InMemorySecretProvider({"openai": KEY})], middleware=[layer])
        for _ in range(3):
            manager.get_api_key("openai")
        assert layer.seen == [False, True, True]

    def test_a_name_not_yet_normalised_goes_through_the_stack(self):
        manager = SecretsManager([InMemorySecretProvider({"openai": KEY})])
        manager.get_api_key("openai")
        assert manager.resolve(" OpenAI ").cache_hit  # validated, then the same entry
        with pytest.raises(ConfigurationError):
            manager.resolve(KEY)  # a key where a name belongs: refused, never a cache lookup

    def test_odd_provider_values_fail_as_before(self):
        manager = SecretsManager([InMemorySecretProvider({"openai": KEY})])
        manager.get_api_key("openai")
        for odd in ([], None, 3):
            with pytest.raises((AttributeError, TypeError)):
                manager.get_api_key(odd)  # type: ignore[arg-type]

    def test_an_explicit_key_is_never_answered_from_the_cache(self):
        manager = SecretsManager([InMemorySecretProvider({"openai": KEY})])
        manager.get_api_key("openai")
        assert manager.get_api_key("openai", api_key=OTHER) == OTHER
        assert manager.resolve("openai", api_key=OTHER).source == "explicit"

    def test_block_mode_denies_a_hit_whose_record_cannot_be_written(self, tmp_path):
        """Every hit is an event in block mode (the default there), and it can deny."""

        sink = FailingDurableSink()
        audit = AuditMiddleware([sink], failure_mode="block")
        assert audit.hits == "every"
        manager = SecretsManager([InMemorySecretProvider({"openai": KEY})], middleware=[audit])
        assert manager.get_api_key("openai") == KEY
        sink.fail = True
        with pytest.warns(AuditFailureWarning):
            resolution = manager.resolve("openai")
        assert (resolution.outcome.value, resolution.value) == ("denied", None)


class TestMetricsCountEveryResolution:
    def test_hits_are_counted_exactly_and_not_timed(self, fingerprinter):
        with capture_telemetry() as captured:
            cache = ResolutionCache()
            middleware, attempts = middleware_stacks(
                tracer_provider=captured.telemetry.tracer_provider,
                meter_provider=captured.telemetry.meter_provider,
                audit=AuditMiddleware([MemorySink()]),
                cache=cache,
            )
            manager = SecretsManager.stacked(
                [InMemorySecretProvider({"openai": KEY}, name="vault")],
                middleware=middleware,
                attempt_middleware=attempts,
                cache=cache,
                fingerprinter=fingerprinter,
            )
            threads = [
                threading.Thread(
                    target=lambda: [manager.get_api_key("openai") for _ in range(2_000)]
                )
                for _ in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            points = captured.metrics()
        counted = {
            (p.attributes["secrets.cache_hit"]): p.value
            for p in points["abstractcore.secrets.resolutions"]
        }
        assert sum(counted.values()) == 16_000
        assert counted[False] >= 1
        timed = points["abstractcore.secrets.resolution.duration"]
        assert sum(p.count for p in timed) == counted[False]  # only what went to the source


class TestTracesOfHits:
    def _manager(self, captured, hits="event"):
        cache = ResolutionCache()
        middleware, attempts = middleware_stacks(
            tracer_provider=captured.telemetry.tracer_provider,
            meter_provider=captured.telemetry.meter_provider,
            audit=AuditMiddleware([MemorySink()]),
            cache=cache,
            hit_spans=hits,
        )
        return SecretsManager.stacked(
            [InMemorySecretProvider({"openai": KEY}, name="vault")],
            middleware=middleware,
            attempt_middleware=attempts,
            cache=cache,
        )

    def test_a_hit_is_an_event_on_the_callers_span_and_no_span(self):
        with capture_telemetry() as captured:
            manager = self._manager(captured)
            manager.get_api_key("openai")
            tracer = captured.telemetry.tracer_provider.get_tracer("app")
            with tracer.start_as_current_span("handler"):
                manager.get_api_key("openai")
                manager.get_api_key("openai")
            manager.get_api_key("openai")  # no caller span: nothing at all
            spans = captured.spans()
        assert [s.name for s in spans].count("secrets.resolve") == 1
        (handler,) = [s for s in spans if s.name == "handler"]
        assert [e.name for e in handler.events] == ["secrets.cache_hit", "secrets.cache_hit"]
        assert dict(handler.events[0].attributes) == {
            "secrets.provider": "openai",
            "secrets.source": "vault",
            "secrets.stale": False,
            "secrets.degraded": False,
        }
        assert KEY not in repr([dict(e.attributes) for e in handler.events])

    def test_span_mode_makes_a_span_of_every_hit(self):
        with capture_telemetry() as captured:
            manager = self._manager(captured, hits="span")
            for _ in range(3):
                manager.get_api_key("openai")
            resolves = [s for s in captured.spans() if s.name == "secrets.resolve"]
        assert [s.attributes["secrets.cache_hit"] for s in resolves] == [False, True, True]

    def test_an_unknown_mode_is_refused_without_echoing_it(self):
        with pytest.raises(ConfigurationError) as raised:
            middleware_stacks(hit_spans=KEY)
        assert KEY not in str(raised.value)


class TestAuditSummaries:
    def _manager(self, sink, **audit_options):
        audit = AuditMiddleware([sink], **audit_options)
        source = InMemorySecretProvider({"openai": KEY, "groq": OTHER}, name="vault")
        return SecretsManager([source], middleware=[audit]), audit

    def test_hits_are_one_summary_per_principal_with_exact_counts(self):
        sink = MemorySink()
        manager, audit = self._manager(sink)
        with principal("alice"):
            for _ in range(5):
                manager.get_api_key("openai")
        with principal("bob"):
            for _ in range(3):
                manager.get_api_key("openai")
        audit.flush()
        events = sink.events
        assert events[0]["event"] == "secret.resolved"  # the fetch: its own event
        assert events[0]["count"] == 1
        summaries = {e["user"]["id"]: e for e in events if e["event"] == "secret.accessed"}
        assert {user: e["count"] for user, e in summaries.items()} == {"alice": 4, "bob": 3}
        alice = summaries["alice"]
        assert alice["first_time"] <= alice["last_time"] <= alice["time"]
        assert (alice["cache_hit"], alice["outcome"], alice["attempts"]) == (True, "found", [])
        assert alice["fingerprint"] == events[0]["fingerprint"]
        assert (alice["trace_id"], alice["duration_ms"]) == (None, None)
        assert sum(e["count"] for e in events) == 8  # every resolution accounted for

    def test_every_mode_writes_an_event_per_hit(self):
        sink = MemorySink()
        manager, audit = self._manager(sink, hits="every")
        for _ in range(4):
            manager.get_api_key("openai")
        audit.flush()
        assert [(e["event"], e["cache_hit"]) for e in sink.events] == [
            ("secret.resolved", False),
            ("secret.resolved", True),
            ("secret.resolved", True),
            ("secret.resolved", True),
        ]

    def test_the_window_writes_summaries_without_a_flush(self):
        sink = MemorySink()
        manager, _ = self._manager(sink, summary_window=0.05)
        for _ in range(3):
            manager.get_api_key("openai")
        deadline = threading.Event()
        for _ in range(100):
            if any(e["event"] == "secret.accessed" for e in sink.events):
                break
            deadline.wait(0.02)
        (summary,) = [e for e in sink.events if e["event"] == "secret.accessed"]
        assert summary["count"] == 2

    def test_close_writes_the_open_summaries(self):
        sink = MemorySink()
        manager, _ = self._manager(sink)
        manager.get_api_key("openai")
        manager.get_api_key("openai")
        manager.close()
        assert [e["event"] for e in sink.events] == ["secret.resolved", "secret.accessed"]

    def test_concurrent_hits_are_all_counted(self):
        sink = MemorySink()
        manager, audit = self._manager(sink)
        manager.get_api_key("openai")

        def hammer() -> None:
            for _ in range(5_000):
                manager.get_api_key("openai")

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        audit.flush()
        assert sum(e["count"] for e in sink.events) == 40_001

    def test_stale_and_rotated_answers_stay_events_of_their_own(self):
        sink = MemorySink()
        source = InMemorySecretProvider({"openai": KEY}, name="vault")
        clock = [0.0]
        audit = AuditMiddleware([sink])
        manager = SecretsManager(
            [source],
            middleware=[audit],
            cache=ResolutionCache(10, clock=lambda: clock[0], jitter=lambda: 0.999),
        )
        manager.get_api_key("openai")
        manager.get_api_key("openai")  # a hit: summarised
        source.set("openai", OTHER)
        clock[0] += 11
        manager.get_api_key("openai")  # refreshed: rotated
        audit.flush()
        assert [e["event"] for e in sink.events] == [
            "secret.resolved",
            "secret.resolved",
            "secret.rotated",
            "secret.accessed",
        ]

    def test_settings_choose_the_mode(self, config_path, monkeypatch):
        _write_config(config_path, {}, {"audit": {"failure_mode": "block"}})
        assert load_settings(config_path).audit.hits_mode == "every"
        _write_config(config_path, {}, {"audit": {"hits": "summary", "summary_window": 5}})
        settings = load_settings(config_path)
        assert (settings.audit.hits_mode, settings.audit.summary_window) == ("summary", 5.0)
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_AUDIT_HITS", "every")
        assert load_settings(config_path).audit.hits_mode == "every"
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_AUDIT_HITS", KEY)
        with pytest.raises(ConfigurationError) as raised:
            load_settings(config_path)
        assert KEY not in str(raised.value)

    def test_a_bad_window_is_refused(self):
        for window in (0, -1, float("nan"), True, "60"):
            with pytest.raises(ConfigurationError):
                AuditMiddleware([MemorySink()], summary_window=window)  # type: ignore[arg-type]


class TestNoValueInWhatTheHotPathKeeps:
    def test_watches_never_show_the_raw_value(self, monkeypatch, fingerprinter):
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        manager = SecretsManager([EnvironmentSecretProvider()], fingerprinter=fingerprinter)
        resolution = manager.resolve("openai")
        assert resolution.watches
        shown = [repr(resolution), repr(resolution.watches), repr(manager.cache.__dict__)]
        for text in shown:
            assert KEY not in text
        with pytest.raises(TypeError):
            pickle.dumps(resolution.watches[0])
        assert copy.deepcopy(resolution).watches[0] is resolution.watches[0]

    def test_the_default_manager_emits_no_value_on_hits(self, monkeypatch, config_path):
        import io
        import logging

        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        written = io.StringIO()
        handler = logging.StreamHandler(written)
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            manager = build_secrets_manager(load_settings(config_path))
            with principal("carol"):
                for _ in range(50):
                    assert manager.get_api_key("openai") == KEY
            manager.close()
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
        assert KEY not in written.getvalue()
        assert "secret.accessed" in written.getvalue()  # the summary was logged


def test_resilience_deadline_scope_passes_hits_by():
    resilience = Resilience()
    assert resilience.deadline_scope is resilience.deadline_scope
    manager = SecretsManager(
        [InMemorySecretProvider({"openai": KEY})], middleware=[resilience.deadline_scope]
    )
    manager.get_api_key("openai")
    assert manager.resolve("openai").cache_hit
