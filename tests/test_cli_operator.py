"""The operator's CLI: configuring sources, storing keys, reading failures, long audit work.

Each test runs the command as a child process, as an operator would; servers (OpenBao,
moto) are real and started by fixtures. What an operator relies on is asserted whole: the
exit code, what the config file holds afterwards (byte for byte when nothing may change),
and the words that tell what went wrong and how to fix it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from clirun import run_cli, run_cli_on_terminal
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from abstractcore_secrets.audit.journal import Journal
from abstractcore_secrets.cli._progress import ReadPosition
from abstractcore_secrets.testing import OpenBaoServer, free_port
from abstractcore_secrets.testing.canary import canary, find_leaks

EXISTING = {"secrets": {"sources": {"vault": {"addr": "http://127.0.0.1:1", "token": "kept"}}}}


def write_config(config_path, document):
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(document))
    config_path.chmod(0o600)
    return config_path.read_bytes()


def dead_address():
    return f"http://127.0.0.1:{free_port()}"


class TestSourceFlagsAreUsageErrors:
    def test_a_source_flag_alone_is_a_usage_error_not_help(self):
        """`--vault-addr X` alone: exit 2 naming --set-secrets-provider, and no help page."""
        result = run_cli("--vault-addr", "https://vault.example.com")
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == (
            "error: --vault-addr configures a secrets source: add --set-secrets-provider vault\n"
        )

    def test_a_source_flag_before_another_command(self):
        """`--aws-region eu-west-1 status`: refused rather than silently ignored."""
        result = run_cli("--aws-region", "eu-west-1", "status")
        assert result.returncode == 2
        assert "add --set-secrets-provider aws" in result.stderr

    def test_no_verify_alone(self):
        """--no-verify means nothing without --set-secrets-provider."""
        result = run_cli("--no-verify")
        assert (result.returncode, result.stderr) == (
            2,
            "error: --no-verify goes with --set-secrets-provider\n",
        )

    def test_no_arguments_still_print_help(self):
        """The bare command shows its help, exit codes included, and exits 0."""
        result = run_cli()
        assert result.returncode == 0
        assert "--set-secrets-provider" in result.stdout
        assert "70  internal error" in result.stdout


REFUSED = {
    "another source's flag": (
        ("--set-secrets-provider", "aws", "--vault-addr", "https://v.example.com"),
        "--vault-addr is an option of --set-secrets-provider vault, not aws; configure one "
        "source per command",
    ),
    "no scheme": (
        ("--set-secrets-provider", "vault", "--vault-addr", "127.0.0.1:8299"),
        "--vault-addr '127.0.0.1:8299' needs a scheme and a host: http:// or https://, "
        "e.g. 'https://127.0.0.1:8299'",
    ),
    "no address": (
        ("--set-secrets-provider", "vault", "--vault-path", "secret/data/x"),
        "--set-secrets-provider vault needs --vault-addr URL, e.g. https://vault.example.com:8200",
    ),
    "empty address": (
        ("--set-secrets-provider", "vault", "--vault-addr", ""),
        "--vault-addr is empty",
    ),
    "azure over http": (
        ("--set-secrets-provider", "azure", "--vault-url", "http://kv.vault.azure.net"),
        "--vault-url 'http://kv.vault.azure.net' must start with https://",
    ),
    "azure without url": (
        ("--set-secrets-provider", "azure"),
        "--set-secrets-provider azure needs --vault-url https://NAME.vault.azure.net",
    ),
    "region typo": (
        ("--set-secrets-provider", "aws", "--aws-region", "us-east1"),
        "--aws-region 'us-east1' is not an AWS region name, e.g. us-east-1",
    ),
    "template without provider": (
        ("--set-secrets-provider", "aws", "--aws-secret-id-template", "abstractcore/openai"),
        "--aws-secret-id-template 'abstractcore/openai' must contain {provider}, "
        "e.g. 'abstractcore/{provider}'",
    ),
    "missing CA file": (
        (
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            "https://v",
            "--vault-cacert",
            "ca.pem",
        ),
        "--vault-cacert 'ca.pem' is not an existing file",
    ),
    "token and token file": (
        (
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            "https://v",
            "--vault-token",
            "--vault-token-file",
            "{file}",
        ),
        "give the token one way: --vault-token - or --vault-token-file FILE, not both",
    ),
    "role without a login method": (
        ("--set-secrets-provider", "vault", "--vault-addr", "https://v", "--vault-role", "r"),
        "--vault-role does not go with --vault-auth token",
    ),
    "jwt without its file": (
        (
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            "https://v",
            "--vault-auth",
            "jwt",
            "--vault-role",
            "ci",
        ),
        "--vault-auth jwt needs --vault-jwt-file",
    ),
    "approle with a token": (
        (
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            "https://v",
            "--vault-auth",
            "approle",
            "--vault-token",
        ),
        "--vault-auth approle logs in without a token: drop --vault-token(-file)",
    ),
    "approle without its ids": (
        ("--set-secrets-provider", "vault", "--vault-addr", "https://v", "--vault-auth", "approle"),
        "--vault-auth approle needs --vault-role-id-file FILE and --vault-secret-id-file FILE "
        "(or VAULT_ROLE_ID and VAULT_SECRET_ID set)",
    ),
    "status too": (
        ("--set-secrets-provider", "aws", "--status"),
        "--set-secrets-provider is a command of its own: run it, then the other command",
    ),
}


class TestSetSecretsProviderRefusesBeforeWriting:
    @pytest.mark.parametrize("arguments", [v[0] for v in REFUSED.values()], ids=list(REFUSED))
    def test_each_mistake_exits_2_with_its_fix_and_writes_nothing(
        self, config_path, tmp_path, arguments
    ):
        """The stored settings stay byte for byte; the message names the flag and the fix."""
        before = write_config(config_path, EXISTING)
        some_file = tmp_path / "token"
        some_file.write_text("t")
        expected = dict(REFUSED.values())[arguments]
        result = run_cli(*(a.format(file=some_file) for a in arguments), stdin="hvs.x\n")
        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == f"error: {expected}\n"
        assert config_path.read_bytes() == before

    @pytest.mark.parametrize(
        ("stdin", "problem"),
        [
            ("\n", "no Vault token was given (an empty line)"),
            ("", "no Vault token was given (an empty line)"),
            ("hvs.two words\n", "holds spaces or control characters inside it"),
            (b"hvs.\xff\xfe\n", "is not UTF-8 text (not echoed)"),
            ("hvs." + "a" * 9000 + "\n", "is longer than 8192 characters"),
        ],
        ids=["empty-line", "no-input", "space-inside", "not-utf8", "too-long"],
    )
    def test_a_token_that_cannot_be_one_overwrites_nothing(self, config_path, stdin, problem):
        """An empty, spaced, undecodable or huge token: exit 2, the stored one is kept."""
        before = write_config(config_path, EXISTING)
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            "https://vault.example.com",
            "--vault-token",
            stdin=stdin,
        )
        assert result.returncode == 2
        assert problem in result.stderr
        assert result.stderr.rstrip().endswith("nothing was changed")
        assert config_path.read_bytes() == before
        if isinstance(stdin, str) and len(stdin.strip()) > 4:
            assert find_leaks([result.stdout, result.stderr], [stdin.strip()]) == []

    def test_credentials_in_the_address_are_refused_unechoed(self, config_path):
        """https://user:password@host: refused, and the password never printed."""
        password = canary("pw")
        result = run_cli(
            "--set-secrets-provider", "vault", "--vault-addr", f"https://ops:{password}@vault.x"
        )
        assert result.returncode == 2
        assert "holds credentials before an '@' (not echoed)" in result.stderr
        assert find_leaks([result.stdout, result.stderr], [password]) == []
        assert not config_path.exists()


