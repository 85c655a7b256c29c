"""How SDK exceptions become our errors: the lookup's rules, then each source's translations.

The lookup is tested with exception classes of its own; the sources against their real
servers (OpenBao, moto, the Key Vault emulator) behind a fault proxy where an answer must be
crafted, or with the SDK's own exception instances where no server can produce the fault.
"""

from __future__ import annotations

import json

import pytest

from abstractcore_secrets import (
    AWSSecretsProvider,
    AzureKeyVaultProvider,
    ErrorCategory,
    InvalidSourceError,
    SecretNotFoundError,
    SourceError,
    SourceForbiddenError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
    VaultSecretProvider,
)
from abstractcore_secrets.sources import aws, azure, vault
from abstractcore_secrets.sources._translate import ErrorTable, Rule
from abstractcore_secrets.sources.vault_auth import JWTAuth
from abstractcore_secrets.testing import AzureKeyVaultEmulator, FaultProxy, free_port

LOCATOR = "test:here"
CANARY = "sk-canary-in-the-sdk-message-0001"
JSON = {"Content-Type": "application/json"}


class BaseError(Exception):
    pass


class DerivedError(BaseError):
    pass


class OtherError(Exception):
    pass


class BothError(DerivedError, OtherError):
    pass


def table(*rules: Rule) -> ErrorTable:
    return ErrorTable("test", rules, default="it failed ({type})")


def described(error: SourceError) -> tuple[type[SourceError], str, str | None, float | None]:
    return type(error), str(error), error.request_id, error.retry_after


