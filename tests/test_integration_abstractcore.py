"""AbstractCore with the chain: ``install()``, the proposal's order with AbstractCore imported,
its provider names, and keys rotated under running providers.

Each scenario runs in a child process, as an application would: importing AbstractCore
changes the process for good (it copies its config file's keys into ``os.environ`` and sets
the root logger's level), so it never happens in the test process. The child talks to the
session's OpenBao and to a fake LLM service of its own, and prints a JSON report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from clirun import run_cli

from abstractcore_secrets import ConfigFileSecretProvider, EnvironmentSecretProvider
from abstractcore_secrets._config_file import ConfigFile
from abstractcore_secrets._secret import Secret
from abstractcore_secrets.llm_providers import env_var_names, validate_provider
from abstractcore_secrets.testing.canary import canary, find_leaks

pytestmark = pytest.mark.server

_PRELUDE = '''
import asyncio, json, logging, os, sys
import hvac
from abstractcore_secrets import build_secrets_manager, get_secrets_manager, set_secrets_manager
from abstractcore_secrets.audit import principal
from abstractcore_secrets.testing import capture_audit_events, capture_telemetry
from abstractcore_secrets.testing.fake_llm import FakeLLMServer

VAULT = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["TEST_VAULT_ROOT"])
report = {}
cleanups = []  # run at the end, last first: servers stopped, captures ended

def store(provider, value):
    """Write (or rotate) a key in Vault, as an operator would."""
    VAULT.secrets.kv.v2.create_or_update_secret(
        path=os.environ["TEST_VAULT_PATH"], secret={provider: value}, mount_point="secret"
    )

def audited(events):
    return [[e["event"], e["provider"], e["source"], (e["user"] or {}).get("id")]
            for e in events if e["event"] != "secret.accessed"]

def provenance(resolution):
    return None if resolution is None else [resolution.source, resolution.locator]
'''


@dataclass
class Child:
    """What a child process printed: its report, and everything it wrote."""

    report: dict[str, Any]
    stdout: str
    stderr: str


@dataclass
class Scenario:
    """The setting a child runs in: an isolated home, a config file, a Vault path."""

    home: Path
    config_path: Path
    vault_address: str
    vault_path: str
    root_token: str

    def config(self, api_keys: dict[str, str] | None = None, chain: str = "env,vault,config"):
        """Write the config file (0600): AbstractCore's ``api_keys`` and our ``secrets``."""
        vault = {"addr": self.vault_address, "path": f"secret/data/{self.vault_path}"}
        document: dict[str, Any] = {
            "secrets": {"chain": chain.split(","), "sources": {"vault": vault}}
        }
        if api_keys is not None:
            document["api_keys"] = api_keys
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(document))
        self.config_path.chmod(0o600)

    def run(self, *parts: str, env: dict[str, str] | None = None, token: str | None = None):
        """Run the prelude then ``parts`` in a fresh interpreter; return its report."""
        body = "".join(textwrap.dedent(part) for part in parts)
        code = (
            _PRELUDE
            + body
            + "\nprint('REPORT ' + json.dumps(report))\n"
            + "for undo in reversed(cleanups):\n    undo()\n"
        )
        environment = {
            **os.environ,
            "VAULT_ADDR": self.vault_address,
            "VAULT_TOKEN": token or self.root_token,
            "TEST_VAULT_ROOT": self.root_token,
            "TEST_VAULT_PATH": self.vault_path,
            **(env or {}),
        }
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
            check=False,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("REPORT ")]
        assert result.returncode == 0, result.stderr[-4000:]
        assert lines, result.stdout[-4000:]
        return Child(json.loads(lines[-1][len("REPORT ") :]), result.stdout, result.stderr)


