"""ResolutionCache: TTL with jitter, single-flight, negative caching, stale serving."""

from __future__ import annotations

import threading
import time

import pytest

from abstractcore_secrets import (
    ConfigurationError,
    EnvironmentSecretProvider,
    InvalidSourceError,
    Outcome,
    ResolutionCache,
    SecretsManager,
    SourceForbiddenError,
    SourceUnavailableError,
)
from abstractcore_secrets.testing import FailingSecretProvider, InMemorySecretProvider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def _manager(source, clock, fingerprinter, jitter=0.0, **cache_options):
    cache = ResolutionCache(clock=clock, jitter=lambda: jitter, **cache_options)
    return SecretsManager([source], cache=cache, fingerprinter=fingerprinter)


class TestResolutionCache:
    def test_hit_within_ttl_does_not_fetch(self, clock, fingerprinter):
        """A second resolution within the TTL is a cache hit with the same provenance."""
        source = InMemorySecretProvider({"openai": "k1"})
        manager = _manager(source, clock, fingerprinter, ttl=100)
        first = manager.resolve("openai")
        clock.now += 49
        second = manager.resolve("openai")
        assert source.fetches == 1
        assert (first.cache_hit, second.cache_hit) == (False, True)
        assert (second.source, second.locator, second.fingerprint, second.attempts) == (
            first.source,
            first.locator,
            first.fingerprint,
            (),
        )

    @pytest.mark.parametrize(("jitter", "refresh_after"), [(0.0, 50), (0.5, 75), (0.999, 100)])
    def test_refresh_time_is_jittered_within_half_to_full_ttl(
        self, clock, fingerprinter, jitter, refresh_after
    ):
        """The refresh comes at a point in [ttl/2, ttl] chosen by the jitter."""
        source = InMemorySecretProvider({"openai": "k1"})
        manager = _manager(source, clock, fingerprinter, jitter=jitter, ttl=100)
        manager.resolve("openai")
        clock.now += refresh_after - 0.2
        manager.resolve("openai")
        assert source.fetches == 1
        clock.now += 0.3
        manager.resolve("openai")
        assert source.fetches == 2

    def test_rotation_is_served_after_refresh_with_a_new_fingerprint(self, clock, fingerprinter):
        """A rotated value reaches callers at the next refresh; its fingerprint changes."""
        source = InMemorySecretProvider({"openai": "k1"})
        manager = _manager(source, clock, fingerprinter, ttl=10)
        before = manager.resolve("openai")
        source.set("openai", "k2")
        assert manager.get_api_key("openai") == "k1"
        clock.now += 10
        after = manager.resolve("openai")
        assert after.value is not None
        assert after.value.reveal() == "k2"
        assert after.fingerprint != before.fingerprint
        assert (before.version, after.version) == ("1", "2")

    def test_invalidate_forces_a_fetch(self, clock, fingerprinter):
        """invalidate(provider), as after an HTTP 401, makes the next call fetch anew."""
        source = InMemorySecretProvider({"openai": "k1", "anthropic": "a1"})
        manager = _manager(source, clock, fingerprinter)
        manager.resolve("openai")
        manager.resolve("anthropic")
        source.set("openai", "k2")
        manager.invalidate("openai")
        assert manager.get_api_key("openai") == "k2"
        assert manager.resolve("anthropic").cache_hit
        manager.invalidate()
        assert not manager.resolve("anthropic").cache_hit

    def test_single_flight_under_threads(self, clock, fingerprinter):
        """Thirty-two threads asking for a cold key cause exactly one fetch."""
        source = InMemorySecretProvider({"openai": "k1"}, delay=0.2)
        manager = _manager(source, clock, fingerprinter)
        barrier = threading.Barrier(32)
        results: list[str | None] = []

        def worker() -> None:
            barrier.wait()
            results.append(manager.get_api_key("openai"))

        threads = [threading.Thread(target=worker) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert results == ["k1"] * 32
        assert source.fetches == 1

    def test_single_flight_shares_a_failure_too(self, clock, fingerprinter):
        """Waiters share the leader's result even when it is an error: one fetch, not ten."""
        source = FailingSecretProvider(SourceUnavailableError("down"), name="vault")
        slow = InMemorySecretProvider(name="slow", delay=0.2)
        manager = SecretsManager(
            [slow, source], cache=ResolutionCache(clock=clock), fingerprinter=fingerprinter
        )
        barrier = threading.Barrier(10)
        outcomes = []

        def worker() -> None:
            barrier.wait()
            outcomes.append(manager.resolve("openai").outcome)

        threads = [threading.Thread(target=worker) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert outcomes == [Outcome.ERROR] * 10
        assert (slow.fetches, source.fetches) == (1, 1)

    def test_invalidate_during_a_fetch_keeps_the_rejected_key_out(self, clock, fingerprinter):
        """A fetch under way when invalidate() is called does not put its value in the cache."""
        source = InMemorySecretProvider({"openai": "old"}, delay=0.3)
        manager = _manager(source, clock, fingerprinter)
        fetch = threading.Thread(target=manager.resolve, args=("openai",))
        fetch.start()
        time.sleep(0.1)  # the fetch is inside the source now
        source.set("openai", "new")
        manager.invalidate("openai")
        fetch.join(timeout=10)
        assert manager.get_api_key("openai") == "new"
        assert source.fetches == 2

    def test_single_flight_is_per_provider(self, clock, fingerprinter):
        """Different providers are fetched concurrently, once each."""
        source = InMemorySecretProvider({"openai": "k", "anthropic": "a"}, delay=0.2)
        manager = _manager(source, clock, fingerprinter)
        threads = [
            threading.Thread(target=manager.resolve, args=(p,)) for p in ["openai", "anthropic"] * 8
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert source.fetches == 2

    def test_negative_cache_remembers_misses_for_its_own_ttl(self, clock, fingerprinter):
        """A miss is remembered for negative_ttl, then asked again."""
        source = InMemorySecretProvider({})
        manager = _manager(source, clock, fingerprinter, ttl=300, negative_ttl=5)
        assert manager.resolve("openai").outcome is Outcome.NOT_FOUND
        source.set("openai", "late")
        assert manager.resolve("openai").outcome is Outcome.NOT_FOUND
        assert source.fetches == 1
        clock.now += 5
        assert manager.get_api_key("openai") == "late"

    def test_remembered_miss_does_not_hide_a_new_env_value(self, clock, fingerprinter, monkeypatch):
        """A remote miss is remembered, but the environment is still read at every call."""
        remote = InMemorySecretProvider({}, name="vault")
        manager = SecretsManager(
            [EnvironmentSecretProvider(), remote],
            cache=ResolutionCache(clock=clock),
            fingerprinter=fingerprinter,
        )
        assert manager.resolve("openai").outcome is Outcome.NOT_FOUND
        monkeypatch.setenv("OPENAI_API_KEY", "set-later")
        assert manager.get_api_key("openai") == "set-later"
        monkeypatch.delenv("OPENAI_API_KEY")
        again = manager.resolve("openai")
        assert [(a.source, a.tries) for a in again.attempts] == [("env", 1), ("vault", 0)]
        assert remote.fetches == 1

    def test_negative_ttl_zero_disables_negative_caching(self, clock, fingerprinter):
        """With negative_ttl=0 every miss asks the source."""
        source = InMemorySecretProvider({})
        manager = _manager(source, clock, fingerprinter, negative_ttl=0)
        manager.resolve("openai")
        manager.resolve("openai")
        assert source.fetches == 2

    def test_stale_is_served_within_max_stale_then_error(self, clock, fingerprinter):
        """When the source fails, the last value is served stale until max_stale runs out."""
        healthy = InMemorySecretProvider({"openai": "k1"})
        outage = FailingSecretProvider(SourceUnavailableError("down"), name="memory")
        cache = ResolutionCache(
            ttl=10, max_stale=60, stale_retry=5, clock=clock, jitter=lambda: 0.999
        )
        SecretsManager([healthy], cache=cache, fingerprinter=fingerprinter).resolve("openai")
        failing = SecretsManager([outage], cache=cache, fingerprinter=fingerprinter)
        clock.now += 10
        stale = failing.resolve("openai")
        assert stale.value is not None
        assert (stale.outcome, stale.stale, stale.cache_hit, stale.value.reveal()) == (
            Outcome.FOUND,
            True,
            True,
            "k1",
        )
        assert [a.error_type for a in stale.attempts] == ["unavailable"]
        clock.now += 1
        assert failing.resolve("openai").stale  # within stale_retry: served without a fetch
        assert outage.fetches == 1
        clock.now += 5
        assert failing.resolve("openai").stale
        assert outage.fetches == 2
        clock.now += 60
        expired = failing.resolve("openai")
        assert (expired.outcome, expired.stale) == (Outcome.ERROR, False)

    def test_invalid_answer_is_not_covered_by_stale(self, clock, fingerprinter):
        """A malformed value or broken config is an error, never hidden by a stale value."""
        cache = ResolutionCache(ttl=10, clock=clock, jitter=lambda: 0.999)
        SecretsManager(
            [InMemorySecretProvider({"openai": "k1"})], cache=cache, fingerprinter=fingerprinter
        ).resolve("openai")
        broken = SecretsManager(
            [FailingSecretProvider(InvalidSourceError("corrupt"))],
            cache=cache,
            fingerprinter=fingerprinter,
        )
        clock.now += 10
        resolution = broken.resolve("openai")
        assert (resolution.outcome, resolution.stale) == (Outcome.ERROR, False)

    def test_denial_drops_the_cached_value(self, clock, fingerprinter):
        """A revoked key is never served stale: a denial empties the entry."""
        cache = ResolutionCache(ttl=10, clock=clock, jitter=lambda: 0.999)
        SecretsManager(
            [InMemorySecretProvider({"openai": "k1"})], cache=cache, fingerprinter=fingerprinter
        ).resolve("openai")
        denying = SecretsManager(
            [FailingSecretProvider(SourceForbiddenError("403"))],
            cache=cache,
            fingerprinter=fingerprinter,
        )
        clock.now += 10
        assert denying.resolve("openai").outcome is Outcome.DENIED
        clock.now -= 5  # even back inside the old TTL, nothing is left to serve
        assert denying.resolve("openai").outcome is Outcome.DENIED

    def test_local_sources_are_not_cached(self, clock, fingerprinter, monkeypatch):
        """Environment values are read fresh, so an edit shows at once."""
        monkeypatch.setenv("OPENAI_API_KEY", "one")
        manager = _manager(EnvironmentSecretProvider(), clock, fingerprinter)
        assert manager.get_api_key("openai") == "one"
        monkeypatch.setenv("OPENAI_API_KEY", "two")
        assert manager.get_api_key("openai") == "two"

    def test_explicit_keys_bypass_the_cache(self, clock, fingerprinter):
        """An explicit key is returned as given and never stored."""
        source = InMemorySecretProvider({"openai": "stored"})
        manager = _manager(source, clock, fingerprinter)
        assert manager.get_api_key("openai", api_key="explicit") == "explicit"
        assert manager.get_api_key("openai") == "stored"
        assert manager.get_api_key("openai", api_key="explicit") == "explicit"

    @pytest.mark.parametrize(
        "options",
        [
            {"ttl": 0},
            {"ttl": -1},
            {"negative_ttl": -1},
            {"max_stale": -1},
            {"stale_retry": -1},
            {"ttl": float("nan")},
            {"max_stale": float("inf")},
        ],
        ids=[
            "ttl-zero",
            "ttl-negative",
            "negative-ttl",
            "max-stale",
            "stale-retry",
            "ttl-nan",
            "stale-inf",
        ],
    )
    def test_bad_durations_are_refused(self, options):
        """Durations must make sense; ttl=0 points at cache=None."""
        with pytest.raises(ConfigurationError):
            ResolutionCache(**options)