class TestErrorTable:
    def test_a_derived_class_rule_wins_over_its_base_class_rule(self):
        """The MRO is walked most derived first, whatever order the rules are declared in."""
        rules = table(
            Rule(BaseError, SourceUnavailableError, "base"),
            Rule(DerivedError, SourceForbiddenError, "derived"),
        )
        assert rules.translate(DerivedError(), LOCATOR).category is ErrorCategory.FORBIDDEN
        assert rules.translate(BaseError(), LOCATOR).category is ErrorCategory.UNAVAILABLE

    def test_multiple_inheritance_follows_the_mro(self):
        """A class with two bases is matched through its first base before its second."""
        rules = table(
            Rule(OtherError, SourceThrottledError, "other"),
            Rule(BaseError, SourceForbiddenError, "base"),
        )
        assert BothError.__mro__[:4] == (BothError, DerivedError, BaseError, OtherError)
        assert rules.translate(BothError(), LOCATOR).category is ErrorCategory.FORBIDDEN

    def test_a_predicate_rule_wins_over_the_bare_rule_of_its_class(self):
        """Declared after the bare rule, a predicate that holds wins; one that fails yields."""
        rules = table(
            Rule(BaseError, InvalidSourceError, "bare"),
            Rule(BaseError, SourceThrottledError, "slow down", when=lambda exc: exc.args == (429,)),
        )
        assert rules.translate(BaseError(429), LOCATOR).category is ErrorCategory.THROTTLED
        assert rules.translate(BaseError(400), LOCATOR).category is ErrorCategory.INVALID

    def test_predicate_rules_of_one_class_are_tried_in_declared_order(self):
        """Two predicates that both hold: the first declared wins."""
        rules = table(
            Rule(BaseError, SourceForbiddenError, "first", when=lambda exc: True),
            Rule(BaseError, SourceThrottledError, "second", when=lambda exc: True),
        )
        assert str(rules.translate(BaseError(), LOCATOR)) == f"{LOCATOR}: first"

    def test_a_base_class_predicate_does_not_beat_a_derived_class_bare_rule(self):
        """Specificity of the class comes first, the predicate second."""
        rules = table(
            Rule(BaseError, SourceForbiddenError, "base 403", when=lambda exc: True),
            Rule(DerivedError, SourceTimeoutError, "derived"),
        )
        assert rules.translate(DerivedError(), LOCATOR).category is ErrorCategory.TIMEOUT

    def test_a_failing_predicate_falls_through_to_the_base_classes(self):
        """No rule of the class holds: the walk goes on up the MRO."""
        rules = table(
            Rule(DerivedError, SourceForbiddenError, "never", when=lambda exc: False),
            Rule(BaseError, SourceThrottledError, "base"),
        )
        assert rules.translate(DerivedError(), LOCATOR).category is ErrorCategory.THROTTLED

    def test_default_is_unavailable_naming_only_the_type(self):
        """No rule matches: unavailable, the type named, the exception's text never."""
        error = table(Rule(BaseError, SourceForbiddenError, "base")).translate(
            OtherError(CANARY), LOCATOR, request_id="req-1"
        )
        assert described(error) == (
            SourceUnavailableError,
            f"{LOCATOR}: it failed (OtherError)",
            "req-1",
            None,
        )
        assert (error.source, error.locator) == ("test", LOCATOR)

    def test_messages_are_templates_or_callables(self):
        """A template gets {type} and the caller's fields; a callable gets the exception."""
        rules = table(
            Rule(BaseError, SourceForbiddenError, "{method} refused ({type})"),
            Rule(OtherError, InvalidSourceError, lambda exc: f"status {exc.args[0]}"),
        )
        assert str(rules.translate(DerivedError(CANARY), LOCATOR, method="jwt")) == (
            f"{LOCATOR}: jwt refused (DerivedError)"
        )
        assert str(rules.translate(OtherError(418), LOCATOR)) == f"{LOCATOR}: status 418"

    def test_retry_after_and_request_id_come_from_the_rule_or_the_caller(self):
        """A rule's readers win over the caller's request id; without them, the caller's."""
        rules = table(
            Rule(
                BaseError,
                SourceThrottledError,
                "slow down",
                retry_after=lambda exc: 2.5,
                request_id=lambda exc: "from-exc",
            ),
            Rule(OtherError, SourceForbiddenError, "no"),
        )
        assert described(rules.translate(BaseError(), LOCATOR, request_id="from-caller")) == (
            SourceThrottledError,
            f"{LOCATOR}: slow down",
            "from-exc",
            2.5,
        )
        assert rules.translate(OtherError(), LOCATOR, request_id="from-caller").request_id == (
            "from-caller"
        )

    def test_extended_rules_come_first_and_leave_the_table_unchanged(self):
        """A read's table refines the source's: its rule of the same class wins."""
        general = table(Rule(BaseError, InvalidSourceError, "general"))
        read = general.extended(Rule(BaseError, SecretNotFoundError, "not here"))
        assert read.translate(BaseError(), LOCATOR).category is ErrorCategory.NOT_FOUND
        assert general.translate(BaseError(), LOCATOR).category is ErrorCategory.INVALID
        assert read.lookup(OtherError()) is None