@pytest.fixture
def scenario(isolated_environment: Path, config_path: Path, openbao) -> Scenario:
    """A home of the test's own, a Vault path of its own; no config file yet."""
    pytest.importorskip(
        "abstractcore",
        reason="AbstractCore is not installed: pip install --no-deps 'abstractcore==2.30.0'",
    )
    return Scenario(
        isolated_environment,
        config_path,
        openbao.address,
        f"ac-{uuid.uuid4().hex[:12]}",
        openbao.root_token,
    )


# The common start of a scenario: a fake service accepting Vault's key, the manager built as
# applications build it (with its telemetry and audit captured), then install().
_START = """
store("openai", "sk-vault-one")
import abstractcore
from abstractcore import create_llm
from abstractcore_secrets.integrations.abstractcore import (
    install, installed, resolution_of, uninstall
)
fake = FakeLLMServer(keys=["sk-vault-one"]).start()
cleanups.append(fake.stop)
telemetry_capture = capture_telemetry()
telemetry = telemetry_capture.__enter__()
cleanups.append(lambda: telemetry_capture.__exit__(None, None, None))
events_capture = capture_audit_events()
events = events_capture.__enter__()
cleanups.append(lambda: events_capture.__exit__(None, None, None))
set_secrets_manager(build_secrets_manager(telemetry=telemetry.telemetry))
install()
"""


class TestInstall:
    def test_create_llm_without_a_key_takes_vaults_with_provenance_audit_and_telemetry(
        self, scenario
    ):
        """AbstractCore exported the file's key into OPENAI_API_KEY; Vault still wins, and
        the resolution is traced, measured and audited for the principal."""
        scenario.config({"openai": "sk-file"})
        child = scenario.run(
            _START,
            """
            with principal("alice"):
                llm = create_llm("openai", model=fake.model, base_url=fake.base_url)
                report["reply"] = llm.generate("ping").content
            report["installed"] = installed()
            report["copied"] = os.environ.get("OPENAI_API_KEY") == "sk-file"
            report["provenance"] = provenance(resolution_of(llm))
            report["seen"] = [[r.path, r.status, r.key] for r in fake.requests]
            report["audited"] = audited(events)
            report["spans"] = sorted({
                (s.name, s.attributes.get("secrets.provider"), s.attributes.get("secrets.source"),
                 s.attributes.get("enduser.id"))
                for s in telemetry.spans() if s.name == "secrets.resolve"})
            report["metrics"] = sorted(telemetry.metrics())
            """,
        )
        assert child.report["reply"] == "pong"
        assert (child.report["installed"], child.report["copied"]) == (True, True)
        assert child.report["provenance"] == ["vault", f"vault:secret/{scenario.vault_path}#openai"]
        assert child.report["seen"] == [
            ["/v1/models", 200, "sk-vault-one"],
            ["/v1/chat/completions", 200, "sk-vault-one"],
        ]
        assert child.report["audited"] == [["secret.resolved", "openai", "vault", "alice"]]
        assert child.report["spans"] == [["secrets.resolve", "openai", "vault", "alice"]]
        assert "abstractcore.secrets.resolutions" in child.report["metrics"]

    def test_an_explicit_key_wins_and_is_recorded_as_explicit(self, scenario):
        """create_llm(api_key=...) is the first tier: used as given, audited as explicit."""
        scenario.config()
        child = scenario.run(
            _START,
            """
            fake.accept("sk-explicit")
            llm = create_llm("openai", model=fake.model, base_url=fake.base_url,
                             api_key="sk-explicit")
            report["provenance"] = provenance(resolution_of(llm))
            report["keys"] = sorted({r.key for r in fake.requests})
            report["audited"] = audited(events)
            """,
        )
        assert child.report == {
            "provenance": ["explicit", "parameter"],
            "keys": ["sk-explicit"],
            "audited": [["secret.resolved", "openai", "explicit", None]],
        }

    def test_a_key_given_to_configure_provider_counts_as_explicit(self, scenario):
        """AbstractCore's runtime configuration is the caller's choice too."""
        scenario.config()
        child = scenario.run(
            _START,
            """
            from abstractcore.config import configure_provider
            configure_provider("openai", api_key="sk-configured")
            fake.accept("sk-configured")
            llm = create_llm("openai", model=fake.model, base_url=fake.base_url)
            report["provenance"] = provenance(resolution_of(llm))
            report["keys"] = sorted({r.key for r in fake.requests})
            """,
        )
        assert child.report == {"provenance": ["explicit", "parameter"], "keys": ["sk-configured"]}

    def test_uninstall_gives_create_llm_back_its_own_lookup(self, scenario):
        """After uninstall(), AbstractCore reads its variable again (here, its copy of the
        file's key), and the provider has no provenance."""
        scenario.config({"openai": "sk-file"})
        child = scenario.run(
            _START,
            """
            uninstall()
            fake.accept("sk-file")
            llm = create_llm("openai", model=fake.model, base_url=fake.base_url)
            report["installed"] = installed()
            report["provenance"] = provenance(resolution_of(llm))
            report["keys"] = sorted({r.key for r in fake.requests})
            """,
        )
        assert child.report == {"installed": False, "provenance": None, "keys": ["sk-file"]}

    def test_installing_twice_wraps_once_and_takes_the_new_manager(self, scenario):
        """A second install() replaces the settings; uninstall() then restores AbstractCore."""
        scenario.config()
        child = scenario.run(
            _START,
            """
            from abstractcore.providers.registry import get_provider_registry, ProviderRegistry
            from abstractcore_secrets import SecretsManager
            from abstractcore_secrets.testing import InMemorySecretProvider
            install(SecretsManager([InMemorySecretProvider({"openai": "sk-memory"})]))
            fake.accept("sk-memory")
            llm = create_llm("openai", model=fake.model, base_url=fake.base_url)
            report["provenance"] = provenance(resolution_of(llm))
            uninstall()
            registry = get_provider_registry()
            report["restored"] = (
                registry.create_provider_instance.__func__
                is ProviderRegistry.create_provider_instance
            )
            """,
        )
        assert child.report == {"provenance": ["memory", "memory:openai"], "restored": True}


