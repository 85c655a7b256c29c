"""AWSSecretsProvider against moto's AWS server."""

from __future__ import annotations

import json
import time

import pytest

from abstractcore_secrets import (
    AWSSecretsProvider,
    ConfigurationError,
    InvalidSourceError,
    SourceForbiddenError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
)
from abstractcore_secrets.testing import FaultProxy

pytestmark = pytest.mark.server


@pytest.fixture
def source(moto_server, aws_credentials):
    with AWSSecretsProvider(endpoint_url=moto_server) as provider:
        yield provider


class TestAWSSecretsProvider:
    def test_proposals_secret_id(self, aws_admin, source):
        """abstractcore/{provider} holding a plain string is the key."""
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="sk-aws-plain")
        assert source.get_secret("openai") == "sk-aws-plain"

    def test_record_carries_version_and_request_id(self, aws_admin, source):
        """The read reports the secret id, its VersionId and AWS's request id."""
        created = aws_admin.create_secret(Name="abstractcore/anthropic", SecretString="k1")
        record = source.fetch("anthropic")
        assert record is not None
        assert (record.locator, record.version) == (
            "aws:abstractcore/anthropic",
            created["VersionId"],
        )
        assert record.request_id

    def test_missing_secret_is_not_found(self, source):
        """ResourceNotFoundException means not here."""
        assert source.fetch("mistral") is None

    def test_json_secret_field_by_provider_name(self, aws_admin, source):
        """A JSON object secret holds the key under the provider's name."""
        aws_admin.create_secret(
            Name="abstractcore/groq", SecretString=json.dumps({"groq": "sk-groq-json", "note": "x"})
        )
        assert source.get_secret("groq") == "sk-groq-json"

    def test_json_secret_with_configured_field_and_template(self, aws_admin, moto_server):
        """A template and a field name select one JSON field of a shared secret."""
        aws_admin.create_secret(
            Name="prod/llm/openai", SecretString=json.dumps({"api_key": "sk-field"})
        )
        source = AWSSecretsProvider(
            endpoint_url=moto_server, field="api_key", secret_id_template="prod/llm/{provider}"
        )
        record = source.fetch("openai")
        assert record is not None
        assert (record.secret.reveal(), record.locator) == (
            "sk-field",
            "aws:prod/llm/openai#api_key",
        )

    def test_json_without_the_field_is_invalid_naming_the_fields(self, aws_admin, source):
        """A JSON secret lacking the field is an error listing field names, not values."""
        aws_admin.create_secret(
            Name="abstractcore/vllm", SecretString=json.dumps({"other": "sk-do-not-show"})
        )
        with pytest.raises(
            InvalidSourceError, match=r"no field 'vllm' \(fields: \['other'\]\)"
        ) as caught:
            source.fetch("vllm")
        assert "sk-do-not-show" not in str(caught.value)

    @pytest.mark.parametrize(
        "stored_as_name",
        ["sk-proj-" + "Ab3" * 14, "0123456789abcdef0123456789abcdef", "fw_" + "x9" * 12],
        ids=["openai", "hex32", "fw"],
    )
    def test_a_key_stored_as_a_field_name_is_not_listed(self, aws_admin, source, stored_as_name):
        """A key pasted as a field's name (not its value) is counted, never printed."""
        aws_admin.create_secret(
            Name="abstractcore/groq",
            SecretString=json.dumps({stored_as_name: "x", "region": "eu"}),
        )
        with pytest.raises(InvalidSourceError) as caught:
            source.fetch("groq")
        assert stored_as_name not in str(caught.value)
        assert "['region'] and 1 not shown: shaped like keys" in str(caught.value)

    def test_binary_secret_is_decoded(self, aws_admin, source):
        """A SecretBinary holding UTF-8 text is read as the key."""
        aws_admin.create_secret(Name="abstractcore/ollama", SecretBinary=b"sk-binary")
        assert source.get_secret("ollama") == "sk-binary"

    def test_version_stage_and_id(self, aws_admin, moto_server):
        """AWSPREVIOUS and a fixed VersionId read older values after a rotation."""
        first = aws_admin.create_secret(Name="abstractcore/portkey", SecretString="old")
        aws_admin.put_secret_value(SecretId="abstractcore/portkey", SecretString="new")
        assert AWSSecretsProvider(endpoint_url=moto_server).get_secret("portkey") == "new"
        previous = AWSSecretsProvider(endpoint_url=moto_server, version_stage="AWSPREVIOUS")
        assert previous.get_secret("portkey") == "old"
        pinned = AWSSecretsProvider(endpoint_url=moto_server, version_id=first["VersionId"])
        assert pinned.get_secret("portkey") == "old"

    def test_template_without_provider_is_refused(self):
        """A template that would read one secret for every provider is a configuration error."""
        with pytest.raises(ConfigurationError, match="must contain"):
            AWSSecretsProvider(secret_id_template="abstractcore/shared")