class TestVaultTranslations:
    def test_requests_connect_timeout_is_a_timeout_not_a_connection_error(self):
        """requests' ConnectTimeout is both; the timeout row wins, as it always did."""
        import requests

        error = vault.translate_error(requests.exceptions.ConnectTimeout(CANARY), LOCATOR)
        assert described(error) == (
            SourceTimeoutError,
            f"{LOCATOR}: Vault did not answer in time",
            None,
            None,
        )

    def test_unknown_errors_are_unavailable_naming_the_type(self):
        """hvac's 500 (InternalServerError) has no row: the default names it, not its text."""
        import hvac.exceptions

        error = vault.translate_error(hvac.exceptions.InternalServerError(CANARY), LOCATOR)
        assert str(error) == f"{LOCATOR}: Vault failed (InternalServerError); see the server's logs"
        assert error.category is ErrorCategory.UNAVAILABLE

    @pytest.mark.server
    def test_401_is_unauthenticated(self, openbao):
        """Vault's 401 asks for a new login."""
        with FaultProxy(openbao.address) as proxy:
            provider = VaultSecretProvider(proxy.address, "root")
            provider.fetch("openai")
            proxy.respond(401, json.dumps({"errors": [CANARY]}).encode(), JSON)
            with pytest.raises(SourceUnauthenticatedError) as caught:
                provider.fetch("openai")
            provider.close()
        error = caught.value
        assert str(error) == (
            "vault:secret/abstractcore#openai: Vault rejected the token (401); log in again"
        )
        assert (error.__cause__, error.__context__) == (None, None)

    @pytest.mark.server
    def test_503_is_unavailable_saying_sealed(self, openbao):
        """Vault's 503 (sealed, standby in maintenance) is an outage with the fix."""
        with FaultProxy(openbao.address) as proxy:
            provider = VaultSecretProvider(proxy.address, "root")
            provider.fetch("openai")
            proxy.respond(503, json.dumps({"errors": ["Vault is sealed"]}).encode(), JSON)
            with pytest.raises(SourceUnavailableError, match="sealed or in maintenance") as caught:
                provider.fetch("openai")
            provider.close()
        assert (caught.value.__cause__, caught.value.__context__) == (None, None)

    @pytest.mark.server
    def test_a_refused_token_login_names_the_method(self, openbao):
        """A token Vault does not know fails its login (lookup-self) as forbidden, naming it."""
        provider = VaultSecretProvider(openbao.address, CANARY)
        with pytest.raises(SourceForbiddenError) as caught:
            provider.fetch("openai")
        assert str(caught.value) == (
            "vault:secret/abstractcore#openai: Vault refused the token token or login (403); "
            "check that it is valid and not revoked"
        )
        assert (caught.value.__cause__, caught.value.__context__) == (None, None)

    @pytest.mark.server
    def test_a_missing_credential_file_is_invalid(self, openbao, tmp_path):
        """A login whose JWT file is absent stops the chain as invalid, naming the file."""
        provider = VaultSecretProvider(
            openbao.address, auth=JWTAuth("llm", tmp_path / "absent.jwt")
        )
        with pytest.raises(InvalidSourceError, match=r"cannot read the JWT from .*absent\.jwt"):
            provider.fetch("openai")


class TestAWSTranslations:
    @pytest.mark.server
    def test_no_credentials_is_unauthenticated(self, moto_server, monkeypatch):
        """No credentials anywhere: unauthenticated, naming where to configure them."""
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        with (
            AWSSecretsProvider(endpoint_url=moto_server) as source,
            pytest.raises(SourceUnauthenticatedError, match="no AWS credentials") as caught,
        ):
            source.fetch("openai")
        assert (caught.value.__cause__, caught.value.__context__) == (None, None)

    @pytest.mark.server
    def test_a_bare_429_is_throttled_with_its_retry_after(self, aws_admin, moto_server):
        """A 429 with no AWS error code (a gateway's) is throttled; its Retry-After is kept."""
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="sk-never-shown")
        with FaultProxy(moto_server) as proxy:
            source = AWSSecretsProvider(endpoint_url=proxy.address)
            proxy.respond(
                429, b"<html>slow down</html>", {"Content-Type": "text/html", "Retry-After": "2"}
            )
            with pytest.raises(SourceThrottledError) as caught:
                source.fetch("openai")
            source.close()
        assert described(caught.value)[1:] == (
            "aws:abstractcore/openai: HTTP 429 from AWS",
            None,
            2.0,
        )
        assert (caught.value.__cause__, caught.value.__context__) == (None, None)

    @pytest.mark.server
    def test_throttling_code_keeps_request_id_and_retry_after(self, aws_admin, moto_server):
        """ThrottlingException: throttled, with AWS's request id and the Retry-After."""
        aws_admin.create_secret(Name="abstractcore/openai", SecretString="k")
        body = json.dumps({"__type": "ThrottlingException", "message": CANARY}).encode()
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "x-amzn-RequestId": "req-throttled",
            "Retry-After": "3",
        }
        with FaultProxy(moto_server) as proxy:
            source = AWSSecretsProvider(endpoint_url=proxy.address)
            proxy.respond(400, body, headers)
            with pytest.raises(SourceThrottledError) as caught:
                source.fetch("openai")
            source.close()
        assert described(caught.value) == (
            SourceThrottledError,
            "aws:abstractcore/openai: ThrottlingException: AWS throttled GetSecretValue; cache "
            "longer or ask for a higher quota",
            "req-throttled",
            3.0,
        )

    def test_botocore_errors_without_an_answer(self):
        """Timeouts, a missing region and any other botocore error, by type."""
        import botocore.exceptions as botocore

        cases = {
            botocore.ConnectTimeoutError(endpoint_url=CANARY): (
                SourceTimeoutError,
                "AWS did not answer in time (ConnectTimeoutError)",
            ),
            botocore.ReadTimeoutError(endpoint_url=CANARY): (
                SourceTimeoutError,
                "AWS did not answer in time (ReadTimeoutError)",
            ),
            botocore.NoRegionError(): (
                InvalidSourceError,
                "no AWS region; pass region= or set AWS_REGION",
            ),
            botocore.EndpointConnectionError(endpoint_url=CANARY): (
                SourceUnavailableError,
                "cannot reach AWS Secrets Manager (EndpointConnectionError); check the network, "
                "the region and endpoint_url",
            ),
        }
        for exc, (error_type, problem) in cases.items():
            error = aws.translate_error(exc, LOCATOR)
            assert (type(error), str(error)) == (error_type, f"{LOCATOR}: {problem}")

    def test_a_botocore_value_error_is_botocores_not_a_malformed_answer(self):
        """InvalidRegionError is also a ValueError: botocore's own row wins on a read too."""
        import botocore.exceptions as botocore

        from abstractcore_secrets.sources._aws_errors import read_errors

        error = read_errors().translate(botocore.InvalidRegionError(region_name="x y"), LOCATOR)
        assert error.category is ErrorCategory.UNAVAILABLE
        assert read_errors().translate(ValueError(CANARY), LOCATOR).category is (
            ErrorCategory.INVALID
        )


