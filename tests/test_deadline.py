"""Deadlines: a server trickling its answer cannot stall a resolution, nor its waiters.

A server that sends its answer one byte at a time restarts the SDK's read timeout with every
byte; only the resilience layer's deadline, over the whole call, ends the wait. Every test
runs the resolution on a thread joined with a bound, so a regression fails instead of
hanging the suite. Margins are generous (slow CI machines); nothing else is timed.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from abstractcore_secrets import (
    AWSSecretsProvider,
    AzureKeyVaultProvider,
    CircuitState,
    ConfigurationError,
    Outcome,
    Resilience,
    Resolution,
    ResolutionCache,
    ResolutionError,
    RetryPolicy,
    SecretProvider,
    SecretRecord,
    SecretsManager,
    SourceTimeoutError,
    VaultSecretProvider,
)
from abstractcore_secrets.config import build_secrets_manager, load_settings
from abstractcore_secrets.testing import AzureKeyVaultEmulator, FaultProxy, InMemorySecretProvider

ATTEMPT = 1.0
"""The attempt's timeout in these tests."""
DEADLINE = 4.0
"""The resolution's deadline in these tests."""
MARGIN = 6.0
"""What a slow machine may add to a deadline; far below the minutes a trickled answer takes."""
TRICKLE = 0.2
"""Seconds between bytes: far below every read timeout (5 s), so no socket timeout fires."""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def returns_within(seconds: float, call: Callable[[], Any]) -> Any:
    """Run ``call`` on a thread; fail if it has not returned within ``seconds``."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, on the test's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="bounded-call", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still blocked after {seconds:.1f} s: no deadline bounded the call")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    ends = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > ends:
            pytest.fail(f"not so within {seconds} s")
        time.sleep(0.05)


def value_of(resolution: Resolution) -> str | None:
    return None if resolution.value is None else resolution.value.reveal()


@dataclass
class Backend:
    """A real server behind a FaultProxy, and a source of ours pointed at the proxy."""

    name: str
    proxy: FaultProxy
    source: SecretProvider
    put: Callable[[str], None]


@pytest.fixture(params=["vault", "aws", "azure"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """OpenBao, moto or the Key Vault emulator, holding ``openai = sk-first`` behind a proxy."""
    if request.param == "vault":
        openbao = request.getfixturevalue("openbao")
        path = f"deadline-{uuid.uuid4().hex}"

        def put_vault(value: str) -> None:
            openbao.put_kv(path, {"openai": value})

        put_vault("sk-first")
        with FaultProxy(openbao.address) as proxy:
            source = VaultSecretProvider(proxy.address, openbao.root_token, f"secret/data/{path}")
            yield Backend("vault", proxy, source, put_vault)
            source.close()
    elif request.param == "aws":
        moto_server = request.getfixturevalue("moto_server")
        admin = request.getfixturevalue("aws_admin")
        admin.create_secret(Name="abstractcore/openai", SecretString="sk-first")

        def put_aws(value: str) -> None:
            admin.put_secret_value(SecretId="abstractcore/openai", SecretString=value)

        with FaultProxy(moto_server) as proxy:
            source = AWSSecretsProvider(endpoint_url=proxy.address)
            yield Backend("aws", proxy, source, put_aws)
            source.close()
    else:
        import trustme

        authority = trustme.CA()
        served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(served)
        proxy_ca = tmp_path / "proxy-ca.pem"
        authority.cert_pem.write_to_path(str(proxy_ca))
        with AzureKeyVaultEmulator() as vault:
            vault.set_secret("openai", "sk-first")
            upstream = ssl.create_default_context(cafile=vault.ca_pem_path)
            with FaultProxy(vault.vault_url, tls=served, upstream_tls=upstream) as proxy:
                source = AzureKeyVaultProvider(
                    proxy.address,
                    credential=vault.credential(),
                    client_options={
                        "connection_verify": str(proxy_ca),
                        "verify_challenge_resource": False,
                    },
                )
                yield Backend("azure", proxy, source, lambda v: vault.set_secret("openai", v))
                source.close()


def bounded(
    source: SecretProvider,
    fingerprinter: Any,
    cache: ResolutionCache | None = None,
    failure_threshold: int = 1,
) -> tuple[SecretsManager, Resilience]:
    """A manager with the deadline scope outside the cache and Resilience around the source."""
    resilience = Resilience(
        RetryPolicy(attempts=1, timeout=ATTEMPT),
        deadline=DEADLINE,
        failure_threshold=failure_threshold,
    )
    manager = SecretsManager(
        [source],
        cache=cache,
        middleware=[resilience.deadline_scope],
        attempt_middleware=[resilience],
        fingerprinter=fingerprinter,
    )
    return manager, resilience


@pytest.mark.server
class TestTrickledAnswer:
    def test_a_resolution_ends_within_the_deadline_as_a_timeout(self, backend, fingerprinter):
        """A trickled answer ends the attempt at its timeout: a timeout outage, breaker open."""
        manager, resilience = bounded(backend.source, fingerprinter)
        backend.proxy.trickle(TRICKLE)
        resolution = returns_within(ATTEMPT + MARGIN, lambda: manager.resolve("openai"))
        attempt = resolution.attempts[0]
        assert (resolution.outcome, attempt.source, attempt.error_type, attempt.tries) == (
            Outcome.ERROR,
            backend.name,
            "timeout",
            1,
        )
        assert isinstance(attempt.error, SourceTimeoutError)
        assert "the attempt's timeout" in str(attempt.error)
        assert resilience.breaker(backend.name).state is CircuitState.OPEN

    def test_concurrent_callers_all_return_within_the_deadline(self, backend, fingerprinter):
        """Eight callers of one key, sharing one trickled fetch, all get the outage in time."""
        manager, _ = bounded(backend.source, fingerprinter, ResolutionCache())
        backend.proxy.trickle(TRICKLE)
        barrier = threading.Barrier(8)

        def caller() -> Resolution:
            barrier.wait()
            return manager.resolve("openai")

        results: list[Resolution] = []
        threads = [
            threading.Thread(target=lambda: results.append(caller()), daemon=True) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        ends = time.monotonic() + DEADLINE + MARGIN
        for thread in threads:
            thread.join(max(0.0, ends - time.monotonic()))
        assert not any(thread.is_alive() for thread in threads), "a caller is still blocked"
        assert [r.outcome for r in results] == [Outcome.ERROR] * 8
        assert {type(r.error) for r in results} == {ResolutionError}

    def test_a_value_past_its_ttl_is_served_stale_within_the_deadline(self, backend, fingerprinter):
        """With the key cached and past its TTL, a trickling server means a stale answer."""
        clock = Clock()
        cache = ResolutionCache(ttl=60, clock=clock, jitter=lambda: 0.0, stale_retry=600)
        manager, _ = bounded(backend.source, fingerprinter, cache)
        assert value_of(manager.resolve("openai")) == "sk-first"
        clock.now += 61
        backend.proxy.trickle(TRICKLE)
        resolution = returns_within(ATTEMPT + MARGIN, lambda: manager.resolve("openai"))
        assert (value_of(resolution), resolution.stale, resolution.cache_hit) == (
            "sk-first",
            True,
            True,
        )
        assert resolution.attempts[0].error_type == "timeout"

    def test_the_abandoned_fetch_finishing_later_changes_nothing(self, backend, fingerprinter):
        """The late answer (a new key) is dropped: the stale key stays until a real refresh."""
        clock = Clock()
        cache = ResolutionCache(ttl=60, clock=clock, jitter=lambda: 0.0, stale_retry=600)
        manager, resilience = bounded(backend.source, fingerprinter, cache, failure_threshold=5)
        first = manager.resolve("openai")
        backend.put("sk-second")
        clock.now += 61
        backend.proxy.trickle(TRICKLE)
        stale = returns_within(ATTEMPT + MARGIN, lambda: manager.resolve("openai"))
        assert resilience.busy(backend.name) == 1  # the abandoned call, still trickling
        backend.proxy.clear()  # the rest of the answer, holding sk-second, at once
        wait_until(lambda: resilience.busy(backend.name) == 0)
        after = manager.resolve("openai")
        assert [(value_of(r), r.stale, r.fingerprint) for r in (stale, after)] == [
            ("sk-first", True, first.fingerprint)
        ] * 2
        clock.now += 600  # the next refresh asks the server again, and learns the new key
        assert value_of(manager.resolve("openai")) == "sk-second"


class HeldSource(InMemorySecretProvider):
    """An in-memory source whose fetches wait for ``release`` (at most a minute)."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        super().__init__(secrets)
        self.holding = threading.Event()
        self.release = threading.Event()
        self.hold = False

    def fetch(self, key: str) -> SecretRecord | None:
        """Read the value, then wait for ``release`` while ``hold`` is set."""
        record = super().fetch(key)
        if self.hold:
            self.holding.set()
            self.release.wait(60)
        return record


