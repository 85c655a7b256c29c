"""Chain configuration from the config file's secrets section, profiles and environment."""

from __future__ import annotations

import json

import pytest

from abstractcore_secrets import (
    ConfigurationError,
    InsecureFileError,
    InsecureFilePolicy,
    build_secrets_manager,
    load_settings,
)
from abstractcore_secrets.settings import ResilienceSettings


def _write(path, secrets=None, api_keys=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {}
    if secrets is not None:
        document["secrets"] = secrets
    if api_keys is not None:
        document["api_keys"] = api_keys
    path.write_text(json.dumps(document))
    path.chmod(0o600)


class TestLoadSettings:
    def test_defaults_without_a_file(self, config_path):
        """No file: env then config, the default cache, refuse insecure files."""
        settings = load_settings()
        assert (settings.config_path, settings.chain, settings.profile) == (
            config_path,
            ("env", "config"),
            None,
        )
        assert (settings.cache_ttl, settings.negative_ttl, settings.max_stale) == (300, 30, 900)
        assert settings.insecure_files is InsecureFilePolicy.REFUSE

    def test_configured_vault_joins_the_default_chain(self, config_path):
        """A vault entry under secrets.sources puts vault between env and config."""
        _write(config_path, {"sources": {"vault": {"addr": "http://127.0.0.1:8200"}}})
        assert load_settings().chain == ("env", "vault", "config")

    def test_file_settings(self, config_path):
        """chain, cache and insecure_files are read from the secrets section."""
        _write(
            config_path,
            {
                "chain": ["config", "env"],
                "insecure_files": "warn",
                "cache": {"ttl": 60, "negative_ttl": 0, "max_stale": 10},
            },
        )
        settings = load_settings()
        assert settings.chain == ("config", "env")
        assert (settings.cache_ttl, settings.negative_ttl, settings.max_stale) == (60, 0, 10)
        assert settings.insecure_files is InsecureFilePolicy.WARN

    def test_profile_overrides_the_base_section(self, config_path, monkeypatch):
        """ABSTRACTCORE_SECRETS_PROFILE applies profiles.<name> over the base settings."""
        _write(
            config_path,
            {
                "cache": {"ttl": 60, "max_stale": 10},
                "profiles": {
                    "dev": {"chain": ["env", "config"]},
                    "prod": {"chain": ["env"], "cache": {"ttl": 600}},
                },
            },
        )
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_PROFILE", "prod")
        settings = load_settings()
        assert (settings.profile, settings.chain) == ("prod", ("env",))
        assert (settings.cache_ttl, settings.max_stale) == (600, 10)

    def test_profile_chosen_in_the_file(self, config_path):
        """secrets.profile picks the profile when the environment does not."""
        _write(config_path, {"profile": "dev", "profiles": {"dev": {"chain": ["config"]}}})
        assert load_settings().chain == ("config",)

    def test_environment_overrides_file_and_profile(self, config_path, monkeypatch):
        """ABSTRACTCORE_SECRETS_* variables win over everything in the file."""
        _write(config_path, {"chain": ["config"], "cache": {"ttl": 60}})
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_CHAIN", "env, config")
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_CACHE_TTL", "0")
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_INSECURE_FILES", "warn")
        settings = load_settings()
        assert (settings.chain, settings.cache_ttl) == (("env", "config"), 0)
        assert settings.insecure_files is InsecureFilePolicy.WARN
        assert build_secrets_manager(settings).cache is None

    @pytest.mark.parametrize(
        ("secrets", "environment", "message"),
        [
            ({"chain": ["env", "keychain"]}, {}, "unknown sources \\['keychain'\\]"),
            ({"chain": "env"}, {}, "must be a list of source names"),
            ({"chain": ["env", "env"]}, {}, "names a source twice"),
            ({}, {"ABSTRACTCORE_SECRETS_CHAIN": " , "}, "unknown sources"),
            ({}, {"ABSTRACTCORE_SECRETS_PROFILE": "prod"}, "profile 'prod' is not in"),
            ({"cache": {"ttl": "soon"}}, {}, "secrets.cache.ttl='soon' is not a number"),
            ({}, {"ABSTRACTCORE_SECRETS_MAX_STALE": "-5"}, "must be a finite number"),
            ({"insecure_files": "ignore"}, {}, "use 'refuse' or 'warn'"),
            ({"sources": []}, {}, "secrets.sources must be a JSON object"),
        ],
        ids=[
            "unknown-source",
            "chain-not-list",
            "duplicate",
            "empty-env-chain",
            "unknown-profile",
            "ttl-not-number",
            "negative-stale",
            "bad-policy",
            "sources-not-object",
        ],
    )
    def test_bad_settings_name_the_fix(
        self, config_path, monkeypatch, secrets, environment, message
    ):
        """Every malformed setting is a ConfigurationError saying what and where."""
        _write(config_path, secrets)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        with pytest.raises(ConfigurationError, match=message):
            load_settings()


class TestBuildSecretsManager:
    def test_builds_the_configured_chain(self, config_path, monkeypatch):
        """The built manager walks the configured sources and reads the file's keys."""
        _write(config_path, {"chain": ["config", "env"]}, api_keys={"openai": "from-file"})
        monkeypatch.setenv("OPENAI_API_KEY", "from-env")
        manager = build_secrets_manager()
        assert [s.name for s in manager.sources] == ["config", "env"]
        assert manager.get_api_key("openai") == "from-file"

    @pytest.mark.server
    def test_vault_from_the_config_file(self, config_path, openbao, tmp_path):
        """secrets.sources.vault with a token_file builds a working Vault source."""
        openbao.put_kv("team/llm", {"mistral": "from-vault"})
        token_file = tmp_path / "token"
        token_file.write_text(openbao.root_token)
        token_file.chmod(0o600)
        _write(
            config_path,
            {
                "sources": {
                    "vault": {
                        "addr": openbao.address,
                        "token_file": str(token_file),
                        "path": "secret/data/team/llm",
                    }
                }
            },
        )
        resolution = build_secrets_manager().resolve("mistral")
        assert (resolution.source, resolution.locator) == ("vault", "vault:secret/team/llm#mistral")

    def test_unknown_vault_option_is_refused(self, config_path):
        """A typo in a source's options fails loudly, listing the known ones."""
        _write(config_path, {"sources": {"vault": {"adress": "http://x"}}})
        with pytest.raises(ConfigurationError, match="unknown options \\['adress'\\]"):
            build_secrets_manager()


class TestManagedSourcesFromConfig:
    @pytest.mark.server
    def test_aws_from_the_config_file(self, config_path, moto_server, aws_admin):
        """secrets.sources.aws joins the default chain and reads from its endpoint."""
        aws_admin.create_secret(Name="team/openai", SecretString="sk-from-aws")
        _write(
            config_path,
            {
                "sources": {
                    "aws": {
                        "region": "us-east-1",
                        "endpoint_url": moto_server,
                        "secret_id_template": "team/{provider}",
                        "read_timeout": 2,
                    }
                }
            },
        )
        manager = build_secrets_manager()
        assert [s.name for s in manager.sources] == ["env", "aws", "config"]
        resolution = manager.resolve("openai")
        assert (resolution.source, resolution.locator) == ("aws", "aws:team/openai")

    def test_azure_and_the_order_of_managed_sources(self, config_path):
        """vault, aws, azure join in that order between env and config."""
        _write(
            config_path,
            {
                "sources": {
                    "azure": {"vault_url": "https://example.vault.azure.net"},
                    "vault": {"addr": "http://127.0.0.1:8200", "token": "t"},
                    "aws": {"region": "eu-west-1"},
                }
            },
        )
        manager = build_secrets_manager()
        assert [s.name for s in manager.sources] == ["env", "vault", "aws", "azure", "config"]

    @pytest.mark.server
    def test_vault_approle_from_the_config_file(self, config_path, openbao, tmp_path):
        """auth.method approle with a private secret_id_file logs in and reads."""
        openbao.request("POST", "sys/auth/approle-config", {"type": "approle"})
        openbao.request(
            "POST",
            "sys/policies/acl/read-all",
            {"policy": 'path "secret/data/*" { capabilities = ["read"] }'},
        )
        openbao.request("POST", "auth/approle-config/role/app", {"token_policies": ["read-all"]})
        role_id = openbao.request("GET", "auth/approle-config/role/app/role-id")["data"]["role_id"]
        secret_id = openbao.request("POST", "auth/approle-config/role/app/secret-id")["data"][
            "secret_id"
        ]
        secret_file = tmp_path / "secret-id"
        secret_file.write_text(secret_id)
        secret_file.chmod(0o600)
        openbao.put_kv("abstractcore", {"vllm": "sk-approle-config"})
        _write(
            config_path,
            {
                "sources": {
                    "vault": {
                        "addr": openbao.address,
                        "auth": {
                            "method": "approle",
                            "role_id": role_id,
                            "secret_id_file": str(secret_file),
                            "mount_point": "approle-config",
                        },
                    }
                }
            },
        )
        assert build_secrets_manager().get_api_key("vllm") == "sk-approle-config"

    def test_inline_token_makes_the_file_a_key_file(self, config_path):
        """A Vault token in a group-readable config file is refused like any key file."""
        _write(config_path, {"sources": {"vault": {"addr": "http://127.0.0.1:1", "token": "t"}}})
        config_path.chmod(0o644)
        with pytest.raises(InsecureFileError, match="chmod 600"):
            build_secrets_manager()

    @pytest.mark.parametrize(
        ("sources", "message"),
        [
            ({"aws": {"regoin": "x"}}, r"unknown options \['regoin'\]"),
            ({"aws": {"read_timeout": "fast"}}, "read_timeout must be a float"),
            ({"azure": {}}, "vault_url is required"),
            ({"vault": {"addr": "http://x", "auth": {"method": "ldap"}}}, "must be one of"),
            ({"vault": {"addr": "http://x", "auth": {"method": "jwt"}}}, "jwt auth is missing"),
        ],
        ids=["aws-typo", "aws-type", "azure-url", "vault-method", "jwt-missing-role"],
    )
    def test_bad_source_options_name_the_fix(self, config_path, sources, message):
        """Source options are checked by name and type before anything connects."""
        _write(config_path, {"sources": sources})
        with pytest.raises(ConfigurationError, match=message):
            build_secrets_manager()

    def test_numbers_written_as_text_are_read_as_numbers(self, config_path):
        """As the file always allowed: "300" is 300 seconds; a whole-number option needs one."""
        _write(config_path, {"cache": {"ttl": " 60 "}, "resilience": {"attempts": "4"}})
        settings = load_settings()
        assert (settings.cache_ttl, settings.resilience.attempts) == (60.0, 4)
        _write(config_path, {"resilience": {"attempts": "2.5"}})
        with pytest.raises(ConfigurationError, match=r"attempts='2\.5' is not a whole number"):
            load_settings()

    def test_resilience_settings(self, config_path):
        """secrets.resilience configures retries and circuit breakers."""
        _write(
            config_path, {"resilience": {"attempts": 5, "failure_threshold": 2, "reset_timeout": 7}}
        )
        settings = load_settings()
        assert settings.resilience == ResilienceSettings(
            attempts=5, failure_threshold=2, reset_timeout=7
        )
        build_secrets_manager(settings)