@pytest.fixture(scope="module")
def keyvault():
    with AzureKeyVaultEmulator() as emulator:
        yield emulator


class TestAzureTranslations:
    @pytest.mark.server
    def test_a_credential_that_gets_no_token_is_unauthenticated(self, keyvault):
        """azure-identity raising with no answer (nothing configured): unauthenticated."""
        from azure.identity import EnvironmentCredential

        source = AzureKeyVaultProvider(
            keyvault.vault_url,
            credential=EnvironmentCredential(),
            client_options=keyvault.client_options(),
        )
        keyvault.set_secret("openai", "sk-never-shown")
        try:
            with pytest.raises(SourceUnauthenticatedError, match="DefaultAzureCredential") as e:
                source.fetch("openai")
        finally:
            source.close()
        assert (e.value.__cause__, e.value.__context__) == (None, None)

    @pytest.mark.server
    def test_nothing_listening_is_unavailable(self, keyvault):
        """Connection refused: unavailable, naming azure-core's error type."""
        source = AzureKeyVaultProvider(
            f"https://127.0.0.1:{free_port()}",
            credential=keyvault.credential(),
            client_options=keyvault.client_options(),
        )
        try:
            with pytest.raises(SourceUnavailableError) as caught:
                source.fetch("openai")
        finally:
            source.close()
        assert str(caught.value).endswith(
            ": cannot reach Key Vault (ServiceRequestError); check vault_url and the network"
        )
        assert (caught.value.__cause__, caught.value.__context__) == (None, None)

    def test_errors_without_an_answer_by_type(self):
        """Timeouts and unreachable services, raised before any answer, by type."""
        from azure.core import exceptions

        cases = {
            exceptions.ServiceRequestTimeoutError(CANARY): SourceTimeoutError,
            exceptions.ServiceResponseTimeoutError(CANARY): SourceTimeoutError,
            exceptions.ServiceResponseError(CANARY): SourceUnavailableError,
            exceptions.ClientAuthenticationError(CANARY): SourceUnauthenticatedError,
            exceptions.HttpResponseError(CANARY): InvalidSourceError,
        }
        for exc, error_type in cases.items():
            error = azure.translate_error(exc, LOCATOR, "req-2")
            assert (type(error), error.request_id) == (error_type, "req-2")
            assert CANARY not in str(error)