@pytest.fixture
def held() -> Iterator[HeldSource]:
    source = HeldSource({"openai": "sk-held"})
    yield source
    source.release.set()


def unbounded_leader(
    source: SecretProvider, cache: ResolutionCache, fingerprinter: Any, deadline: float
) -> SecretsManager:
    """A manager whose source is not behind Resilience: only the waiters have a deadline."""
    return SecretsManager(
        [source],
        cache=cache,
        middleware=[Resilience(deadline=deadline).deadline_scope],
        fingerprinter=fingerprinter,
    )


class TestWaitersOfOneFetch:
    def start_leader(self, manager: SecretsManager, held: HeldSource) -> None:
        held.hold = True
        threading.Thread(target=lambda: manager.resolve("openai"), daemon=True).start()
        assert held.holding.wait(10)

    def test_a_follower_waits_no_longer_than_its_own_deadline(self, held, fingerprinter):
        """A caller joining a stuck fetch gets an outage error at its deadline, not a hang."""
        manager = unbounded_leader(held, ResolutionCache(), fingerprinter, deadline=1.0)
        self.start_leader(manager, held)
        resolution = returns_within(1.0 + MARGIN, lambda: manager.resolve("openai"))
        assert (resolution.outcome, resolution.stale, resolution.attempts) == (
            Outcome.ERROR,
            False,
            (),
        )
        assert isinstance(resolution.error, ResolutionError)
        assert isinstance(resolution.error.__cause__, SourceTimeoutError)
        assert "did not end within its deadline" in str(resolution.error)

    def test_a_follower_past_its_deadline_gets_the_stale_value(self, held, fingerprinter):
        """With a key cached within max_stale, the follower's deadline brings the stale key."""
        clock = Clock()
        cache = ResolutionCache(ttl=60, clock=clock, jitter=lambda: 0.0)
        manager = unbounded_leader(held, cache, fingerprinter, deadline=1.0)
        assert value_of(manager.resolve("openai")) == "sk-held"
        clock.now += 61
        self.start_leader(manager, held)
        resolution = returns_within(1.0 + MARGIN, lambda: manager.resolve("openai"))
        assert (value_of(resolution), resolution.stale, resolution.cache_hit) == (
            "sk-held",
            True,
            True,
        )

    def test_a_follower_outside_any_deadline_is_bounded_too(self, held, fingerprinter, monkeypatch):
        """Without a deadline scope in the stack, a follower still waits a bounded time."""
        from abstractcore_secrets import cache as cache_module

        monkeypatch.setattr(cache_module, "_FOLLOW_LIMIT", 1.0)
        manager = SecretsManager([held], cache=ResolutionCache(), fingerprinter=fingerprinter)
        self.start_leader(manager, held)
        resolution = returns_within(1.0 + MARGIN, lambda: manager.resolve("openai"))
        assert resolution.outcome is Outcome.ERROR


