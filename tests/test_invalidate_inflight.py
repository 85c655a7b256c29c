"""ResolutionCache.invalidate() against fetches already in flight, with real threads."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from abstractcore_secrets import (
    Fingerprinter,
    Outcome,
    Resolution,
    ResolutionCache,
    SecretRecord,
    SecretsManager,
)
from abstractcore_secrets.testing import InMemorySecretProvider

_WAIT = 10.0
# Long enough for a resolution that does not wait on the held fetch to finish many times over.
_JOINED = 2.0


class HeldSource(InMemorySecretProvider):
    """An in-memory source whose first fetch, once it has read its value, waits to be released."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        super().__init__(secrets)
        self.holding = threading.Event()
        self.release = threading.Event()
        self._hold = True
        self._hold_lock = threading.Lock()

    def fetch(self, key: str) -> SecretRecord | None:
        """Read the value, then wait for ``release`` if this is the first fetch."""
        record = super().fetch(key)
        with self._hold_lock:
            hold, self._hold = self._hold, False
        if hold:
            self.holding.set()
            self.release.wait(_WAIT)
        return record


def _resolve_in_thread(manager: SecretsManager, results: dict[str, Resolution], name: str):
    def run() -> None:
        results[name] = manager.resolve("openai")

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def _value(resolution: Resolution) -> str | None:
    return None if resolution.value is None else resolution.value.reveal()


INVALIDATIONS: dict[str, Callable[[SecretsManager], None]] = {
    "invalidate(provider)": lambda manager: manager.invalidate("openai"),
    "invalidate()": lambda manager: manager.invalidate(),
}


@pytest.fixture(params=list(INVALIDATIONS), ids=list(INVALIDATIONS))
def invalidate(request: pytest.FixtureRequest) -> Callable[[SecretsManager], None]:
    return INVALIDATIONS[request.param]


class TestInvalidateCutsOffFlights:
    def test_a_resolution_after_invalidate_does_not_join_the_old_flight(
        self, fingerprinter: Fingerprinter, invalidate: Callable[[SecretsManager], None]
    ) -> None:
        """A caller arriving after invalidate() fetches the new key while the old fetch hangs."""
        source = HeldSource({"openai": "old"})
        manager = SecretsManager([source], cache=ResolutionCache(), fingerprinter=fingerprinter)
        results: dict[str, Resolution] = {}
        try:
            first = _resolve_in_thread(manager, results, "A")
            assert source.holding.wait(_WAIT)
            source.set("openai", "new")
            invalidate(manager)
            second = _resolve_in_thread(manager, results, "B")
            second.join(_JOINED)
            assert not second.is_alive(), "B joined the flight started before invalidate()"
        finally:
            source.release.set()
        first.join(_WAIT)
        assert (_value(results["A"]), _value(results["B"])) == ("old", "new")
        after = manager.resolve("openai")
        assert (after.cache_hit, _value(after), after.version) == (True, "new", "2")
        assert source.fetches == 2

    def test_invalidating_another_provider_keeps_single_flight(
        self, fingerprinter: Fingerprinter
    ) -> None:
        """invalidate() of another provider neither cuts off nor discards openai's flight."""
        source = HeldSource({"openai": "k1"})
        manager = SecretsManager([source], cache=ResolutionCache(), fingerprinter=fingerprinter)
        results: dict[str, Resolution] = {}
        try:
            first = _resolve_in_thread(manager, results, "A")
            assert source.holding.wait(_WAIT)
            manager.invalidate("anthropic")
            second = _resolve_in_thread(manager, results, "B")
        finally:
            source.release.set()
        first.join(_WAIT)
        second.join(_WAIT)
        assert (_value(results["A"]), _value(results["B"])) == ("k1", "k1")
        assert manager.resolve("openai").cache_hit
        assert source.fetches == 1

    def test_a_miss_fetched_before_invalidate_is_not_remembered(
        self, fingerprinter: Fingerprinter, invalidate: Callable[[SecretsManager], None]
    ) -> None:
        """A miss read before the key was added and invalidate() called is forgotten."""
        source = HeldSource()
        cache = ResolutionCache(negative_ttl=300)
        manager = SecretsManager([source], cache=cache, fingerprinter=fingerprinter)
        results: dict[str, Resolution] = {}
        try:
            first = _resolve_in_thread(manager, results, "A")
            assert source.holding.wait(_WAIT)
            source.set("openai", "added")
            invalidate(manager)
        finally:
            source.release.set()
        first.join(_WAIT)
        assert results["A"].outcome is Outcome.NOT_FOUND
        after = manager.resolve("openai")
        assert (after.outcome, _value(after), after.attempts[0].tries) == (
            Outcome.FOUND,
            "added",
            1,
        )


class TestInvalidateUnderLoad:
    def test_every_resolution_after_an_invalidate_sees_a_value_at_least_as_new(
        self, fingerprinter: Fingerprinter
    ) -> None:
        """Eight resolving threads never see a version older than the last finished rotation."""
        source = InMemorySecretProvider({"openai": "k1"}, delay=0.005)
        manager = SecretsManager([source], cache=ResolutionCache(), fingerprinter=fingerprinter)
        floor = 1  # the version set before the last invalidate() that has returned
        stop = threading.Event()
        stale: list[tuple[int, str | None, str | None]] = []
        resolutions = [0]
        count_lock = threading.Lock()
        pauses = random.Random(9)  # noqa: S311 - timing jitter, not cryptography

        def resolver() -> None:
            while not stop.is_set():
                at_least = floor
                resolution = manager.resolve("openai")
                with count_lock:
                    resolutions[0] += 1
                    if resolution.version is None or int(resolution.version) < at_least:
                        stale.append((at_least, resolution.version, _value(resolution)))
                # Staggered, so that some threads arrive while a fetch is in flight.
                stop.wait(pauses.uniform(0, 0.003))

        threads = [threading.Thread(target=resolver, daemon=True) for _ in range(8)]
        for thread in threads:
            thread.start()
        for version in range(2, 52):
            source.set("openai", f"k{version}")
            if version % 2:
                manager.invalidate()
            else:
                manager.invalidate("openai")
            floor = version
            stop.wait(0.002)  # shorter than a fetch: rotations land mid-flight
        stop.set()
        for thread in threads:
            thread.join(_WAIT)
        assert stale == []
        assert resolutions[0] > 50
        assert _value(manager.resolve("openai")) == "k51"
