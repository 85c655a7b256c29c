"""The middleware contract: composed once, outermost first, around the cache and each attempt."""

from __future__ import annotations

from abstractcore_secrets import Outcome, ResolutionCache, SecretsManager
from abstractcore_secrets.testing import InMemorySecretProvider


class Recorder:
    def __init__(self, name, log):
        self.name, self.log = name, log

    def __call__(self, request, call_next):
        self.log.append(f"{self.name}>{request.provider}")
        result = call_next(request)
        self.log.append(f"{self.name}<{result.outcome.value}")
        return result


class TestMiddleware:
    def test_layers_run_outermost_first_and_see_cache_hits(self, fingerprinter):
        """Resolution layers wrap the cache: the second call is a hit they still observe."""
        log: list[str] = []
        source = InMemorySecretProvider({"openai": "k"})
        manager = SecretsManager(
            [source],
            middleware=[Recorder("outer", log), Recorder("inner", log)],
            cache=ResolutionCache(),
            fingerprinter=fingerprinter,
        )
        manager.resolve("openai")
        manager.resolve("openai")
        assert log == ["outer>openai", "inner>openai", "inner<found", "outer<found"] * 2
        assert source.fetches == 1

    def test_attempt_layers_wrap_each_source_fetch(self, fingerprinter):
        """Attempt layers see every source consulted, with its own outcome."""
        seen = []

        def attempt_layer(request, call_next):
            attempt = call_next(request)
            seen.append((request.source.name, request.provider, attempt.outcome))
            return attempt

        manager = SecretsManager(
            [
                InMemorySecretProvider(name="first"),
                InMemorySecretProvider({"openai": "k"}, name="second"),
            ],
            attempt_middleware=[attempt_layer],
            cache=None,
            fingerprinter=fingerprinter,
        )
        manager.resolve("openai")
        assert seen == [("first", "openai", Outcome.NOT_FOUND), ("second", "openai", Outcome.FOUND)]

    def test_a_layer_may_answer_without_calling_next(self, fingerprinter):
        """A layer owns the call: it may short-circuit the chain."""
        source = InMemorySecretProvider({"openai": "k"})

        def deny_all(request, call_next):
            from abstractcore_secrets import Resolution

            return Resolution(request.provider, Outcome.DENIED)

        manager = SecretsManager(
            [source], middleware=[deny_all], cache=None, fingerprinter=fingerprinter
        )
        assert manager.resolve("openai").outcome is Outcome.DENIED
        assert source.fetches == 0