class TestResolutionDeadline:
    def test_sources_after_the_deadline_are_skipped_and_local_ones_still_read(self, fingerprinter):
        """The deadline cuts the first slow source short, skips the next; a file still answers."""
        resilience = Resilience(RetryPolicy(attempts=1, timeout=5.0), deadline=1.0)
        manager = SecretsManager(
            [
                InMemorySecretProvider({"openai": "sk-slow"}, name="vault", delay=10),
                InMemorySecretProvider({"openai": "sk-slow"}, name="aws", delay=10),
                InMemorySecretProvider({"openai": "sk-local"}, name="config", cacheable=False),
            ],
            cache=None,
            middleware=[resilience.deadline_scope],
            attempt_middleware=[resilience],
            fingerprinter=fingerprinter,
        )
        resolution = returns_within(1.0 + MARGIN, lambda: manager.resolve("openai"))
        assert [
            (a.source, a.outcome.value, a.error_type, a.tries) for a in resolution.attempts
        ] == [
            ("vault", "error", "timeout", 1),
            ("aws", "error", "timeout", 0),
            ("config", "found", None, 1),
        ]
        assert value_of(resolution) == "sk-local"
        assert "the resolution's deadline" in str(resolution.attempts[0].error)

    def test_a_pool_held_by_abandoned_calls_fails_fast_as_unavailable(self, fingerprinter):
        """With every worker stuck past its deadline, the next try is refused at once."""
        slow = InMemorySecretProvider({"openai": "sk-slow"}, name="vault", delay=5)
        resilience = Resilience(RetryPolicy(attempts=1, timeout=0.3), workers=1)
        manager = SecretsManager(
            [slow], cache=None, attempt_middleware=[resilience], fingerprinter=fingerprinter
        )
        first = returns_within(0.3 + MARGIN, lambda: manager.resolve("openai"))
        second = returns_within(MARGIN, lambda: manager.resolve("openai"))
        assert [(r.attempts[0].error_type, r.attempts[0].tries) for r in (first, second)] == [
            ("timeout", 1),
            ("unavailable", 1),
        ]
        assert "workers are all held" in str(second.attempts[0].error)
        assert (resilience.busy("vault"), slow.fetches) == (1, 1)

    def test_the_late_answer_of_an_abandoned_call_is_dropped(self, fingerprinter):
        """What the source returns after the deadline reaches no layer above Resilience."""
        seen: list[Outcome] = []

        def watch(request, call_next):
            attempt = call_next(request)
            seen.append(attempt.outcome)
            return attempt

        slow = InMemorySecretProvider({"openai": "sk-late"}, name="vault", delay=1.0)
        resilience = Resilience(RetryPolicy(attempts=1, timeout=0.2))
        manager = SecretsManager(
            [slow], cache=None, attempt_middleware=[watch, resilience], fingerprinter=fingerprinter
        )
        resolution = returns_within(0.2 + MARGIN, lambda: manager.resolve("openai"))
        wait_until(lambda: resilience.busy("vault") == 0)
        assert (resolution.outcome, resolution.value, seen) == (
            Outcome.ERROR,
            None,
            [Outcome.ERROR],
        )