_ORDER = """
import abstractcore
from abstractcore_secrets.integrations.abstractcore import install, resolution_of
from abstractcore import create_llm
labels = {"sk-env": "env value", "sk-vault": "vault value", "sk-file": "file value"}
resolution = get_secrets_manager().resolve("openai")
report["resolved"] = [resolution.source, resolution.locator, labels[resolution.value.reveal()]]
report["variable_now"] = labels.get(os.environ.get("OPENAI_API_KEY"))
with FakeLLMServer(keys=list(labels)) as fake:
    install()
    llm = create_llm("openai", model=fake.model, base_url=fake.base_url)
    report["sent"] = sorted({labels[r.key] for r in fake.requests})
"""


class TestOrderWithAbstractCoreImported:
    @pytest.mark.parametrize(
        ("environment", "in_vault", "expected"),
        [
            pytest.param(
                {"OPENAI_API_KEY": "sk-env"},
                True,
                ["env", "env:OPENAI_API_KEY", "env value"],
                id="a real variable, overwritten by AbstractCore, still wins",
            ),
            pytest.param(
                {},
                True,
                ["vault", "vault:secret/{path}#openai", "vault value"],
                id="AbstractCore's copy of the file is not the environment: Vault wins",
            ),
            pytest.param(
                {},
                False,
                ["config", "{config}#api_keys.openai", "file value"],
                id="the copy is found where it comes from: the config file",
            ),
            pytest.param(
                {"OPENAI_API_KEY": "sk-file"},
                True,
                ["env", "env:OPENAI_API_KEY", "file value"],
                id="a real variable equal to the file's key is still the environment",
            ),
        ],
    )
    def test_the_proposals_order_holds(self, scenario, environment, in_vault, expected):
        """explicit > env > managed > config, whatever AbstractCore copied into os.environ;
        create_llm sends the key the chain chose."""
        scenario.config({"openai": "sk-file"})
        store = 'store("openai", "sk-vault")\n' if in_vault else ""
        child = scenario.run(store + _ORDER, env=environment)
        resolved = [
            part.format(path=scenario.vault_path, config=scenario.config_path) for part in expected
        ]
        assert child.report == {
            "resolved": resolved,
            "variable_now": "file value",  # AbstractCore did overwrite it
            "sent": [resolved[2]],
        }

    def test_without_abstractcores_ledger_a_copy_of_the_files_key_is_the_config_tier(
        self, scenario
    ):
        """Older AbstractCore keeps no record of its exports: a variable equal to a key of
        its config is taken as its copy."""
        scenario.config({"openai": "sk-file"})
        child = scenario.run(
            """
            import abstractcore
            from abstractcore.config import get_config_manager
            del get_config_manager()._exported_api_key_env
            resolution = get_secrets_manager().resolve("openai")
            report["resolved"] = [resolution.source, resolution.value.reveal()]
            """
        )
        assert child.report == {"resolved": ["config", "sk-file"]}

    def test_a_variable_changed_after_abstractcores_import_is_the_environment(self, scenario):
        """The ledger holds what AbstractCore wrote: a value set since is the caller's."""
        scenario.config({"openai": "sk-file"})
        child = scenario.run(
            """
            import abstractcore
            os.environ["OPENAI_API_KEY"] = "sk-set-later"
            resolution = get_secrets_manager().resolve("openai")
            report["resolved"] = [resolution.source, resolution.value.reveal()]
            """
        )
        assert child.report == {"resolved": ["env", "sk-set-later"]}


