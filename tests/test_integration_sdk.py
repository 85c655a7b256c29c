"""The SDK helpers: the openai SDK's callable key, ``SecretsAuth`` for httpx (anthropic's SDK
included), and the 401 rule, against a fake LLM service and a real OpenBao."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from abstractcore_secrets import (
    AuthenticationError,
    ResolutionDeniedError,
    SecretsManager,
    build_secrets_manager,
)
from abstractcore_secrets.audit import principal
from abstractcore_secrets.integrations.anthropic import anthropic_client, async_anthropic_client
from abstractcore_secrets.integrations.httpx import SecretsAuth, credential_header
from abstractcore_secrets.integrations.openai import (
    ApiKey,
    AsyncApiKey,
    async_openai_client,
    openai_client,
)
from abstractcore_secrets.testing import (
    CapturedTelemetry,
    OpenBaoServer,
    capture_audit_events,
    capture_telemetry,
)
from abstractcore_secrets.testing.canary import canary, exception_texts, find_leaks
from abstractcore_secrets.testing.fake_llm import FakeLLMServer

pytestmark = pytest.mark.server

MESSAGES = [{"role": "user", "content": "ping"}]


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    """A fake LLM service on loopback, accepting no key until told."""
    with FakeLLMServer() as server:
        yield server


@dataclass
class Chain:
    """A manager built as applications build it (env, vault, config), with what it emits."""

    manager: SecretsManager
    openbao: OpenBaoServer
    path: str
    telemetry: CapturedTelemetry
    events: list[dict[str, Any]]

    def store(self, provider: str, value: str) -> None:
        """Write (or rotate) ``provider``'s key in Vault."""
        self.openbao.put_kv(self.path, {provider: value})

    def vault_reads(self) -> int:
        """How many times Vault was asked (one ``secrets.lookup`` span each)."""
        return sum(
            1
            for span in self.telemetry.spans()
            if span.name == "secrets.lookup"
            and (span.attributes or {}).get("secrets.source") == "vault"
        )

    def audited(self) -> list[tuple[str, str | None, str | None]]:
        """The resolution and rotation events: (event, source, principal)."""
        return [
            (event["event"], event["source"], (event["user"] or {}).get("id"))
            for event in self.events
            if event["event"] != "secret.accessed"
        ]


@pytest.fixture
def chain(config_path: Path, openbao: OpenBaoServer, monkeypatch) -> Iterator[Chain]:
    """env, vault (a KV path of this test's own), config; telemetry and audit captured."""
    path = f"sdk-{uuid.uuid4().hex[:12]}"
    config_path.parent.mkdir(parents=True)
    settings = {
        "chain": ["env", "vault", "config"],
        "sources": {"vault": {"path": f"secret/data/{path}"}},
    }
    config_path.write_text(json.dumps({"secrets": settings}))
    config_path.chmod(0o600)
    monkeypatch.setenv("VAULT_ADDR", openbao.address)
    monkeypatch.setenv("VAULT_TOKEN", openbao.root_token)
    with capture_telemetry() as telemetry, capture_audit_events() as events:
        manager = build_secrets_manager(telemetry=telemetry.telemetry)
        yield Chain(manager, openbao, path, telemetry, events)
        manager.close()


@pytest.fixture
def closes() -> Iterator[contextlib.ExitStack]:
    """Closes the SDK clients a test opens (their connections), at its end."""
    with contextlib.ExitStack() as stack:
        yield stack


def _chat(client: openai.OpenAI, fake: FakeLLMServer) -> str | None:
    answer = client.chat.completions.create(model=fake.model, messages=MESSAGES)  # type: ignore[arg-type]
    return answer.choices[0].message.content


