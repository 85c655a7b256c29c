"""AzureKeyVaultProvider against the Key Vault emulator, with the real SecretClient."""

from __future__ import annotations

import pytest

from abstractcore_secrets import (
    AzureKeyVaultProvider,
    ConfigurationError,
    InvalidSourceError,
    SourceForbiddenError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
)
from abstractcore_secrets.testing import AzureKeyVaultEmulator

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def vault():
    with AzureKeyVaultEmulator() as emulator:
        yield emulator


@pytest.fixture
def source(vault):
    vault.clear_faults()
    provider = AzureKeyVaultProvider(
        vault.vault_url, credential=vault.credential(), client_options=vault.client_options()
    )
    yield provider
    vault.clear_faults()
    provider.close()


class TestAzureKeyVaultProvider:
    def test_reads_the_secret_named_after_the_provider(self, vault, source):
        """openai is read from the secret 'openai' (the proposal's mapping)."""
        vault.set_secret("openai", "sk-azure-value")
        assert source.get_secret("openai") == "sk-azure-value"

    def test_record_carries_version_and_request_id(self, vault, source):
        """The read reports the secret URL, its version and the x-ms-request-id."""
        version = vault.set_secret("anthropic", "sk-ant-azure")
        record = source.fetch("anthropic")
        assert record is not None
        assert record.locator == f"azure:{vault.vault_url}/secrets/anthropic"
        assert record.version == version
        assert record.request_id == vault.request_ids[-1]

    def test_underscores_become_hyphens_and_template_applies(self, vault):
        """openai_compatible with '{provider}-api-key' reads 'openai-compatible-api-key'."""
        vault.set_secret("my-llm-api-key", "sk-templated")
        provider = AzureKeyVaultProvider(
            vault.vault_url,
            credential=vault.credential(),
            name_template="{provider}-api-key",
            client_options=vault.client_options(),
        )
        assert provider.secret_name("my_llm") == "my-llm-api-key"
        assert provider.get_secret("my_llm") == "sk-templated"

    def test_pinned_version(self, vault):
        """version= reads that version after a rotation."""
        first = vault.set_secret("groq", "old")
        vault.set_secret("groq", "new")
        pinned = AzureKeyVaultProvider(
            vault.vault_url,
            credential=vault.credential(),
            version=first,
            client_options=vault.client_options(),
        )
        assert pinned.get_secret("groq") == "old"

    def test_missing_secret_is_not_found(self, source):
        """404 SecretNotFound means not here."""
        assert source.fetch("absent") is None

    @pytest.mark.parametrize(
        ("status", "error_type"),
        [
            (401, SourceUnauthenticatedError),
            (403, SourceForbiddenError),
            (429, SourceThrottledError),
            (500, SourceUnavailableError),
            (503, SourceUnavailableError),
            (400, InvalidSourceError),
        ],
        ids=str,
    )
    def test_errors_map_to_categories(self, vault, source, status, error_type):
        """Each Key Vault error status maps to its category, naming the fix, never a value."""
        vault.set_secret("openai", "sk-never-shown")
        source.fetch("openai")  # the challenge is done: faults hit the authenticated call
        vault.fail_with(status, retry_after=3 if status == 429 else None)
        with pytest.raises(error_type) as caught:
            source.fetch("openai")
        assert caught.value.locator == f"azure:{vault.vault_url}/secrets/openai"
        assert caught.value.request_id == vault.request_ids[-1]
        assert "sk-never-shown" not in str(caught.value)
        if status == 429:
            assert caught.value.retry_after == 3

    def test_slow_server_times_out(self, vault):
        """A server slower than read_timeout is a timeout, within that deadline."""
        vault.set_secret("openai", "sk-x")
        provider = AzureKeyVaultProvider(
            vault.vault_url,
            credential=vault.credential(),
            read_timeout=0.5,
            client_options=vault.client_options(),
        )
        provider.fetch("openai")
        vault.slow(3)
        with pytest.raises(SourceTimeoutError):
            provider.fetch("openai")

    def test_template_making_invalid_names_is_refused_at_construction(self, vault):
        """A template with characters Key Vault refuses fails when built, not at first read."""
        with pytest.raises(ConfigurationError, match="not a Key Vault secret name"):
            AzureKeyVaultProvider(
                vault.vault_url, credential=vault.credential(), name_template="llm/{provider}"
            )

    def test_template_without_provider_is_refused(self, vault):
        """A template that would read one secret for all providers is a configuration error."""
        with pytest.raises(ConfigurationError, match="must contain"):
            AzureKeyVaultProvider(
                vault.vault_url, credential=vault.credential(), name_template="shared"
            )