class TestNames:
    def test_the_former_spelling_is_the_same_provider(self):
        """openai-compatible is accepted and becomes AbstractCore's openai_compatible."""
        assert validate_provider("OpenAI-Compatible") == "openai_compatible"
        assert validate_provider("openai_compatible") == "openai_compatible"

    def test_openai_compatible_reads_its_variable_then_abstractcores(self):
        """Its own variable first, then OPENAI_API_KEY, which AbstractCore's provider reads."""
        assert env_var_names("openai_compatible") == ("OPENAI_COMPATIBLE_API_KEY", "OPENAI_API_KEY")
        assert env_var_names("openai-compatible") == env_var_names("openai_compatible")
        source = EnvironmentSecretProvider({"OPENAI_API_KEY": "sk-shared"})
        record = source.fetch("openai_compatible")
        assert record is not None
        assert (record.secret.reveal(), record.locator) == ("sk-shared", "env:OPENAI_API_KEY")

    def test_a_file_written_with_the_former_spelling_still_serves_the_key(self, config_path):
        """api_keys["openai-compatible"] (set-key before the rename) is read, under its name."""
        config_path.parent.mkdir(parents=True)
        config_path.write_text(json.dumps({"api_keys": {"openai-compatible": "sk-old-spelling"}}))
        config_path.chmod(0o600)
        record = ConfigFileSecretProvider().fetch(validate_provider("openai-compatible"))
        assert record is not None
        assert (record.secret.reveal(), record.locator) == (
            "sk-old-spelling",
            f"{config_path}#api_keys.openai-compatible",
        )

    def test_the_current_spelling_wins_and_writing_drops_the_former(self, config_path):
        """Both spellings present: AbstractCore's is read; a write keeps one entry."""
        config_path.parent.mkdir(parents=True)
        keys = {"openai-compatible": "sk-former", "openai_compatible": "sk-current"}
        config_path.write_text(json.dumps({"api_keys": keys, "other": {"kept": True}}))
        config_path.chmod(0o600)
        assert ConfigFileSecretProvider().get_secret("openai_compatible") == "sk-current"
        ConfigFile().write_api_key("openai_compatible", Secret("sk-written"))
        assert json.loads(config_path.read_text()) == {
            "api_keys": {"openai_compatible": "sk-written"},
            "other": {"kept": True},
        }

    def test_set_key_openai_compatible_stores_what_abstractcore_reads(self, scenario):
        """The CLI's set-key writes AbstractCore's field; AbstractCore exports it, the chain
        finds it in the file, and create_llm("openai-compatible") sends it."""
        scenario.config()
        stored = run_cli("set-key", "openai-compatible", stdin="sk-compatible\n")
        assert stored.returncode == 0, stored.stderr
        assert json.loads(scenario.config_path.read_text())["api_keys"] == {
            "openai_compatible": "sk-compatible"
        }
        child = scenario.run(
            """
            import abstractcore
            from abstractcore import create_llm
            from abstractcore_secrets.integrations.abstractcore import install, resolution_of
            report["abstractcore_reads"] = (
                abstractcore.config.get_config_manager().config.api_keys.openai_compatible
                == "sk-compatible"
            )
            with FakeLLMServer(keys=["sk-compatible"]) as fake:
                install()
                llm = create_llm("openai-compatible", model=fake.model, base_url=fake.base_url)
                report["reply"] = llm.generate("ping").content
                report["provenance"] = provenance(resolution_of(llm))
            """
        )
        assert child.report == {
            "abstractcore_reads": True,
            "reply": "pong",
            "provenance": ["config", f"{scenario.config_path}#api_keys.openai_compatible"],
        }


