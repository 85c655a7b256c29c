"""The SDK helpers against hostile services, keys and names: the 401 rule never loops, a
stalled or garbled answer is the caller's as it came, and no key is echoed."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from abstractcore_secrets import (
    ConfigurationError,
    InvalidSourceError,
    ResolutionError,
    SecretsManager,
)
from abstractcore_secrets.integrations.anthropic import anthropic_client
from abstractcore_secrets.integrations.httpx import SecretsAuth
from abstractcore_secrets.integrations.openai import ApiKey, openai_client
from abstractcore_secrets.testing import InMemorySecretProvider
from abstractcore_secrets.testing.canary import canary, exception_texts, find_leaks
from abstractcore_secrets.testing.fake_llm import FakeLLMServer

pytestmark = pytest.mark.server

MESSAGES = [{"role": "user", "content": "ping"}]


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def source() -> InMemorySecretProvider:
    """A remote-like source (its values cached) holding openai's key; it counts fetches."""
    return InMemorySecretProvider({"openai": "sk-first"})


@pytest.fixture
def manager(source) -> Iterator[SecretsManager]:
    with SecretsManager([source]) as built:
        yield built


@pytest.fixture
def closes() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as stack:
        yield stack


def _client(manager: SecretsManager, fake: FakeLLMServer, **options) -> openai.OpenAI:
    return openai_client(manager=manager, base_url=fake.base_url, max_retries=0, **options)


def _chat(client: openai.OpenAI, fake: FakeLLMServer) -> object:
    return client.chat.completions.create(model=fake.model, messages=MESSAGES)  # type: ignore[arg-type]


def _raised(call) -> BaseException:
    """Call, and return what it raised (caught here: no test frame holding a key)."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - whatever it is, it is searched
        return error
    raise AssertionError("the call did not raise")


class TestHostileServices:
    def test_a_service_that_refuses_every_key_gets_two_requests_per_call_at_most(
        self, manager, source, fake, closes
    ):
        """Even when every retry brings a new key, a call ends after one retry."""
        client = closes.enter_context(_client(manager, fake))
        manager.get_api_key("openai")
        for rotation in range(3):
            source.set("openai", f"sk-rotated-{rotation}")
            with pytest.raises(openai.AuthenticationError):
                _chat(client, fake)
        assert fake.statuses() == [401] * 6
        assert source.fetches == 4  # the first read, then one per 401 that found a new key

    def test_a_garbled_401_body_still_applies_the_rule(self, manager, source, fake, closes):
        """The rule reads the status only: a 401 whose body is not even UTF-8 still rotates."""
        client = closes.enter_context(_client(manager, fake))
        manager.get_api_key("openai")
        source.set("openai", "sk-second")
        fake.accept("sk-second")
        fake.answer(401, b"\xff\xfe\x00<garbage>", before_auth=True)
        _chat(client, fake)
        assert fake.statuses() == [401, 200]

    def test_a_garbled_200_is_the_callers_and_is_not_retried(self, manager, fake, closes):
        """A 200 the SDK cannot parse is not the rule's business: one request."""
        fake.accept("sk-first")
        fake.answer(200, b"\x00not json", headers={"Content-Type": "application/json"})
        client = closes.enter_context(_client(manager, fake))
        error = _raised(lambda: _chat(client, fake))
        assert isinstance(error, (openai.APIError, ValueError))
        assert fake.statuses() == [200]

    def test_a_retry_that_stalls_times_out_once_and_is_not_retried_again(
        self, manager, source, fake, closes
    ):
        """The retry's stall ends at the client's timeout, and the call ends there."""
        client = closes.enter_context(_client(manager, fake, timeout=1.0))
        manager.get_api_key("openai")
        source.set("openai", "sk-second")
        fake.accept("sk-second")
        fake.stall(30, times=None)
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            _chat(client, fake)
        assert time.monotonic() - started < 2.5

    def test_concurrent_refusals_re_read_the_source_once(self, manager, source, fake):
        """Eight requests refused at once with the old key: one fresh read serves them all."""
        manager.get_api_key("openai")
        source.set("openai", "sk-second")
        fake.accept("sk-second")
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def call() -> None:
            try:
                with _client(manager, fake) as client:
                    barrier.wait()
                    _chat(client, fake)
            except Exception as error:  # noqa: BLE001 - collected for the assert
                errors.append(error)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert fake.statuses().count(200) == 8
        assert source.fetches == 2

    def test_a_source_that_fails_on_the_recheck_leaves_the_401_as_it_came(self, fake, closes):
        """Vault down right after a 401: the 401 is returned, no exception from the auth."""
        source = InMemorySecretProvider({"openai": "sk-first"})
        manager = SecretsManager([source])
        client = closes.enter_context(_client(manager, fake))
        manager.get_api_key("openai")
        source.delete("openai")  # the recheck finds nothing: revoked and removed
        with pytest.raises(openai.AuthenticationError):
            _chat(client, fake)
        assert fake.statuses() == [401]


