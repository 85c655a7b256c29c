"""Corrupt documents and wrongly typed answers from real servers: invalid, failing closed.

A corrupt JSON secret in AWS, or an answer of the wrong JSON shape from Vault or AWS, must
never be served whole as a key, read as "not found", nor counted as an outage: each is an
``invalid`` attempt that stops the chain before the config file, leaves the source's circuit
closed, and names no part of the document in its error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import Chain

from abstractcore_secrets import (
    AWSSecretsProvider,
    Outcome,
    VaultSecretProvider,
)
from abstractcore_secrets.resilience import CircuitState
from abstractcore_secrets.testing import FaultProxy
from abstractcore_secrets.testing.canary import canary, exception_texts, find_leaks

pytestmark = pytest.mark.server

AWS_JSON = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "hostile-1"}
VAULT_JSON = {"Content-Type": "application/json"}


def assert_fails_closed(chain: Chain, planted: str) -> None:
    """Assert an invalid resolution that stops at the source, counts no outage, leaks nothing."""
    resolution = chain.resolve()
    assert resolution.outcome is Outcome.ERROR
    assert resolution.value is None
    assert [(a.source, a.outcome, a.error_type) for a in resolution.attempts] == [
        (chain.source.name, Outcome.ERROR, "invalid")
    ]
    assert resolution.error is not None
    breaker = chain.resilience.breaker(chain.source.name)
    assert breaker.state is CircuitState.CLOSED
    texts = [repr(resolution), str(resolution.error), *exception_texts(resolution.error)]
    assert find_leaks(texts, [planted]) == []


@pytest.fixture
def aws_source(moto_server, aws_admin) -> AWSSecretsProvider:
    """The AWS source straight on moto (aws_admin creates and cleans up its secrets)."""
    return AWSSecretsProvider(endpoint_url=moto_server)


@pytest.fixture
def aws_proxy(moto_server, aws_credentials) -> Iterator[FaultProxy]:
    """A fault proxy in front of moto, to answer GetSecretValue with a crafted body."""
    with FaultProxy(moto_server) as proxy:
        yield proxy


@pytest.fixture
def vault_proxy(openbao) -> Iterator[FaultProxy]:
    """A fault proxy in front of OpenBao, to answer KV reads with a crafted body."""
    with FaultProxy(openbao.address) as proxy:
        yield proxy


CORRUPT_JSON = {
    "missing-closing-brace": '{{"openai":"{value}"',
    "trailing-comma": '{{"openai":"{value}",}}',
    "leading-space-then-corrupt": '  {{"openai":"{value}",}}',
    "unclosed-array": '["{value}"',
    "array-not-object": '["{value}"]',
    "single-quotes": "{{'openai':'{value}'}}",
    "nested-too-deep": "[" * 100_000 + '"{value}"' + "]" * 99_999,
}


class TestCorruptAWSSecret:
    @pytest.mark.parametrize("template", CORRUPT_JSON.values(), ids=CORRUPT_JSON.keys())
    def test_corrupt_json_string_is_invalid_not_the_key(
        self, aws_admin, aws_source, chain_of, template
    ):
        """A SecretString that starts as JSON but is no JSON object is never served whole."""
        planted = canary()
        aws_admin.create_secret(
            Name="abstractcore/openai", SecretString=template.format(value=planted)
        )
        assert_fails_closed(chain_of(aws_source), planted)

    def test_corrupt_json_binary_is_invalid_not_the_key(self, aws_admin, aws_source, chain_of):
        """The same holds for a SecretBinary holding a corrupt JSON document."""
        planted = canary()
        document = CORRUPT_JSON["trailing-comma"].format(value=planted)
        aws_admin.create_secret(Name="abstractcore/openai", SecretBinary=document.encode())
        assert_fails_closed(chain_of(aws_source), planted)

    @pytest.mark.parametrize(
        "value",
        ["sk-plain-0123456789", '"sk-quoted"', "sk-ends-with-brace}", "12345"],
        ids=["plain", "quoted", "brace-inside", "digits"],
    )
    def test_plain_string_is_still_the_key(self, aws_admin, aws_source, chain_of, value):
        """A secret that does not start with '{' or '[' is a plain key, served as it is."""
        aws_admin.create_secret(Name="abstractcore/openai", SecretString=value)
        resolution = chain_of(aws_source).resolve()
        assert (resolution.outcome, resolution.source) == (Outcome.FOUND, "aws")
        assert resolution.value is not None
        assert resolution.value.reveal() == value


def _aws_answer(planted: str) -> dict[str, bytes]:
    secret = {"ARN": "arn:aws:secretsmanager:us-east-1:1:secret:abstractcore/openai-x"}
    return {
        name: json.dumps({**secret, "Name": "abstractcore/openai", **fields}).encode()
        for name, fields in {
            "string-is-number": {"SecretString": 12345},
            "string-is-object": {"SecretString": {"openai": planted}},
            "string-is-array": {"SecretString": [planted]},
            "string-is-boolean": {"SecretString": True},
            "binary-not-base64": {"SecretBinary": f"!{planted}!"},
            "binary-is-number": {"SecretBinary": 7},
            "binary-is-object": {"SecretBinary": {"openai": planted}},
            "no-value-at-all": {"VersionId": planted},
        }.items()
    } | {
        "body-is-array": json.dumps([{"SecretString": planted}]).encode(),
        "body-is-string": json.dumps(planted).encode(),
    }


AWS_CASES = list(_aws_answer("x"))


class TestWrongTypesFromAWS:
    @pytest.mark.parametrize("case", AWS_CASES)
    def test_wrongly_typed_answer_is_invalid_not_an_outage(self, aws_proxy, chain_of, case):
        """A GetSecretValue answer of the wrong shape stops the chain as invalid."""
        planted = canary()
        aws_proxy.respond(200, _aws_answer(planted)[case], AWS_JSON)
        source = AWSSecretsProvider(endpoint_url=aws_proxy.address)
        assert_fails_closed(chain_of(source), planted)
        assert aws_proxy.requests == 1  # not retried


def _vault_answers(planted: str) -> dict[str, tuple[int, dict[str, object] | list[object]]]:
    metadata = {"version": 1, "created_time": "2024-01-01T00:00:00Z"}
    return {
        "data-is-array": (2, {"data": [{"openai": planted}]}),
        "data-is-string": (2, {"data": planted}),
        "data-is-null": (2, {"data": None}),
        "data-missing": (2, {"request_id": planted}),
        "inner-data-is-array": (2, {"data": {"data": [planted], "metadata": metadata}}),
        "inner-data-is-string": (2, {"data": {"data": planted, "metadata": metadata}}),
        "inner-data-is-null": (2, {"data": {"data": None, "metadata": metadata}}),
        "metadata-is-string": (2, {"data": {"data": {"openai": "x"}, "metadata": planted}}),
        "version-is-object": (
            2,
            {"data": {"data": {"openai": "x"}, "metadata": {"version": {"v": planted}}}},
        ),
        "kv1-data-is-array": (1, {"data": [planted]}),
        "kv1-data-is-number": (1, {"data": 42}),
        "body-is-array": (2, [{"data": {"data": {"openai": planted}}}]),
    }


VAULT_CASES = list(_vault_answers("x"))


class TestWrongTypesFromVault:
    @pytest.mark.parametrize("case", VAULT_CASES)
    def test_wrongly_typed_answer_is_invalid_not_an_outage(
        self, openbao, vault_proxy, chain_of, case
    ):
        """A KV read answered with the wrong JSON shape stops the chain as invalid."""
        planted = canary()
        kv_version, body = _vault_answers(planted)[case]
        path = "secret/data/abstractcore" if kv_version == 2 else "secret/abstractcore"
        vault_proxy.respond(200, json.dumps(body).encode(), VAULT_JSON, path_contains="/v1/secret/")
        source = VaultSecretProvider(
            vault_proxy.address, openbao.root_token, path, kv_version=kv_version
        )
        assert_fails_closed(chain_of(source), planted)

    @pytest.mark.parametrize(
        "stored",
        [{"openai": 12345}, {"openai": ["x"]}, {"openai": {"k": "x"}}],
        ids=["number", "array", "object"],
    )
    def test_field_of_the_wrong_type_on_the_real_server_is_invalid(self, openbao, chain_of, stored):
        """A field stored in OpenBao as a number, array or object is invalid, not skipped."""
        openbao.put_kv("hostile/abstractcore", stored)
        source = VaultSecretProvider(
            openbao.address, openbao.root_token, "secret/data/hostile/abstractcore"
        )
        assert_fails_closed(chain_of(source), "no-canary-in-this-case")

    def test_well_formed_answer_through_the_proxy_is_served(self, openbao, vault_proxy, chain_of):
        """Without a fault, the proxy passes the real answer, and the key is Vault's."""
        openbao.put_kv("proxied/abstractcore", {"openai": "sk-from-vault"})
        source = VaultSecretProvider(
            vault_proxy.address, openbao.root_token, "secret/data/proxied/abstractcore"
        )
        resolution = chain_of(source).resolve()
        assert (resolution.outcome, resolution.source) == (Outcome.FOUND, "vault")
        assert resolution.value is not None
        assert resolution.value.reveal() == "sk-from-vault"