@pytest.mark.server
class TestSetSecretsProviderVerifiesFirst:
    def test_a_working_vault_is_checked_then_saved(self, config_path, openbao):
        """The checks pass and are shown; the section is written 0600 with the token."""
        path = f"op-{uuid.uuid4().hex[:8]}"
        openbao.put_kv(path, {"groq": "gsk-operator-0001"})
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            openbao.address,
            "--vault-path",
            f"secret/data/{path}",
            "--vault-token",
            stdin=openbao.root_token + "\n",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "groq readable" in result.stdout
        assert result.stdout.splitlines()[-1] == (
            f"configured vault ({openbao.address}) in {config_path}"
        )
        assert json.loads(config_path.read_text())["secrets"]["sources"]["vault"] == {
            "addr": openbao.address,
            "path": f"secret/data/{path}",
            "token": openbao.root_token,
        }
        assert oct(config_path.stat().st_mode & 0o777) == "0o600"

    def test_an_unreachable_vault_is_not_saved_unless_told(self, config_path):
        """Nothing listens: exit 5 and nothing saved; --no-verify saves it anyway."""
        before = write_config(config_path, {"api_keys": {"openai": "sk-operator-keep"}})
        arguments = ("--set-secrets-provider", "vault", "--vault-addr", dead_address())
        refused = run_cli(*arguments, "--vault-token", stdin="hvs.operator-token\n")
        assert refused.returncode == 5
        assert "fail  reachable" in refused.stdout
        assert refused.stderr == (
            "error: vault does not work with these settings (see above); nothing was saved. "
            "Fix the problem, or add --no-verify to save them anyway\n"
        )
        assert config_path.read_bytes() == before
        saved = run_cli(*arguments, "--no-verify", "--vault-token", stdin="hvs.operator-token\n")
        assert saved.returncode == 0, saved.stderr
        assert saved.stdout.startswith("configured vault")
        document = json.loads(config_path.read_text())
        assert document["api_keys"] == {"openai": "sk-operator-keep"}
        assert document["secrets"]["sources"]["vault"]["token"] == "hvs.operator-token"

    def test_a_wrong_token_keeps_the_stored_settings(self, config_path, openbao):
        """Vault refuses the token: exit 4 with doctor's fix; the old settings stay."""
        before = write_config(config_path, EXISTING)
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            openbao.address,
            "--vault-token",
            stdin="hvs.operator-wrong-token\n",
        )
        assert result.returncode == 4
        assert "fail  auth" in result.stdout
        assert config_path.read_bytes() == before
        assert "operator-wrong-token" not in result.stdout + result.stderr

    def test_every_vault_option_for_a_secret_per_provider(self, config_path, openbao, tmp_path):
        """Token file, KV version, mount, field and a {provider} path: checked and stored."""
        folder = f"op-{uuid.uuid4().hex[:8]}"
        openbao.put_kv(f"{folder}/openai", {"key": "sk-operator-per-provider"})
        token_file = tmp_path / "vault-token"
        token_file.write_text(openbao.root_token)
        token_file.chmod(0o600)
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            openbao.address + "/",
            "--vault-token-file",
            str(token_file),
            "--vault-kv-version",
            "2",
            "--vault-mount",
            "secret",
            "--vault-path",
            f"{folder}/{{provider}}",
            "--vault-field",
            "key",
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(config_path.read_text())["secrets"]["sources"]["vault"] == {
            "addr": openbao.address,
            "token_file": str(token_file),
            "kv_version": 2,
            "mount_point": "secret",
            "path": f"{folder}/{{provider}}",
            "field": "key",
        }
        got = run_cli("get", "openai", "--json")
        assert json.loads(got.stdout)["locator"] == f"vault:secret/{folder}/openai#key"

    def test_approle_login_is_checked_and_stored(self, config_path, openbao, tmp_path):
        """--vault-auth approle with id files and a mount: the login is verified, then saved."""
        mount = f"approle-op-{uuid.uuid4().hex[:6]}"
        openbao.request("POST", f"sys/auth/{mount}", {"type": "approle"})
        openbao.request(
            "POST",
            "sys/policies/acl/operator-read",
            {"policy": 'path "secret/data/*" { capabilities = ["read"] }'},
        )
        openbao.request(
            "POST",
            f"auth/{mount}/role/ops",
            {"token_policies": ["operator-read"], "token_ttl": "1h"},
        )
        role_id = openbao.request("GET", f"auth/{mount}/role/ops/role-id")["data"]["role_id"]
        secret_id = openbao.request("POST", f"auth/{mount}/role/ops/secret-id")["data"]["secret_id"]
        role_file, secret_file = tmp_path / "role-id", tmp_path / "secret-id"
        role_file.write_text(role_id)
        secret_file.write_text(secret_id)
        secret_file.chmod(0o600)
        openbao.put_kv("abstractcore", {"mistral": "sk-operator-approle"})
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            openbao.address,
            "--vault-auth",
            "approle",
            "--vault-role-id-file",
            str(role_file),
            "--vault-secret-id-file",
            str(secret_file),
            "--vault-auth-mount",
            mount,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "approle login accepted" in result.stdout
        assert json.loads(config_path.read_text())["secrets"]["sources"]["vault"] == {
            "addr": openbao.address,
            "auth": {
                "method": "approle",
                "role_id_file": str(role_file),
                "secret_id_file": str(secret_file),
                "mount_point": mount,
            },
        }
        assert find_leaks([result.stdout, result.stderr], [secret_id]) == []

    def test_a_ca_bundle_makes_a_tls_vault_verifiable(self, config_path, tmp_path):
        """Without --vault-cacert the dev CA is not trusted (exit 3); with it, saved."""
        with OpenBaoServer(tls=True) as server:
            arguments = ("--set-secrets-provider", "vault", "--vault-addr", server.address)
            untrusted = run_cli(*arguments, "--vault-token", stdin="root\n")
            assert untrusted.returncode == 3
            assert "fix: give the CA bundle that signs it: --vault-cacert FILE" in untrusted.stdout
            trusted = run_cli(
                *arguments, "--vault-cacert", server.ca_path, "--vault-token", stdin="root\n"
            )
            assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        saved = json.loads(config_path.read_text())["secrets"]["sources"]["vault"]
        assert saved["verify"] == server.ca_path

    def test_aws_with_an_endpoint(self, config_path, moto_server, aws_admin):
        """--aws-endpoint-url (moto here): verified, stored, then used by get."""
        aws_admin.create_secret(Name="abstractcore/groq", SecretString="gsk-operator-aws")
        result = run_cli(
            "--set-secrets-provider",
            "aws",
            "--aws-region",
            "us-east-1",
            "--aws-endpoint-url",
            moto_server,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(config_path.read_text())["secrets"]["sources"] == {
            "aws": {"region": "us-east-1", "endpoint_url": moto_server}
        }
        assert run_cli("get", "groq", "--reveal").stdout == "gsk-operator-aws\n"

    def test_a_chain_without_the_source_is_warned_about(self, config_path, openbao):
        """ABSTRACTCORE_SECRETS_CHAIN leaves vault out: saved, with a warning saying so."""
        result = run_cli(
            "--set-secrets-provider",
            "vault",
            "--vault-addr",
            openbao.address,
            "--vault-token",
            stdin="root\n",
            env={"ABSTRACTCORE_SECRETS_CHAIN": "env,config"},
        )
        assert result.returncode == 0, result.stderr
        assert "warning: the chain (env > config) does not include vault" in result.stderr


class TestSetKey:
    def test_a_typo_is_refused_with_the_provider_meant(self, config_path):
        """`set-key opneai`: exit 2 naming openai; nothing written; --custom-provider stores."""
        result = run_cli("set-key", "opneai", stdin="sk-operator-typo\n")
        assert result.returncode == 2
        assert result.stderr == (
            "error: 'opneai' is not a known provider; did you mean 'openai'? Run: "
            "abstractcore-secrets set-key openai. To store a key under 'opneai' anyway, add "
            "--custom-provider. Nothing was stored\n"
        )
        assert not config_path.exists()
        forced = run_cli("set-key", "opneai", "--custom-provider", stdin="sk-operator-typo\n")
        assert forced.returncode == 0, forced.stderr
        assert json.loads(config_path.read_text())["api_keys"] == {"opneai": "sk-operator-typo"}

    @pytest.mark.parametrize(
        ("typed", "meant"),
        [
            ("gemini", "google"),
            ("hf", "huggingface"),
            ("antropic", "anthropic"),
            ("mistal", "mistral"),
        ],
    )
    def test_aliases_and_typos_point_to_the_known_name(self, config_path, typed, meant):
        """A variable's stem or a close spelling names the provider it belongs to."""
        result = run_cli("set-key", typed, stdin="sk-operator-alias\n")
        assert result.returncode == 2
        assert f"did you mean '{meant}'?" in result.stderr

    def test_a_new_provider_is_stored_with_a_note_of_its_variable(self, config_path):
        """A name close to no known one is stored; a note gives its variable."""
        result = run_cli("set-key", "deepseek", stdin="sk-operator-deepseek\n")
        assert result.returncode == 0
        assert result.stderr == (
            "note: 'deepseek' is not one of the known providers; its variable is DEEPSEEK_API_KEY\n"
        )

    @pytest.mark.parametrize(
        ("stdin", "problem"),
        [
            ("sk-operator two\n", "holds spaces or control characters inside it"),
            ("sk-operator\tbad\n", "holds spaces or control characters inside it"),
            ("sk-\x07bell\n", "holds spaces or control characters inside it"),
            ("   \n", "no openai key was given (an empty line)"),
            (b"sk-\xc3\x28\n", "is not UTF-8 text (not echoed)"),
        ],
        ids=["space", "tab", "control", "blank", "not-utf8"],
    )
    def test_a_value_the_resolver_would_refuse_is_not_stored(self, config_path, stdin, problem):
        """The resolver's own rule, applied before writing: exit 2, the file untouched."""
        before = write_config(config_path, {"api_keys": {"openai": "sk-operator-kept"}})
        result = run_cli("set-key", "openai", stdin=stdin)
        assert result.returncode == 2
        assert problem in result.stderr
        assert config_path.read_bytes() == before
        assert "sk-operator" not in result.stderr

    def test_surrounding_blanks_and_crlf_are_trimmed(self, config_path):
        """A pasted key with a trailing space and a CRLF is stored as the key alone."""
        result = run_cli("set-key", "openai", stdin="  sk-operator-trimmed \r\n")
        assert result.returncode == 0, result.stderr
        assert json.loads(config_path.read_text())["api_keys"] == {"openai": "sk-operator-trimmed"}
        assert run_cli("get", "openai", "--reveal").stdout == "sk-operator-trimmed\n"

    @pytest.mark.parametrize("variable", ["OPENAI_API_KEY", "OPENAI_API_KEY_FILE"])
    def test_a_variable_that_shadows_the_key_is_named(self, config_path, tmp_path, variable):
        """Stored, and warned: the variable is read first while it is set."""
        result = run_cli(
            "set-key", "openai", stdin="sk-operator-shadowed\n", env={variable: str(tmp_path)}
        )
        assert result.returncode == 0
        assert (
            f"warning: {variable} is set in this environment and is read before the config "
            f"file: while it is set, openai resolves to it, not to the key just stored "
            f"(unset {variable} to use the stored key)"
        ) in result.stderr

    def test_a_chain_without_the_config_file_is_named(self, config_path):
        """secrets.chain leaves the config file out: the stored key would never be read."""
        result = run_cli(
            "set-key",
            "openai",
            stdin="sk-operator-unread\n",
            env={"ABSTRACTCORE_SECRETS_CHAIN": "env"},
        )
        assert result.returncode == 0
        assert "the chain (env) does not read the config file" in result.stderr

    def test_a_key_shaped_provider_speaks_cli(self, config_path):
        """A key given as PROVIDER: exit 3, told in the CLI's terms, not Python's."""
        key = canary("sk-proj")
        result = run_cli("set-key", key, stdin="x\n")
        assert result.returncode == 3
        assert "api_key=" not in result.stderr
        assert "PROVIDER looks like an API key, not a provider name" in result.stderr
        assert find_leaks([result.stdout, result.stderr], [key]) == []


@pytest.fixture
def down_vault(config_path):
    """The config file holds openai's key; vault, configured before it, is not running."""
    write_config(
        config_path,
        {
            "api_keys": {"openai": "sk-operator-config"},
            "secrets": {"sources": {"vault": {"addr": dead_address(), "token": "t"}}},
        },
    )


class TestFailuresAreTold:
    def test_status_marks_the_degraded_answer_and_says_why(self, down_vault):
        """A note on the row, the failure with its message under the table; exit 0."""
        result = run_cli("status", "openai", "groq")
        assert result.returncode == 5  # groq: vault failed and nobody else has it
        rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[4:7]}
        assert rows["openai"][1:3] == ["found", "config"]
        assert rows["openai"][-1] == "degraded"
        assert rows["groq"][1] == "error"
        assert "failures:" in result.stdout
        assert (
            "  vault unavailable for openai, groq: vault:secret/abstractcore#openai: cannot "
            "connect to Vault"
        ) in result.stdout
        assert "run 'abstractcore-secrets doctor'" in result.stdout

    def test_status_strict_fails_on_a_degraded_answer(self, down_vault):
        """Without --strict, listing all providers exits 0; with it, a failed source exits 5."""
        assert run_cli("status").returncode == 0
        assert run_cli("status", "--strict").returncode == 5
        assert run_cli("status", "openai", "--strict").returncode == 5
        assert run_cli("status", "openai").returncode == 0

    def test_status_strict_passes_when_nothing_failed(self, config_path):
        """Every source fine: --strict exits 0 (keys missing are not failures)."""
        write_config(config_path, {"api_keys": {"openai": "sk-operator-fine"}})
        assert run_cli("status", "--strict").returncode == 0

    def test_status_json_carries_the_reasons(self, down_vault):
        """Each row lists its failed sources with their messages."""
        row = json.loads(run_cli("status", "openai", "--json").stdout)["providers"][0]
        assert row["note"] == "degraded"
        [reason] = row["reasons"]
        assert reason["source"] == "vault"
        assert reason["error_type"] == "unavailable"
        assert "cannot connect to Vault" in reason["message"]
        vault_attempt = row["attempts"][1]
        assert vault_attempt["error"] == reason["message"]

    def test_get_marks_and_explains(self, down_vault):
        """get: the degraded note, the failure, and on stderr the warning naming vault."""
        result = run_cli("get", "openai")
        assert result.returncode == 0
        assert result.stdout.splitlines()[1].split()[-1] == "degraded"
        assert "vault unavailable for openai" in result.stdout
        assert "warning: openai: degraded, answered by config (vault: unavailable)" in result.stderr

    def test_get_reveal_keeps_stdout_for_the_key(self, down_vault):
        """With --reveal, the reason goes to stderr: stdout holds the key alone."""
        result = run_cli("get", "openai", "--reveal")
        assert (result.returncode, result.stdout) == (0, "sk-operator-config\n")
        assert "cannot connect to Vault" in result.stderr

    def test_output_fits_the_terminal_and_stays_whole_when_piped(self, down_vault, config_path):
        """COLUMNS=80: tables elide the middle of locators, prose wraps; piped: lines whole.

        Only a line holding one word longer than the rest of the line allows (a test's long
        temporary path) may pass the width: a path is never cut in two.
        """
        for command in (("status", "openai"), ("doctor", "openai"), ("get", "openai")):
            fitted = run_cli(*command, env={"COLUMNS": "80"})
            too_long = [
                line
                for line in fitted.stdout.splitlines()
                if len(line) > 80 and max(map(len, line.split())) < 60
            ]
            assert too_long == []
            whole = run_cli(*command)
            assert any(len(line) > 80 for line in whole.stdout.splitlines())
        row = run_cli("status", "openai", env={"COLUMNS": "80"}).stdout.splitlines()[5]
        assert "…" in row
        assert "abstractcore.json#api_keys.openai" not in row  # elided, but
        assert "#api_keys.openai" in row  # its end, which names the key, is kept

    def test_get_a_typo_hints_at_the_known_name(self, config_path):
        """Nothing for 'opneai': exit 1, with the provider probably meant."""
        result = run_cli("get", "opneai")
        assert result.returncode == 1
        assert "warning: 'opneai' is not a known provider; did you mean 'openai'?" in result.stderr