class TestRedirects:
    @pytest.mark.parametrize("sdk", ["openai", "anthropic"])
    def test_a_redirect_to_another_host_never_carries_the_key(self, fake, closes, sdk):
        """A service (or a proxy in front) redirecting to another host gets the key
        nowhere: the Authorization header is dropped by httpx, x-api-key is not followed."""
        key = canary()
        manager = SecretsManager([InMemorySecretProvider({sdk: key})])
        fake.accept(key)
        with FakeLLMServer() as elsewhere:
            path = "/v1/messages" if sdk == "anthropic" else "/v1/chat/completions"
            fake.answer(307, headers={"Location": elsewhere.url + path}, before_auth=True)
            if sdk == "anthropic":
                client = closes.enter_context(
                    anthropic_client(manager=manager, base_url=fake.url, max_retries=0)
                )
                call = lambda: client.messages.create(  # noqa: E731
                    model=fake.model, max_tokens=8, messages=MESSAGES
                )
            else:
                client = closes.enter_context(_client(manager, fake))
                call = lambda: _chat(client, fake)  # noqa: E731
            with contextlib.suppress(Exception):
                call()
            assert [seen.key for seen in elsewhere.requests] in ([], [None])


class TestRequestsThatCarriedOtherKeys:
    @pytest.mark.parametrize(
        ("presented", "retried"),
        [
            pytest.param("Bearer sk-first", False, id="the chain's key: the 401 stands"),
            pytest.param("bearer sk-first", False, id="scheme in lower case: the same key"),
            pytest.param("Bearer sk-typo", True, id="another key: retried with the chain's"),
            pytest.param("Bearer", True, id="a scheme and no key"),
            pytest.param("Basic c2stZmlyc3Q=", True, id="another scheme"),
            pytest.param("", True, id="empty"),
            pytest.param("Bearer  sk-first", True, id="two spaces: not the same header"),
        ],
    )
    def test_the_key_in_a_refused_request_is_read_safely(self, manager, fake, presented, retried):
        """Whatever the refused request carried, the rule compares it with the chain's key
        and retries only with a different one."""
        if retried:
            fake.accept("sk-first")
        auth = ApiKey(manager=manager).auth
        with httpx.Client(auth=auth) as client:
            client.get(f"{fake.base_url}/models", headers={"Authorization": presented})
        assert fake.statuses() == ([401, 200] if retried else [401])


class TestHostileKeysAndNames:
    @pytest.mark.parametrize(
        "make",
        [
            pytest.param(SecretsAuth, id="SecretsAuth"),
            pytest.param(ApiKey, id="ApiKey"),
            pytest.param(openai_client, id="openai_client"),
        ],
    )
    @pytest.mark.parametrize(
        "name",
        [canary("sk-proj"), canary("sk-ant-api03"), canary().upper()],
        ids=["sk-proj", "sk-ant", "upper-case"],
    )
    def test_a_key_given_as_the_provider_name_is_refused_without_echo(self, make, name):
        """A key pasted where the provider's name belongs never travels further (the frames'
        locals hold it as the caller passed it: as for validate_provider, they are not
        searched)."""
        error = _raised(lambda: make(name))
        assert isinstance(error, ConfigurationError)
        assert find_leaks(exception_texts(error, frame_locals=False), [name]) == []
        # With the frames' locals too: printing a half-built helper (its repr) must work.
        assert exception_texts(error)

    def test_a_value_with_a_line_break_never_becomes_a_header(self, fake, closes):
        """A key holding CR LF (header injection) is refused by the chain: nothing is sent."""
        value = canary() + "\r\nX-Injected: yes"
        manager = SecretsManager([InMemorySecretProvider({"openai": value})])
        client = closes.enter_context(_client(manager, fake))
        error = _raised(lambda: _chat(client, fake))
        assert isinstance(error, ResolutionError)
        assert fake.requests == []
        assert find_leaks(exception_texts(error), [value]) == []

    @pytest.mark.parametrize(
        "value",
        [canary() + "\u2013dash", "sk-\u00e9" + canary(), canary() + "\u200b"],
        ids=["en dash", "accented", "zero-width space"],
    )
    @pytest.mark.parametrize("path", ["callable key", "SecretsAuth"])
    def test_a_key_no_header_can_carry_fails_without_echo(self, fake, closes, value, path):
        """Characters beyond ASCII (a rich-text paste): refused before the HTTP client,
        whose own error would quote the whole value in its repr."""
        manager = SecretsManager([InMemorySecretProvider({"openai": value})])
        if path == "callable key":
            client = closes.enter_context(_client(manager, fake))
            error = _raised(lambda: _chat(client, fake))
        else:
            http = closes.enter_context(httpx.Client(auth=SecretsAuth("openai", manager=manager)))
            error = _raised(lambda: http.get(f"{fake.base_url}/models"))
        assert isinstance(error, (InvalidSourceError, ResolutionError))
        assert "beyond ASCII" in str(error) or "whitespace or control" in str(error)
        assert fake.requests == []
        assert find_leaks(exception_texts(error), [value]) == []

    def test_a_refusal_for_one_provider_leaves_anothers_key_cached(self, fake, closes):
        """Two providers, one chain: a refusal for one never invalidates the other's key."""
        fake.accept("sk-first")
        both = InMemorySecretProvider({"openai": "sk-first", "groq": "sk-groq"})
        shared = SecretsManager([both])
        openai_one = closes.enter_context(
            openai_client(manager=shared, base_url=fake.base_url, max_retries=0)
        )
        groq = closes.enter_context(
            openai_client("groq", manager=shared, base_url=fake.base_url, max_retries=0)
        )
        _chat(openai_one, fake)
        with pytest.raises(openai.AuthenticationError):
            _chat(groq, fake)
        _chat(openai_one, fake)
        assert fake.statuses() == [200, 401, 200]
        assert both.fetches == 3  # openai once, groq twice (read, recheck)
