"""The demo's first steps: the chain itself (precedence, caching, outages, retries, the
circuit breaker, failing closed, an insecure key file)."""

from __future__ import annotations

from .._cache import ResolutionCache
from .._config_file import ConfigFile
from .._fingerprint import Fingerprinter
from .._manager import SecretsManager
from .._resolution import Resolution
from .._secret import Secret
from ..errors import SourceForbiddenError, SourceUnavailableError
from ..resilience import Resilience, RetryPolicy
from ..sources.base import SecretProvider
from ..sources.config import ConfigFileSecretProvider
from ..sources.environment import EnvironmentSecretProvider
from ..testing import FailingSecretProvider, InMemorySecretProvider
from ._demo import Stage, Step, fake_key, proof, say, table

_COLUMNS = ("provider", "outcome", "source", "locator", "fingerprint")


class _Clock:
    """A clock the demo moves forward, so that cache expiry shows without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Chain:
    """The demo's sources and manager, built once and shared by the chain's steps."""

    def __init__(self, stage: Stage) -> None:
        config = ConfigFile(stage.config)
        config.write_api_key("anthropic", Secret(fake_key("demokey-anthropic-")))
        config.write_api_key("openai", Secret(fake_key("demokey-openai-file-")))
        self.config = config
        self.environ = {
            "OPENAI_API_KEY": fake_key("demokey-openai-env-"),
            "HF_TOKEN": fake_key("demokey-hf-"),
        }
        self.managed = InMemorySecretProvider({"openrouter": fake_key("demokey-or-")}, name="vault")
        self.clock = _Clock()
        self.fingerprinter = Fingerprinter(key_path=stage.folder / "fingerprint.key")
        self.manager = SecretsManager(
            [
                EnvironmentSecretProvider(self.environ),
                self.managed,
                ConfigFileSecretProvider(config.path),
            ],
            cache=ResolutionCache(300, clock=self.clock, jitter=lambda: 0.0),
            fingerprinter=self.fingerprinter,
        )


def _the_chain(stage: Stage) -> _Chain:
    return stage.shared("chain", lambda: _Chain(stage))


def _rows(stage: Stage, resolutions: list[Resolution], *extra: str) -> None:
    rows = [
        {
            "provider": r.provider,
            "outcome": r.outcome.value,
            "source": r.source,
            "locator": stage.short(r.locator),
            "fingerprint": r.fingerprint.split(":", 1)[1][:12] if r.fingerprint else None,
            "cache_hit": r.cache_hit,
            "stale": r.stale,
        }
        for r in resolutions
    ]
    table(rows, (*_COLUMNS, *extra))


def precedence(stage: Stage) -> None:
    chain = _the_chain(stage)
    stage.step(
        "Precedence and provenance",
        "The chain: an explicit api_key=, then the environment, then a managed source (an "
        "in-memory stand-in named vault), then AbstractCore's config file. Each provider is "
        "asked for once.",
    )
    manager = chain.manager
    _rows(
        stage,
        [
            manager.resolve("portkey", api_key=fake_key("demokey-explicit-")),
            manager.resolve("openai"),
            manager.resolve("huggingface"),
            manager.resolve("openrouter"),
            manager.resolve("anthropic"),
            manager.resolve("mistral"),
        ],
    )
    proof(
        "portkey came from the parameter, before any source; openai from the environment "
        "although the config file has an openai key too (env comes first); huggingface from "
        "HF_TOKEN, an alias of HUGGINGFACE_TOKEN; openrouter from the managed source; "
        "anthropic only from the config file; mistral from nowhere: not_found, which is no "
        "error. Every answer names its source and where in it (the locator)."
    )


def caching(stage: Stage) -> None:
    chain = _the_chain(stage)
    stage.step(
        "Caching and rotation",
        "The managed source's key is rotated. The cached key is served until the cache is "
        "told (invalidate(), what a client does on a 401) or its 300 s run out.",
    )
    manager = chain.manager
    before = manager.resolve("openrouter")
    chain.managed.set("openrouter", fake_key("demokey-or-rotated-"))
    cached = manager.resolve("openrouter")
    manager.invalidate("openrouter")
    after = manager.resolve("openrouter")
    _rows(stage, [before, cached, after], "cache_hit")
    proof(
        "the first two rows are the same fingerprint, the second a cache hit (the source "
        "was not asked); after invalidate() the third is fetched again and its fingerprint "
        f"changed: the rotated key. The source was asked {chain.managed.fetches} times in all."
    )


def outage(stage: Stage) -> None:
    chain = _the_chain(stage)
    stage.step(
        "An outage: the last good key, marked stale",
        "The managed source goes down (every fetch fails as unavailable) and the cached key "
        "is past its refresh time.",
    )
    down = FailingSecretProvider(SourceUnavailableError("demo outage"), name="vault")
    during = SecretsManager([down], cache=chain.manager.cache, fingerprinter=chain.fingerprinter)
    chain.clock.now += 300
    _rows(stage, [during.resolve("openrouter")], "cache_hit", "stale")
    proof(
        "the answer is the key cached before the outage (same fingerprint as the last row "
        "above), flagged stale: the application keeps working, and the flag (and its "
        "audit event, metric and span) tells that a source is down."
    )


class _Flaky(SecretProvider):
    """A source whose first ``failures`` fetches fail as unavailable, then answer."""

    name = "vault"

    def __init__(self, failures: int, keys: dict[str, str]) -> None:
        self.failures = failures
        self.keys = keys

    def get_secret(self, key: str) -> str | None:
        if self.failures > 0:
            self.failures -= 1
            raise SourceUnavailableError("demo: 503 from the server")
        return self.keys.get(key)


def resilience(stage: Stage) -> None:
    stage.step(
        "Retries and the circuit breaker",
        "A source that fails twice and then answers is retried (3 tries, with backoff); a "
        "source that keeps failing opens its circuit breaker after 3 failed resolutions, "
        "after which it is not called at all until its reset time.",
    )
    retry = RetryPolicy(attempts=3, wait_initial=0.01, wait_jitter=0.0)
    flaky = _Flaky(2, {"openrouter": fake_key("demokey-or-")})
    guarded = SecretsManager(
        [flaky], attempt_middleware=[Resilience(retry, failure_threshold=3)], cache=None
    )
    found = guarded.resolve("openrouter")
    broken = FailingSecretProvider(SourceUnavailableError("demo: connection refused"), name="vault")
    breaker = Resilience(RetryPolicy(attempts=1), failure_threshold=3, reset_timeout=60)
    failing = SecretsManager([broken], attempt_middleware=[breaker], cache=None)
    rows = []
    for number in range(1, 6):
        resolution = failing.resolve("openrouter")
        attempt = resolution.attempts[0]
        rows.append(
            {
                "resolution": number,
                "outcome": resolution.outcome.value,
                "error": attempt.error_type,
                "calls": broken.fetches,
            }
        )
    first = found.attempts[0]
    say(f"flaky source: {found.outcome.value} after {first.tries} tries")
    table(rows, ("resolution", "outcome", "error", "calls"))
    proof(
        f"the flaky source answered on try {first.tries}. The broken one was called for the "
        "first 3 resolutions only: the calls column stops growing once the breaker is open, "
        "and the later resolutions fail at once, without waiting on a dead server."
    )


def fail_closed(stage: Stage) -> None:
    chain = _the_chain(stage)
    stage.step(
        "Fail closed",
        "The managed source answers 403 (the token was revoked), while the config file "
        "below it still holds an anthropic key.",
    )
    denying = FailingSecretProvider(SourceForbiddenError("demo: token revoked"), name="vault")
    strict = SecretsManager(
        [denying, ConfigFileSecretProvider(chain.config.path)],
        cache=None,
        fingerprinter=chain.fingerprinter,
    )
    denied = strict.resolve("anthropic")
    _rows(stage, [denied])
    proof(
        f"denied, and the sources asked were {[a.source for a in denied.attempts]}: a source "
        "that refuses access stops the chain, so a revoked key is never replaced by an "
        "older one from a file."
    )


def insecure_file(stage: Stage) -> None:
    chain = _the_chain(stage)
    stage.step(
        "A key file others can read is refused",
        "The config file (which holds keys) is made readable by everyone (chmod 644).",
    )
    chain.config.path.chmod(0o644)
    chain.manager.invalidate()
    refused = chain.manager.resolve("anthropic")
    error = str(refused.error).replace(f"{stage.folder}/config/", "")
    say(f"{refused.outcome.value}: {error}", indent="  ")
    chain.config.path.chmod(0o600)
    _rows(stage, [chain.manager.resolve("anthropic")])
    proof(
        "the key was not served while the file was readable by others, and the message "
        "names the fix; after chmod 600 the same file answers again."
    )


STEPS: tuple[Step, ...] = (
    precedence,
    caching,
    outage,
    resilience,
    fail_closed,
    insecure_file,
)