# --- long audit work ------------------------------------------------------------------------


@pytest.fixture
def journal(tmp_path, signing_key, public_key_file):
    """A journal of 3,000 events with checkpoints; returns its path."""
    path = tmp_path / "audit.jsonl"
    writer = Journal(path, signing_key, checkpoint_every=500)
    for number in range(3000):
        writer(
            {
                "time": f"2026-11-28T10:{number // 60 % 60:02d}:{number % 60:02d}+00:00",
                "event": "secret.resolved",
                "outcome": "found",
                "provider": "openai",
                "pad": "x" * 200,
            }
        )
    writer.close()
    return path


class TestProgress:
    @pytest.mark.parametrize(
        ("arguments", "label"),
        [
            (("audit", "verify", "{journal}", "--key", "{key}"), "verifying"),
            (("audit", "export", "{journal}"), "exporting"),
            (("audit", "report", "{journal}", "-o", "{out}/r.html"), "reporting"),
            (
                ("audit", "export", "{journal}", "--evidence", "{out}/e", "--key", "{key}"),
                "writing evidence",
            ),
        ],
        ids=["verify", "export", "report", "evidence"],
    )
    def test_a_terminal_shows_a_bar_that_ends_at_100(
        self, tmp_path, journal, public_key_file, arguments, label
    ):
        """stderr on a terminal: the label, the journal's size, and 100% at the end."""
        given = [a.format(journal=journal, key=public_key_file, out=tmp_path) for a in arguments]
        result = run_cli_on_terminal(*given)
        assert result.returncode == 0, result.stderr
        size = f"{journal.stat().st_size / 1024 / 1024:.1f} MB"
        assert f"{label} {size}" in result.stderr
        assert "100%" in result.stderr
        quiet = run_cli_on_terminal(*given, "--quiet")
        assert label not in quiet.stderr
        piped = run_cli(*given)
        assert label not in piped.stderr

    def test_the_read_position_follows_every_open(self, tmp_path):
        """Bytes read are summed over each opening of a watched file, however often."""
        path = tmp_path / "watched.bin"
        path.write_bytes(b"x" * 100_000)
        position = ReadPosition([path])
        assert position.sample() == 0
        with path.open("rb", buffering=0) as stream:
            stream.read(30_000)
            assert position.sample() == 30_000
        with path.open("rb", buffering=0) as stream:
            stream.read(10_000)
            assert position.sample() == 40_000
        assert position.sample() == 40_000