def _aws_error(code: str, status: int = 400) -> tuple[int, bytes, dict[str, str]]:
    body = json.dumps({"__type": code, "message": f"{code} for the test"}).encode()
    return (
        status,
        body,
        {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "req-" + code},
    )


@pytest.fixture
def proxied(moto_server, aws_credentials):
    with FaultProxy(moto_server) as proxy:
        source = AWSSecretsProvider(endpoint_url=proxy.address, connect_timeout=1, read_timeout=1)
        yield proxy, source
        source.close()


class TestAWSErrors:
    @pytest.mark.parametrize(
        ("code", "status", "error_type"),
        [
            ("AccessDeniedException", 400, SourceForbiddenError),
            ("DecryptionFailure", 400, SourceForbiddenError),
            ("UnrecognizedClientException", 400, SourceUnauthenticatedError),
            ("ExpiredTokenException", 400, SourceUnauthenticatedError),
            ("ThrottlingException", 400, SourceThrottledError),
            ("InternalServiceError", 500, SourceUnavailableError),
            ("InvalidRequestException", 400, InvalidSourceError),
        ],
        ids=lambda value: value if isinstance(value, str) else None,
    )
    def test_error_codes_map_to_categories(self, aws_admin, proxied, code, status, error_type):
        """Each GetSecretValue error code maps to its category with AWS's request id."""
        proxy, source = proxied
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="sk-never-shown")
        proxy.respond(*_aws_error(code, status))
        with pytest.raises(error_type) as caught:
            source.fetch("openai")
        assert caught.value.request_id == "req-" + code
        assert caught.value.locator == "aws:abstractcore/openai"
        assert code in str(caught.value)
        assert "sk-never-shown" not in str(caught.value)
        assert proxy.requests == 1  # one call: botocore's own retries are off

    @pytest.mark.parametrize("status", [502, 503, 504])
    def test_gateway_errors_without_an_aws_body_are_unavailable(self, aws_admin, proxied, status):
        """A load balancer's HTML 5xx is an outage (retried, then fall-through), not invalid."""
        proxy, source = proxied
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="k")
        proxy.respond(status, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})
        with pytest.raises(SourceUnavailableError, match=f"HTTP {status}"):
            source.fetch("openai")

    def test_region_follows_the_environment(self, monkeypatch):
        """With no region= given, AWS_REGION wins over the proposal's us-east-1 default."""
        monkeypatch.setenv("AWS_REGION", "eu-west-3")
        monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
        assert AWSSecretsProvider().client.meta.region_name == "eu-west-3"
        monkeypatch.delenv("AWS_REGION")
        assert AWSSecretsProvider().client.meta.region_name == "us-east-1"

    def test_server_down_is_unavailable(self, proxied):
        """Connection refused: unavailable, naming what to check."""
        proxy, source = proxied
        proxy.stop()
        with pytest.raises(SourceUnavailableError, match="cannot reach AWS"):
            source.fetch("openai")

    def test_slow_server_times_out_within_the_deadline(self, aws_admin, proxied):
        """A server slower than read_timeout: timeout after about that long, no hang."""
        proxy, source = proxied
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="k")
        proxy.delay(5)
        started = time.perf_counter()
        with pytest.raises(SourceTimeoutError):
            source.fetch("openai")
        assert time.perf_counter() - started < 3

    def test_dropped_connection_is_unavailable(self, aws_admin, proxied):
        """A connection closed without an answer is unavailable."""
        proxy, source = proxied
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="k")
        proxy.drop()
        with pytest.raises(SourceUnavailableError):
            source.fetch("openai")