def _message(client: anthropic.Anthropic, fake: FakeLLMServer) -> str:
    answer = client.messages.create(model=fake.model, max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
    block = answer.content[0]
    assert isinstance(block, anthropic.types.TextBlock)
    return block.text


class TestApiKey:
    def test_each_call_returns_the_chains_key_and_the_repr_names_the_provider(self, chain):
        """The callable returns Vault's key; its repr shows the provider, never the key."""
        chain.store("openai", "sk-vault-first")
        key = ApiKey(manager=chain.manager)
        assert (key(), repr(key)) == ("sk-vault-first", "ApiKey(provider='openai')")

    def test_a_rotated_key_is_retried_once_and_then_used(self, chain, fake, closes):
        """After a rotation, the next request is refused, retried with the new key, and
        later requests carry the new key from the start."""
        chain.store("openai", "sk-old")
        fake.accept("sk-old")
        client = closes.enter_context(
            openai_client(manager=chain.manager, base_url=fake.base_url, max_retries=0)
        )
        assert _chat(client, fake) == "pong"
        chain.store("openai", "sk-new")
        fake.accept("sk-new")
        assert _chat(client, fake) == "pong"
        assert _chat(client, fake) == "pong"
        assert [(r.status, r.key) for r in fake.requests] == [
            (200, "sk-old"),
            (401, "sk-old"),
            (200, "sk-new"),
            (200, "sk-new"),
        ]
        assert fake.requests[1].body == fake.requests[2].body == fake.requests[0].body

    def test_a_refused_key_its_source_still_holds_is_returned_as_is(self, chain, fake, closes):
        """Revoked, not rotated: Vault is asked once more, gives the same key, and the 401
        reaches the caller without a second request."""
        chain.store("openai", "sk-revoked")
        client = closes.enter_context(
            openai_client(manager=chain.manager, base_url=fake.base_url, max_retries=0)
        )
        with pytest.raises(openai.AuthenticationError):
            _chat(client, fake)
        assert (fake.statuses(), chain.vault_reads()) == ([401], 2)

    def test_a_new_key_that_is_refused_too_is_not_retried_again(self, chain, fake, closes):
        """One retry per request: the second 401 is returned as it is."""
        chain.store("openai", "sk-one")
        client = closes.enter_context(
            openai_client(manager=chain.manager, base_url=fake.base_url, max_retries=0)
        )
        chain.manager.get_api_key("openai")  # cached
        chain.store("openai", "sk-two")
        with pytest.raises(openai.AuthenticationError):
            _chat(client, fake)
        assert [(r.status, r.key) for r in fake.requests] == [(401, "sk-one"), (401, "sk-two")]

    def test_a_key_confirmed_refused_is_not_rechecked_at_its_source_within_the_interval(
        self, chain, fake, closes
    ):
        """A storm of 401s with a revoked key costs one Vault read, not one per request."""
        chain.store("openai", "sk-revoked")
        client = closes.enter_context(
            openai_client(manager=chain.manager, base_url=fake.base_url, max_retries=0)
        )
        for _ in range(5):
            with pytest.raises(openai.AuthenticationError):
                _chat(client, fake)
        assert (fake.statuses(), chain.vault_reads()) == ([401] * 5, 2)

    def test_the_async_client_follows_a_rotation(self, chain, fake):
        """AsyncOpenAI awaits the key from a worker thread and applies the same rule."""
        chain.store("openai", "sk-old")
        fake.accept("sk-old")

        async def two_chats() -> list[str | None]:
            client = async_openai_client(
                manager=chain.manager, base_url=fake.base_url, max_retries=0
            )
            answers = []
            for rotate in (False, True):
                if rotate:
                    chain.store("openai", "sk-new")
                    fake.accept("sk-new")
                answer = await client.chat.completions.create(model=fake.model, messages=MESSAGES)  # type: ignore[arg-type]
                answers.append(answer.choices[0].message.content)
            await client.close()
            return answers

        assert asyncio.run(two_chats()) == ["pong", "pong"]
        assert fake.statuses() == [200, 401, 200]

    def test_no_key_anywhere_fails_before_any_request_and_says_where_it_looked(
        self, chain, fake, closes
    ):
        """The callable raises AuthenticationError naming the places, not a value."""
        client = closes.enter_context(
            openai_client(manager=chain.manager, base_url=fake.base_url, max_retries=0)
        )
        with pytest.raises(AuthenticationError) as raised:
            _chat(client, fake)
        message = str(raised.value)
        assert "env:OPENAI_API_KEY" in message
        assert "vault:secret/" in message
        assert "abstractcore-secrets set-key openai" in message
        assert fake.requests == []

    def test_a_vault_that_refuses_fails_closed_and_the_config_file_is_not_used(
        self, chain, fake, config_path, monkeypatch, closes
    ):
        """A revoked Vault token denies the key: nothing is sent, the file's key unused."""
        document = json.loads(config_path.read_text())
        config_path.write_text(json.dumps({**document, "api_keys": {"openai": "sk-file"}}))
        monkeypatch.setenv("VAULT_TOKEN", "not-a-token")
        manager = build_secrets_manager()
        fake.accept("sk-file")
        client = closes.enter_context(
            openai_client(manager=manager, base_url=fake.base_url, max_retries=0)
        )
        with pytest.raises(ResolutionDeniedError):
            _chat(client, fake)
        assert fake.requests == []

    def test_openai_client_keeps_a_given_http_client_and_passes_options_on(
        self, chain, fake, closes
    ):
        """A given http_client is used, with the rule's auth; other options reach the SDK."""
        chain.store("openai", "sk-given")
        fake.accept("sk-given")
        given = httpx.Client()
        client = closes.enter_context(
            openai_client(
                manager=chain.manager, base_url=fake.base_url, http_client=given, max_retries=0
            )
        )
        assert (client.max_retries, repr(given.auth)) == (
            0,
            "RefusalOnlyAuth(provider='openai', header='Authorization')",
        )
        assert _chat(client, fake) == "pong"

    def test_the_callable_works_alone_with_the_sdks_own_client(self, chain, fake, closes):
        """Without the auth, a rotation reaches the client once the cache is refreshed."""
        chain.store("openai", "sk-alone")
        fake.accept("sk-alone")
        client = closes.enter_context(
            openai.OpenAI(
                api_key=ApiKey(manager=chain.manager), base_url=fake.base_url, max_retries=0
            )
        )
        assert _chat(client, fake) == "pong"
        chain.store("openai", "sk-alone-2")
        fake.accept("sk-alone-2")
        chain.manager.invalidate("openai")
        assert _chat(client, fake) == "pong"


class TestSecretsAuth:
    def test_anthropic_sends_the_chains_key_as_x_api_key_and_follows_a_rotation(
        self, chain, fake, closes
    ):
        """The anthropic SDK, through SecretsAuth: x-api-key, and the 401 rule."""
        chain.store("anthropic", "sk-ant-old")
        fake.accept("sk-ant-old")
        client = closes.enter_context(
            anthropic_client(manager=chain.manager, base_url=fake.url, max_retries=0)
        )
        assert _message(client, fake) == "pong"
        chain.store("anthropic", "sk-ant-new")
        fake.accept("sk-ant-new")
        assert _message(client, fake) == "pong"
        assert [(r.status, r.header, r.key) for r in fake.requests] == [
            (200, "x-api-key", "sk-ant-old"),
            (401, "x-api-key", "sk-ant-old"),
            (200, "x-api-key", "sk-ant-new"),
        ]

    def test_async_anthropic_follows_a_rotation(self, chain, fake):
        """AsyncAnthropic on an AsyncClient: the chain is asked off the event loop."""
        chain.store("anthropic", "sk-ant-old")
        fake.accept("sk-ant-old")
        client = async_anthropic_client(manager=chain.manager, base_url=fake.url, max_retries=0)

        async def two_messages() -> None:
            for rotate in (False, True):
                if rotate:
                    chain.store("anthropic", "sk-ant-new")
                    fake.accept("sk-ant-new")
                await client.messages.create(model=fake.model, max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
            await client.close()

        asyncio.run(two_messages())
        assert fake.statuses() == [200, 401, 200]

    def test_anthropic_client_fails_at_creation_without_a_key(self, chain, fake):
        """No key: the helper raises now, not at the first request."""
        with pytest.raises(AuthenticationError, match="anthropic: no API key found"):
            anthropic_client(manager=chain.manager, base_url=fake.url)

    def test_a_plain_httpx_client_sends_a_bearer_header_and_the_same_body_twice(self, chain, fake):
        """Any httpx caller: the retry after a rotation re-sends the request body as is."""
        chain.store("openai", "sk-h-old")
        fake.accept("sk-h-old")
        with httpx.Client(auth=SecretsAuth("openai", manager=chain.manager)) as client:
            client.get(f"{fake.base_url}/models").raise_for_status()
            chain.store("openai", "sk-h-new")
            fake.accept("sk-h-new")
            body = {"model": fake.model, "messages": MESSAGES}
            response = client.post(f"{fake.base_url}/chat/completions", json=body)
        assert response.status_code == 200
        assert [(r.status, r.header, r.body) for r in fake.requests] == [
            (200, "authorization", None),
            (401, "authorization", body),
            (200, "authorization", body),
        ]

    def test_the_header_and_scheme_can_be_chosen(self, chain, fake):
        """header= sets another header; without scheme=, the key goes alone."""
        chain.store("openai", "sk-custom-header")
        fake.accept("sk-custom-header")
        auth = SecretsAuth("openai", manager=chain.manager, header="x-api-key")
        with httpx.Client(auth=auth) as client:
            response = client.post(f"{fake.url}/v1/messages", json={"model": fake.model})
        assert (response.status_code, fake.requests[0].header) == (200, "x-api-key")

    @pytest.mark.parametrize(
        ("provider", "expected"),
        [
            ("anthropic", ("x-api-key", None)),
            ("openai", ("Authorization", "Bearer")),
            ("openrouter", ("Authorization", "Bearer")),
        ],
    )
    def test_each_provider_has_its_header(self, provider, expected):
        assert credential_header(provider) == expected

    def test_on_rotate_receives_the_new_resolution(self, chain, fake):
        """The hook sees where the new key came from: Vault, a newer version."""
        seen = []
        chain.store("openai", "sk-hook-old")
        chain.manager.get_api_key("openai")
        chain.store("openai", "sk-hook-new")
        fake.accept("sk-hook-new")
        auth = SecretsAuth("openai", manager=chain.manager, on_rotate=seen.append)
        with httpx.Client(auth=auth) as client:
            assert client.get(f"{fake.base_url}/models").status_code == 200
        assert [(r.source, r.version) for r in seen] == [("vault", "2")]

    def test_a_broken_on_rotate_hook_never_breaks_the_request(self, chain, fake, caplog):
        """The hook's failure is logged by type only; the retry goes on."""

        def broken(resolution: object) -> None:
            raise RuntimeError(f"hook saw {resolution!r} and sk-in-the-message")

        chain.store("openai", "sk-b-old")
        chain.manager.get_api_key("openai")
        chain.store("openai", "sk-b-new")
        fake.accept("sk-b-new")
        auth = SecretsAuth("openai", manager=chain.manager, on_rotate=broken)
        with caplog.at_level(logging.WARNING), httpx.Client(auth=auth) as client:
            assert client.get(f"{fake.base_url}/models").status_code == 200
        assert [r.getMessage() for r in caplog.records] == ["on_rotate hook failed (RuntimeError)"]


class TestAuditAndTelemetry:
    def test_requests_are_audited_for_the_principal_and_a_rotation_is_recorded(
        self, chain, fake, closes
    ):
        """Each key served is audited with the principal; the rotation shows as such."""
        chain.store("openai", "sk-audit-old")
        fake.accept("sk-audit-old")
        client = closes.enter_context(
            openai_client(manager=chain.manager, base_url=fake.base_url, max_retries=0)
        )
        with principal("alice"):
            _chat(client, fake)
            chain.store("openai", "sk-audit-new")
            fake.accept("sk-audit-new")
            _chat(client, fake)
        assert chain.audited() == [
            ("secret.resolved", "vault", "alice"),
            ("secret.resolved", "vault", "alice"),
            ("secret.rotated", "vault", "alice"),
        ]
        rotated = chain.events[-1]
        assert rotated["previous_fingerprint"] == chain.events[0]["fingerprint"]
        assert rotated["fingerprint"] != rotated["previous_fingerprint"]
        resolves = [s for s in chain.telemetry.spans() if s.name == "secrets.resolve"]
        assert {
            (
                attributes.get("secrets.provider"),
                attributes.get("secrets.source"),
                attributes.get("enduser.id"),
            )
            for attributes in (span.attributes or {} for span in resolves)
        } == {("openai", "vault", "alice")}


def _raised(call: Callable[[], object]) -> BaseException:
    """Call, and return what it raised: caught here, so that the traceback's frames (and
    their locals) are the code's, not a test's holding the canaries."""
    try:
        call()
    except Exception as error:  # noqa: BLE001 - whatever it is, it is searched
        return error
    raise AssertionError("the call did not raise")


class TestNoValueLeaks:
    def test_canary_keys_never_reach_logs_output_spans_events_reprs_or_errors(
        self, chain, fake, caplog, capfd, closes
    ):
        """A full life: use, rotation, revocation, a missing key; with every logger at DEBUG,
        nothing emitted holds either key or any encoding of it."""
        old, new = canary(), canary()
        chain.store("openai", old)
        fake.accept(old)
        texts: list[str] = []
        key, auth = ApiKey(manager=chain.manager), SecretsAuth("openai", manager=chain.manager)
        with caplog.at_level(logging.DEBUG):
            client = closes.enter_context(
                openai_client(manager=chain.manager, base_url=fake.base_url, max_retries=0)
            )
            with principal("alice"):
                _chat(client, fake)
                chain.store("openai", new)
                fake.accept(new)
                _chat(client, fake)
                fake.accept()
                texts += exception_texts(_raised(lambda: _chat(client, fake)))
                texts += exception_texts(_raised(ApiKey("groq", manager=chain.manager)))
        resolution = chain.manager.resolve("openai")
        texts += [repr(x) for x in (key, auth, client, resolution, *resolution.attempts)]
        texts += [str(resolution), caplog.text, *capfd.readouterr()]
        texts += [json.dumps(event, default=str) for event in chain.events]
        for span in chain.telemetry.spans():
            texts.append(span.to_json())
        for record in chain.telemetry.logs():
            texts += [str(record.body), json.dumps(dict(record.attributes or {}), default=str)]
        assert fake.statuses() == [200, 401, 200, 401]
        assert chain.events, "the audit trail is part of what is searched"
        assert find_leaks(texts, [old, new]) == []


class TestImports:
    def test_the_package_and_its_integrations_package_load_no_sdk(self):
        """import abstractcore_secrets(.integrations) loads no AbstractCore, openai,
        anthropic or httpx; each integration module loads its own library only."""
        code = (
            "import sys, abstractcore_secrets, abstractcore_secrets.integrations\n"
            "sdks = ('abstractcore', 'openai', 'anthropic', 'httpx', 'httpcore')\n"
            "def loaded(): return sorted({m.split('.')[0] for m in sys.modules} & set(sdks))\n"
            "print(loaded())\n"
            "import abstractcore_secrets.integrations.httpx\n"
            "print(loaded())\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.stdout.splitlines() == ["[]", "['httpx']"], result.stderr

    @pytest.mark.parametrize(
        ("blocked", "statement", "message"),
        [
            (
                "httpx",
                "import abstractcore_secrets.integrations.httpx",
                "httpx is not installed; run: pip install 'abstractcore-secrets[httpx]'",
            ),
            (
                "openai",
                "from abstractcore_secrets.integrations.openai import openai_client\n"
                "openai_client()",
                "openai is not installed; run: pip install 'abstractcore-secrets[openai]'",
            ),
            (
                "anthropic",
                "from abstractcore_secrets.integrations.anthropic import anthropic_client\n"
                "anthropic_client()",
                "anthropic is not installed; run: pip install 'abstractcore-secrets[anthropic]'",
            ),
            (
                "abstractcore",
                "from abstractcore_secrets.integrations.abstractcore import install\ninstall()",
                "abstractcore is not installed; run: "
                "pip install 'abstractcore-secrets[abstractcore]'",
            ),
        ],
        ids=["httpx", "openai", "anthropic", "abstractcore"],
    )
    def test_a_missing_library_names_the_extra_to_install(self, blocked, statement, message):
        code = (
            f"import sys; sys.modules[{blocked!r}] = None\n"
            "from abstractcore_secrets import MissingDependencyError\n"
            f"try:\n{textwrap.indent(statement, '    ')}\n"
            "except MissingDependencyError as error:\n    print(error)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.stdout.strip() == message, result.stderr

    def test_the_async_key_is_a_coroutine_function(self):
        """AsyncOpenAI awaits the key: the async callable is one."""
        assert asyncio.iscoroutinefunction(AsyncApiKey().__call__)