class TestRotation:
    def test_a_key_rotated_in_vault_reaches_a_running_provider_through_one_401(self, scenario):
        """The next request after a rotation is refused once, re-resolved, retried, and
        succeeds; the provider's own copy and its provenance follow."""
        scenario.config()
        child = scenario.run(
            _START,
            """
            llm = create_llm("openai", model=fake.model, base_url=fake.base_url)
            llm.generate("ping")
            store("openai", "sk-vault-two")
            fake.accept("sk-vault-two")
            report["reply"] = llm.generate("ping").content
            report["statuses"] = fake.statuses()
            resolution = resolution_of(llm)
            report["version"] = resolution.version
            report["api_key_followed"] = llm.api_key == "sk-vault-two"
            report["audited"] = audited(events)
            """,
        )
        assert child.report == {
            "reply": "pong",
            "statuses": [200, 200, 401, 200],
            "version": "2",
            "api_key_followed": True,
            "audited": [
                ["secret.resolved", "openai", "vault", None],
                ["secret.resolved", "openai", "vault", None],
                ["secret.rotated", "openai", "vault", None],
            ],
        }

    def test_a_key_rotated_before_create_llm_is_retried_at_creation(self, scenario):
        """AbstractCore lists the models when it creates a provider: the cached old key is
        refused there, and the 401 rule applies too."""
        scenario.config()
        child = scenario.run(
            _START,
            """
            get_secrets_manager().get_api_key("openai")  # cached
            store("openai", "sk-vault-two")
            fake.accept("sk-vault-two")
            llm = create_llm("openai", model=fake.model, base_url=fake.base_url)
            report["statuses"] = fake.statuses()
            report["version"] = resolution_of(llm).version
            """,
        )
        assert child.report == {"statuses": [401, 200], "version": "2"}

    def test_a_revoked_key_is_returned_as_is_without_a_loop(self, scenario):
        """Refused, and Vault still holds it: one request, one 401, AbstractCore's error."""
        scenario.config()
        child = scenario.run(
            _START,
            """
            llm = create_llm("openai", model=fake.model, base_url=fake.base_url, max_retries=0)
            fake.reset()
            fake.accept()
            try:
                llm.generate("ping")
            except Exception as error:
                report["error"] = type(error).__name__
            report["statuses"] = fake.statuses()
            """,
        )
        assert child.report == {"error": "AuthenticationError", "statuses": [401]}

    def test_the_async_path_follows_a_rotation(self, scenario):
        """A key rotated under a running provider: agenerate() is refused once, then works."""
        scenario.config()
        child = scenario.run(
            _START,
            """
            llm = create_llm("openai", model=fake.model, base_url=fake.base_url)
            store("openai", "sk-vault-two")
            fake.accept("sk-vault-two")
            report["reply"] = asyncio.run(llm.agenerate("ping")).content
            report["statuses"] = fake.statuses()
            """,
        )
        assert child.report == {"reply": "pong", "statuses": [200, 401, 200]}

    @pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
    def test_other_providers_follow_a_rotation(self, scenario, provider):
        """AbstractCore's httpx-based family and its Anthropic provider get the rule too."""
        scenario.config()
        ours = validate_provider(provider)
        base = "fake.url" if provider == "anthropic" else "fake.base_url"
        child = scenario.run(
            _START,
            f"""
            store({ours!r}, "sk-one")
            fake.accept("sk-one")
            llm = create_llm({provider!r}, model=fake.model, base_url={base})
            llm.generate("ping")
            store({ours!r}, "sk-two")
            fake.accept("sk-two")
            report["reply"] = llm.generate("ping").content
            report["keys"] = [[r.status, r.key] for r in fake.requests if r.method == "POST"]
            """,
        )
        assert child.report == {
            "reply": "pong",
            "keys": [[200, "sk-one"], [401, "sk-one"], [200, "sk-two"]],
        }


