"""The abstractcore-secrets command, run as a child process."""

from __future__ import annotations

import json
import stat

import pytest
from clirun import run_cli


def _write_config(path, document, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    path.chmod(mode)


class TestStatus:
    def test_shows_where_each_key_comes_from_without_values(self, config_path):
        """status lists the chain and each provider's source and locator, never a value."""
        _write_config(config_path, {"api_keys": {"anthropic": "sk-ant-cli-value"}})
        result = run_cli("status", env={"OPENAI_API_KEY": "sk-cli-env-value"})
        assert result.returncode == 0, result.stderr
        assert "chain:   explicit > env > config" in result.stdout
        lines = {line.split()[0]: line.split() for line in result.stdout.splitlines()[4:]}
        assert lines["openai"][1:4] == ["found", "env", "env:OPENAI_API_KEY"]
        assert lines["anthropic"][1:3] == ["found", "config"]
        assert lines["mistral"][1:3] == ["not_found", "-"]
        assert "cli-env-value" not in result.stdout + result.stderr
        assert "ant-cli-value" not in result.stdout + result.stderr

    def test_proposal_status_flag_and_json(self, config_path):
        """--status is the proposal's spelling; --json gives the same rows as data."""
        assert "chain:" in run_cli("--status").stdout
        result = run_cli("status", "openai", "--json", env={"OPENAI_API_KEY": "sk-json-value"})
        document = json.loads(result.stdout)
        assert document["chain"] == ["env", "config"]
        row = document["providers"][0]
        assert {k: row[k] for k in ("provider", "outcome", "source", "locator")} == {
            "provider": "openai",
            "outcome": "found",
            "source": "env",
            "locator": "env:OPENAI_API_KEY",
        }
        assert row["fingerprint"].startswith("hmac-sha256:")
        assert "sk-json-value" not in result.stdout

    def test_exit_code_reports_the_worst_outcome(self):
        """Named providers: exit 1 when one is missing."""
        assert run_cli("status", "openai", env={"OPENAI_API_KEY": "k"}).returncode == 0
        assert run_cli("status", "openai", "mistral", env={"OPENAI_API_KEY": "k"}).returncode == 1

    def test_insecure_config_file_exits_with_the_fix(self, config_path):
        """A world-readable key file is a configuration error: exit 3 and the chmod to run."""
        _write_config(config_path, {"api_keys": {"openai": "sk-insecure-value"}}, mode=0o644)
        result = run_cli("get", "openai")
        assert result.returncode == 3
        assert f"chmod 600 {config_path}" in result.stderr
        assert "sk-insecure-value" not in result.stdout + result.stderr


class TestGet:
    def test_reveal_prints_only_the_value(self):
        """get --reveal prints the key alone, for scripts."""
        result = run_cli("get", "openai", "--reveal", env={"OPENAI_API_KEY": "sk-reveal"})
        assert (result.returncode, result.stdout) == (0, "sk-reveal\n")

    def test_without_reveal_shows_provenance_only(self):
        """Without --reveal the value never appears."""
        result = run_cli("get", "openai", env={"OPENAI_API_KEY": "sk-hidden-value"})
        assert result.returncode == 0
        assert "env:OPENAI_API_KEY" in result.stdout
        assert "sk-hidden-value" not in result.stdout

    def test_not_found_exits_1_and_reveal_prints_nothing(self):
        """A missing key exits 1; with --reveal, stdout stays empty for KEY=$(...)."""
        assert run_cli("get", "openai").returncode == 1
        result = run_cli("get", "openai", "--reveal")
        assert (result.returncode, result.stdout) == (1, "")
        assert "no key found for openai" in result.stderr

    def test_bad_configuration_exits_3(self, config_path):
        """A malformed chain setting exits 3 with the fix."""
        _write_config(config_path, {"secrets": {"chain": ["keychain"]}})
        result = run_cli("get", "openai")
        assert result.returncode == 3
        assert "known: env, vault, aws, azure, config" in result.stderr


class TestSetKey:
    def test_stores_the_key_from_stdin_privately(self, config_path):
        """set-key reads stdin, writes 0600, and prints only a fingerprint prefix."""
        result = run_cli("set-key", "openai", stdin="sk-from-stdin\n")
        assert result.returncode == 0, result.stderr
        assert "sk-from-stdin" not in result.stdout + result.stderr
        assert json.loads(config_path.read_text()) == {"api_keys": {"openai": "sk-from-stdin"}}
        assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
        assert run_cli("get", "openai", "--reveal").stdout == "sk-from-stdin\n"

    def test_empty_input_writes_nothing(self, config_path):
        """An empty key is refused and nothing is written."""
        result = run_cli("set-key", "openai", stdin="\n")
        assert result.returncode == 2
        assert not config_path.exists()


class TestSetSecretsProvider:
    def test_refuses_a_token_on_the_command_line(self, config_path):
        """--vault-token hvs.x is refused: argv shows in ps and shell history."""
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            "http://127.0.0.1:1",
            "--vault-token",
            "hvs.CANARYTOKEN",
        )
        assert result.returncode == 2
        assert "--vault-token -" in result.stderr
        assert "hvs.CANARYTOKEN" not in result.stderr
        assert not config_path.exists()

    @pytest.mark.server
    def test_configures_vault_from_the_proposals_flags(self, config_path, openbao):
        """The proposal's flags write secrets.sources.vault; the token comes from stdin."""
        openbao.put_kv("abstractcore", {"groq": "sk-groq-from-vault"})
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            openbao.address,
            "--vault-token",
            "--vault-path",
            "secret/data/abstractcore",
            stdin=openbao.root_token + "\n",
        )
        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
        status = json.loads(run_cli("status", "groq", "--json").stdout)
        assert status["chain"] == ["env", "vault", "config"]
        assert status["providers"][0]["locator"] == "vault:secret/abstractcore#groq"
        assert run_cli("get", "groq", "--reveal").stdout == "sk-groq-from-vault\n"


class TestSetCloudProviders:
    def test_aws_and_azure_flags(self, config_path):
        """--aws-region and --vault-url write their sources (--no-verify: no cloud here)."""
        aws = run_cli("--set-secrets-provider", "aws", "--aws-region", "eu-west-1", "--no-verify")
        assert aws.returncode == 0, aws.stderr
        result = run_cli(
            "--set-secrets-provider",
            "azure",
            "--vault-url",
            "https://example.vault.azure.net",
            "--no-verify",
        )
        assert result.returncode == 0, result.stderr
        sources = json.loads(config_path.read_text())["secrets"]["sources"]
        assert sources == {
            "aws": {"region": "eu-west-1"},
            "azure": {"vault_url": "https://example.vault.azure.net"},
        }

    def test_without_no_verify_an_unreachable_cloud_is_not_saved(self, config_path):
        """The region's endpoint cannot be reached from here: exit 5, nothing written."""
        result = run_cli(
            "--set-secrets-provider",
            "aws",
            "--aws-region",
            "eu-west-1",
            "--aws-endpoint-url",
            "http://127.0.0.1:9",
        )
        assert result.returncode == 5
        assert "add --no-verify to save them anyway" in result.stderr
        assert not config_path.exists()

    def test_azure_needs_a_vault_url(self, config_path):
        """Without --vault-url, azure is a usage error and nothing is written."""
        result = run_cli("--set-secrets-provider", "azure")
        assert result.returncode == 2
        assert "--vault-url" in result.stderr
        assert not config_path.exists()