class TestAuditInputs:
    def test_a_key_that_is_no_pem(self, tmp_path, journal):
        """--key pointing at text: exit 2, and the command that prints the right key."""
        wrong = tmp_path / "wrong.pem"
        wrong.write_text("not a key\n")
        result = run_cli("audit", "verify", str(journal), "--key", str(wrong))
        assert result.returncode == 2
        assert result.stderr == (
            f"error: --key {wrong} holds no key in PEM; give the journal's Ed25519 public key "
            "in PEM: 'abstractcore-secrets audit public-key' prints it on the host that writes "
            "the journal\n"
        )

    @pytest.mark.parametrize(
        ("kind", "problem"),
        [
            ("folder", "is not a file"),
            ("binary", "holds no key in PEM"),
            ("encrypted", "holds an encrypted private key"),
            ("rsa", "holds a key of type RSA, not Ed25519"),
        ],
    )
    def test_other_unusable_keys(self, tmp_path, journal, kind, problem):
        """A folder, random bytes, an encrypted key, an RSA key: exit 2, never 70."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        path = tmp_path / "key.pem"
        if kind == "folder":
            path.mkdir()
        elif kind == "binary":
            path.write_bytes(os.urandom(300))
        elif kind == "encrypted":
            path.write_bytes(
                Ed25519PrivateKey.generate().private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.BestAvailableEncryption(b"pass"),
                )
            )
        else:
            path.write_bytes(
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
                .public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        result = run_cli("audit", "verify", str(journal), "--key", str(path))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"error: --key {path} {problem}")

    def test_another_journals_key_is_a_finding_with_a_note(self, tmp_path, journal):
        """A valid Ed25519 key of another journal: exit 1, and a note that --key may be wrong."""
        other = tmp_path / "other.pub"
        other.write_bytes(
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        result = run_cli("audit", "verify", str(journal), "--key", str(other))
        assert result.returncode == 1
        assert "forged checkpoint: wrong key or head" in result.stdout
        assert "note: a checkpoint is signed by another key than --key" in result.stderr

    @pytest.mark.parametrize("command", ["verify", "export", "report", "find-key"])
    def test_a_folder_or_a_pipe_as_journal(self, tmp_path, public_key_file, command):
        """A folder or a FIFO given as a journal: exit 2 at once; a FIFO never blocks."""
        fifo = tmp_path / "journal.fifo"
        os.mkfifo(fifo)
        for given, why in ((tmp_path, "a folder"), (fifo, "not a regular file")):
            arguments = {
                "verify": ("audit", "verify", str(given), "--key", str(public_key_file)),
                "export": ("audit", "export", str(given)),
                "report": ("audit", "report", str(given), "-o", str(tmp_path / "r.html")),
                "find-key": ("audit", "find-key", str(given)),
            }[command]
            result = run_cli(*arguments, stdin="sk-operator-leak\n", timeout=20)
            assert result.returncode == 2, result.stderr
            assert f"cannot be read: {why}" in result.stderr

    def test_a_journal_that_is_not_utf8_or_is_cut(self, tmp_path, journal, public_key_file):
        """Bytes that are not UTF-8 and a torn last line: findings (exit 1), exports warn."""
        damaged = tmp_path / "damaged.jsonl"
        lines = journal.read_bytes().splitlines(keepends=True)
        damaged.write_bytes(b"".join(lines[:10]) + b"\xff\xfe\x00garbage\n" + lines[10][:40])
        verified = run_cli("audit", "verify", str(damaged), "--key", str(public_key_file))
        assert verified.returncode == 1
        assert f"{damaged}:11: not a JSON record" in verified.stdout
        exported = run_cli("audit", "export", str(damaged))
        assert exported.returncode == 0
        assert len(exported.stdout.splitlines()) == 10
        assert "skipped 2 line(s)" in exported.stderr

    def test_a_file_name_that_is_not_utf8(self, tmp_path, journal, public_key_file):
        """A journal whose name is not UTF-8: its finding names it (U+FFFD), never exit 70."""
        odd = tmp_path / os.fsdecode(b"audit-\xff.jsonl")
        odd.write_bytes(journal.read_bytes() + b"appended\n")
        command = [sys.executable, "-m", "abstractcore_secrets", "audit", "verify", "--key"]
        result = subprocess.run(
            [*command, str(public_key_file), os.fsencode(odd)], capture_output=True, check=False
        )
        assert result.returncode == 1, result.stderr
        assert "audit-\ufffd.jsonl:3008: not a JSON record".encode() in result.stdout
        assert result.stderr == b""

    def test_outputs_that_cannot_be_written(self, tmp_path, journal, public_key_file):
        """A report into a missing folder, a bundle into a file: exit 2 before any reading."""
        report = run_cli("audit", "report", str(journal), "-o", str(tmp_path / "no" / "r.html"))
        assert report.returncode == 2
        assert "cannot write the report to" in report.stderr
        a_file = tmp_path / "taken"
        a_file.write_text("")
        bundle = run_cli(
            "audit",
            "export",
            str(journal),
            "--evidence",
            str(a_file),
            "--key",
            str(public_key_file),
        )
        assert bundle.returncode == 2
        assert "cannot write the evidence bundle into" in bundle.stderr
        nested = tmp_path / "new" / "bundle"
        made = run_cli(
            "audit",
            "export",
            str(journal),
            "--evidence",
            str(nested),
            "--key",
            str(public_key_file),
        )
        assert made.returncode == 0, made.stderr
        assert (nested / "MANIFEST.sha256").is_file()

    def test_a_reader_that_leaves_early_ends_the_export_quietly(self, journal):
        """`export | head -1`: the head line, and no 'internal error' when the pipe closes."""
        result = subprocess.run(  # noqa: S602 - a fixed pipeline: the user's usual one
            f"{sys.executable} -m abstractcore_secrets audit export {journal} | head -1",
            shell=True,
            capture_output=True,
            text=True,
            check=False,
        )
        assert len(result.stdout.splitlines()) == 1
        assert "internal error" not in result.stderr


@pytest.mark.server
def test_stopped_vault_through_every_command(config_path):
    """A Vault that was up and then stopped: status, get and doctor all tell the same cause."""
    with OpenBaoServer() as server:
        server.put_kv("abstractcore", {"openai": "sk-operator-vault"})
        write_config(
            config_path,
            {
                "api_keys": {"openai": "sk-operator-file"},
                "secrets": {"sources": {"vault": {"addr": server.address, "token": "root"}}},
            },
        )
        assert run_cli("get", "openai", "--reveal").stdout == "sk-operator-vault\n"
    status = run_cli("status", "openai")
    got = run_cli("get", "openai")
    doctor = run_cli("doctor", "openai")
    assert (status.returncode, got.returncode, doctor.returncode) == (0, 0, 5)
    for output in (status.stdout, got.stdout):
        assert "cannot connect to Vault" in output
        assert "degraded" in output
    assert "nothing listens at" in doctor.stdout
    assert "sk-operator" not in "".join(r.stdout + r.stderr for r in (status, got, doctor))