class TestFailClosed:
    def test_a_vault_that_refuses_stops_create_llm_before_abstractcore_reads_its_copy(
        self, scenario
    ):
        """A revoked Vault token: create_llm raises ResolutionDeniedError; AbstractCore never
        falls back to the file's key it copied into OPENAI_API_KEY."""
        scenario.config({"openai": "sk-file"})
        child = scenario.run(
            """
            import abstractcore
            from abstractcore import create_llm
            from abstractcore_secrets.integrations.abstractcore import install
            with FakeLLMServer(keys=["sk-file"]) as fake:
                install()
                try:
                    create_llm("openai", model=fake.model, base_url=fake.base_url)
                except Exception as error:
                    report["error"] = type(error).__name__
                report["requests"] = len(fake.requests)
            """,
            token="not-a-token",
        )
        assert child.report == {"error": "ResolutionDeniedError", "requests": 0}


class TestNoValueLeaks:
    def test_canary_keys_never_reach_the_childs_output_events_spans_or_errors(self, scenario):
        """Keys in the file (copied by AbstractCore) and in Vault (rotated, then revoked),
        with logging at DEBUG: nothing the process prints holds one."""
        in_file, first, second = canary(), canary(), canary()
        scenario.config({"openai": in_file})
        child = scenario.run(
            f"""
            logging.basicConfig(level=logging.DEBUG, force=True, stream=sys.stderr)
            store("openai", {first!r})
            import abstractcore
            logging.basicConfig(level=logging.DEBUG, force=True, stream=sys.stderr)
            from abstractcore import create_llm
            from abstractcore_secrets.integrations.abstractcore import install, resolution_of
            from abstractcore_secrets.testing.canary import exception_texts
            with FakeLLMServer(keys=[{first!r}]) as fake, capture_telemetry() as telemetry, \\
                    capture_audit_events() as events:
                set_secrets_manager(build_secrets_manager(telemetry=telemetry.telemetry))
                install()
                with principal("alice"):
                    llm = create_llm("openai", model=fake.model, base_url=fake.base_url)
                    llm.generate("ping")
                    store("openai", {second!r})
                    fake.accept({second!r})
                    llm.generate("ping")
                    fake.accept()
                    try:
                        llm.generate("ping")
                    except Exception as error:
                        texts = exception_texts(error, frame_locals=False)
                resolution = resolution_of(llm)
                print(repr(resolution), repr(llm.client._client.auth), *texts, sep="\\n")
                print(json.dumps(events, default=str))
                for span in telemetry.spans():
                    print(span.to_json())
                report["statuses"] = fake.statuses()
            """
        )
        assert child.report["statuses"] == [200, 200, 401, 200, 401]
        assert "secret.rotated" in child.stdout
        assert "HTTP Request: POST" in child.stderr  # the SDKs' logs were on, and searched
        assert find_leaks([child.stdout, child.stderr], [in_file, first, second]) == []