class TestDeadlineSettings:
    @pytest.mark.parametrize(
        "value",
        [0, -1.0, float("inf"), float("nan"), "5"],
        ids=["zero", "negative", "inf", "nan", "text"],
    )
    def test_a_deadline_that_is_no_duration_is_refused_naming_the_fix(self, value):
        """deadline and timeout must be finite seconds above 0; the error names the setting."""
        with pytest.raises(ConfigurationError, match=r"set secrets\.resilience\.deadline"):
            Resilience(deadline=value)
        with pytest.raises(ConfigurationError, match=r"set secrets\.resilience\.timeout"):
            Resilience(RetryPolicy(timeout=value))

    def test_workers_below_one_are_refused(self):
        """A pool needs a worker."""
        with pytest.raises(ConfigurationError, match=r"secrets\.resilience\.workers"):
            Resilience(workers=0)

    def test_the_config_file_sets_the_deadline(self, config_path):
        """secrets.resilience.deadline reaches the manager; a bad one fails at build time."""
        config_path.parent.mkdir(parents=True)
        config_path.write_text(
            json.dumps({"secrets": {"chain": ["env"], "resilience": {"deadline": -3}}})
        )
        config_path.chmod(0o600)
        with pytest.raises(ConfigurationError, match=r"deadline=-3\.0 must be a finite number"):
            build_secrets_manager(load_settings(config_path))
        config_path.write_text(
            json.dumps(
                {"secrets": {"chain": ["env"], "resilience": {"deadline": 2.5, "workers": 2}}}
            )
        )
        assert build_secrets_manager(load_settings(config_path)).resolve("openai").outcome is (
            Outcome.NOT_FOUND
        )


@pytest.mark.server
def test_the_fault_proxy_trickles_headers_first_then_the_body(openbao):
    """trickle() sends the headers at once, then the body a byte at a time; clear() the rest."""
    import http.client

    openbao.put_kv("trickled", {"openai": "sk-trickled"})
    with FaultProxy(openbao.address) as proxy:
        proxy.trickle(0.5)
        connection = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        connection.request(
            "GET", "/v1/secret/data/trickled", headers={"X-Vault-Token": openbao.root_token}
        )
        answer = returns_within(MARGIN, connection.getresponse)
        assert answer.status == 200
        first = returns_within(MARGIN, lambda: answer.read(1))
        proxy.clear()
        rest = returns_within(MARGIN, answer.read)
        connection.close()
    assert json.loads(first + rest)["data"]["data"] == {"openai": "sk-trickled"}