class TestHostileSettings:
    @pytest.mark.parametrize(
        "ledger",
        [
            '{"OPENAI_API_KEY": "not a pair"}',
            '{"OPENAI_API_KEY": (None,)}',
            '{"OPENAI_API_KEY": (12, os.environ["OPENAI_API_KEY"])}',
            '["OPENAI_API_KEY"]',
            "None",
        ],
        ids=["a string", "a 1-tuple", "a number before", "a list", "None"],
    )
    def test_a_ledger_of_another_shape_never_breaks_a_resolution(self, scenario, ledger):
        """AbstractCore's private record, in shapes it does not write: the chain answers
        (the variable read as the environment's, or as AbstractCore's copy), never raises."""
        scenario.config({"openai": "sk-file"})
        child = scenario.run(
            f"""
            import abstractcore
            from abstractcore.config import get_config_manager
            get_config_manager()._exported_api_key_env = {ledger}
            resolution = get_secrets_manager().resolve("openai")
            report["outcome"] = [resolution.outcome.value, resolution.value.reveal()]
            """
        )
        assert child.report == {"outcome": ["found", "sk-file"]}

    def test_a_config_file_that_is_not_utf8_fails_closed_without_quoting_it(self, scenario):
        """AbstractCore cannot read it and copies nothing; the chain (whose settings live in
        that file) refuses it, naming the file and never its bytes; create_llm stops there."""
        secret = canary()
        scenario.config()
        scenario.config_path.write_bytes(
            b'{"api_keys": {"openai": "' + secret.encode() + b'\xff"}}'
        )
        child = scenario.run(
            """
            import abstractcore
            from abstractcore import create_llm
            from abstractcore_secrets.integrations.abstractcore import install
            with FakeLLMServer() as fake:
                install()
                try:
                    create_llm("openai", model=fake.model, base_url=fake.base_url)
                except Exception as error:
                    report["error"] = [type(error).__name__, str(error)]
                report["requests"] = len(fake.requests)
            """,
            env={"ABSTRACTCORE_SECRETS_CHAIN": "env,config"},
        )
        name, message = child.report["error"]
        assert (name, child.report["requests"]) == ("InvalidSourceError", 0)
        assert str(scenario.config_path) in message
        assert find_leaks([child.stdout, child.stderr], [secret]) == []

    def test_a_provider_name_abstractcore_does_not_know_is_left_to_it(self, scenario):
        """A typo (opneai) is AbstractCore's to refuse: the chain is not asked for it."""
        scenario.config()
        child = scenario.run(
            _START,
            """
            try:
                create_llm("opneai", model=fake.model, base_url=fake.base_url)
            except Exception as error:
                report["error"] = type(error).__name__
            report["audited"] = audited(events)
            """,
        )
        assert child.report == {"error": "UnknownProviderError", "audited": []}

    def test_an_empty_key_for_a_server_without_auth_is_the_callers_choice(self, scenario):
        """api_key="" turns auth off for an OpenAI-compatible server: nothing is injected."""
        scenario.config()
        child = scenario.run(
            _START,
            """
            store("openai_compatible", "sk-not-for-this-server")
            try:
                create_llm("openai-compatible", model=fake.model, base_url=fake.base_url,
                           api_key="")
            except Exception as error:
                report["error"] = type(error).__name__
            report["headers"] = sorted({str(r.header) for r in fake.requests})
            report["audited"] = audited(events)
            """,
        )
        assert child.report["headers"] == ["None"]
        assert child.report["audited"] == []
