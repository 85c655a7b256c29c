"""Self-describing sources: one method to implement, one value check, specs, plugins."""

from __future__ import annotations

import inspect
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from clirun import run_cli

from abstractcore_secrets import (
    ConfigurationError,
    EnvironmentSecretProvider,
    InvalidSourceError,
    Outcome,
    Secret,
    SecretProvider,
    SecretRecord,
    SecretsManager,
    VaultSecretProvider,
    build_secrets_manager,
    load_settings,
)
from abstractcore_secrets.source_factories import (
    BUILTIN_SOURCES,
    MANAGED_SOURCES,
    find_source,
    register_source,
    source_names,
    unregister_source,
)
from abstractcore_secrets.sources import aws, azure, vault
from abstractcore_secrets.sources._values import MAX_KEY_LENGTH
from abstractcore_secrets.sources.spec import (
    ENTRY_POINT_GROUP,
    SourceSpec,
    parameter_types,
    source_spec,
)


class TeamSource(SecretProvider):
    """A third party's source: keys derived from a team name, for the tests."""

    name = "team"
    cacheable = False

    def __init__(self, team: str, *, region: str | None = None, shards: int = 1) -> None:
        self.team = team
        self.region = region or "eu"
        self.shards = shards

    def locator(self, key: str) -> str:
        return f"team:{self.region}/{self.team}/{key}"

    def fetch(self, key: str) -> SecretRecord | None:
        if key != "openai":
            return None
        value = f"sk-team-{self.team}-{self.shards}"
        return SecretRecord(Secret(value), locator=self.locator(key), version="7")


TEAM_SPEC = source_spec(TeamSource, managed=True)


class _GetSecretOnly(SecretProvider):
    """The proposal's way: only get_secret, serving whatever it is given."""

    def __init__(self, value: str) -> None:
        self.value = value

    def get_secret(self, key: str) -> str | None:
        return self.value


class _FetchOnly(SecretProvider):
    def __init__(self, value: str) -> None:
        self.value = value

    def fetch(self, key: str) -> SecretRecord | None:
        return SecretRecord(Secret(self.value), locator=f"fetch-only:{key}", version="3")


def _write_config(path: Path, document: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    path.chmod(0o600)


@pytest.fixture
def team_registered():
    """TEAM_SPEC registered for one test."""
    register_source(TEAM_SPEC)
    yield TEAM_SPEC
    unregister_source("team")


class TestSecretProvider:
    def test_fetch_only_source_gets_the_proposals_get_secret(self):
        """A source implementing fetch answers get_secret with the value."""
        assert _FetchOnly("sk-fetched-1").get_secret("openai") == "sk-fetched-1"

    def test_get_secret_only_source_gets_fetch(self):
        """A source written the proposal's way is given a fetch that wraps get_secret."""
        record = _GetSecretOnly("sk-proposal-1").fetch("openai")
        assert record == SecretRecord(Secret("sk-proposal-1"), locator="custom:openai")

    def test_empty_get_secret_is_not_found(self):
        """An empty value from get_secret counts as not set."""
        assert _GetSecretOnly("").fetch("openai") is None

    def test_a_class_implementing_neither_is_abstract(self):
        """Neither fetch nor get_secret: instantiating raises naming fetch, as the base does."""

        class Nothing(SecretProvider):
            pass

        for cls in (Nothing, SecretProvider):
            with pytest.raises(TypeError, match="abstract method fetch"):
                cls()

    def test_an_abstract_intermediate_class_can_be_completed_by_get_secret(self):
        """A subclass of a class implementing neither may implement get_secret only."""

        class Base(SecretProvider):
            name = "base"

        class Done(Base):
            def get_secret(self, key: str) -> str | None:
                return "sk-done-1"

        assert Done().fetch("openai") == SecretRecord(Secret("sk-done-1"), locator="base:openai")


BAD_VALUES = {
    "newline": "sk-first-line\nsecond-line",
    "space": "sk-half one",
    "control": "sk-bell\x07",
    "9-kib": "sk-" + "a" * (9 * 1024),
}


class TestChainChecksEveryValue:
    @pytest.mark.parametrize("value", BAD_VALUES.values(), ids=BAD_VALUES.keys())
    @pytest.mark.parametrize("source_class", [_GetSecretOnly, _FetchOnly], ids=["get", "fetch"])
    def test_custom_source_value_that_no_key_could_be_is_invalid(self, source_class, value):
        """A custom source's value with whitespace, control characters or over 8 KiB fails."""
        resolution = SecretsManager([source_class(value)], cache=None).resolve("openai")
        assert (resolution.outcome, resolution.value) == (Outcome.ERROR, None)
        assert [(a.outcome, a.error_type) for a in resolution.attempts] == [
            (Outcome.ERROR, "invalid")
        ]
        error = resolution.attempts[0].error
        assert isinstance(error, InvalidSourceError)
        assert error.__traceback__ is None  # the check's frames held the value
        assert value[:12] not in str(error)
        assert value[:12] not in repr(resolution)

    def test_key_of_the_limit_from_a_custom_source_is_served(self):
        """A custom source's key exactly 8 KiB long is served."""
        key = "k" * MAX_KEY_LENGTH
        resolution = SecretsManager([_GetSecretOnly(key)], cache=None).resolve("openai")
        assert resolution.value == Secret(key)

    def test_invalid_value_stops_the_chain(self):
        """An invalid answer fails closed: the next source is not asked."""
        lower = _FetchOnly("sk-lower-1")
        resolution = SecretsManager([_GetSecretOnly("two\nlines"), lower], cache=None).resolve(
            "openai"
        )
        assert [a.error_type for a in resolution.attempts] == ["invalid"]


class TestSpecs:
    def test_builtin_options_are_read_from_the_constructors(self):
        """Each managed source's options are its constructor's, renamed, excluded or added."""
        specs = {spec.name: spec for spec in BUILTIN_SOURCES}
        assert specs["aws"].options == parameter_types(aws.AWSSecretsProvider, exclude=("client",))
        assert specs["azure"].options == {
            "vault_url": str,
            "name_template": str,
            "version": str,
            "connect_timeout": float,
            "read_timeout": float,
        }
        assert specs["vault"].options == {
            "addr": str,
            "token": str,
            "path": str,
            "auth": dict,
            "kv_version": int,
            "mount_point": str,
            "field": str,
            "namespace": str,
            "timeout": float,
            "connect_timeout": float,
            "verify": object,
            "token_file": str,
        }
        assert (specs["env"].options, specs["config"].options) == (None, None)

    def test_specs_say_what_they_are(self):
        """Name, class, managed and extra of each built-in source; names in their order."""
        assert [(s.name, s.source_class.__name__, s.managed, s.extra) for s in BUILTIN_SOURCES] == [
            ("env", "EnvironmentSecretProvider", False, None),
            ("vault", "VaultSecretProvider", True, "vault"),
            ("aws", "AWSSecretsProvider", True, "aws"),
            ("azure", "AzureKeyVaultProvider", True, "azure"),
            ("config", "ConfigFileSecretProvider", False, None),
        ]
        assert MANAGED_SOURCES == ("vault", "aws", "azure")
        assert (vault.SPEC.source_class, azure.SPEC.name) == (VaultSecretProvider, "azure")

    def test_a_third_partys_options_come_from_its_signature(self):
        """source_spec reads a class's parameters and their annotations."""
        assert (
            SourceSpec(
                "team",
                TeamSource,
                TEAM_SPEC.build,
                options={"team": str, "region": str, "shards": int},
                managed=True,
            )
            == TEAM_SPEC
        )

    def test_registering_another_class_under_a_taken_name_is_refused(self, team_registered):
        """Two sources cannot share a name unless the replacement is asked for."""
        other = source_spec(EnvironmentSecretProvider, name="team", reads_options=False)
        with pytest.raises(ConfigurationError, match="registered already"):
            register_source(other)
        register_source(TEAM_SPEC)  # the same spec again is harmless
        assert find_source("team") is TEAM_SPEC

    def test_registered_source_is_reached_through_settings(self, config_path, team_registered):
        """secrets.chain names the registered source; its options are checked and used."""
        _write_config(
            config_path,
            {
                "secrets": {
                    "chain": ["env", "team", "config"],
                    "sources": {"team": {"team": "ml", "shards": 2.0}},
                }
            },
        )
        assert "team" in source_names()
        with build_secrets_manager(load_settings()) as manager:
            resolution = manager.resolve("openai")
        assert (resolution.source, resolution.locator, resolution.version) == (
            "team",
            "team:eu/ml/openai",
            "7",
        )
        assert resolution.value == Secret("sk-team-ml-2")

    def test_a_registered_managed_source_joins_the_default_chain(
        self, config_path, team_registered
    ):
        """Without secrets.chain, a managed source that secrets.sources configures is used."""
        _write_config(config_path, {"secrets": {"sources": {"team": {"team": "ops"}}}})
        assert load_settings().chain == ("env", "team", "config")

    def test_registered_sources_options_are_checked(self, config_path, team_registered):
        """A typo in a third party's options is refused like one in a built-in's."""
        _write_config(
            config_path,
            {"secrets": {"chain": ["team"], "sources": {"team": {"team": "a", "shard": 1}}}},
        )
        with pytest.raises(ConfigurationError, match=r"unknown options \['shard'\]"):
            build_secrets_manager(load_settings())

    def test_unknown_source_lists_the_known_ones(self, config_path):
        """A chain naming no source says which ones exist."""
        _write_config(config_path, {"secrets": {"chain": ["nowhere"]}})
        with pytest.raises(ConfigurationError, match="known: env, vault, aws, azure, config"):
            load_settings()


def _plugin(folder: Path, module: str, *, target: str = "SPEC") -> Path:
    """Write a distribution whose entry point names TeamSource's spec; return its folder."""
    folder.mkdir()
    source = inspect.getsource(TeamSource)
    (folder / f"{module}.py").write_text(
        "from __future__ import annotations\n\n"
        "from abstractcore_secrets import Secret, SecretProvider, SecretRecord\n"
        "from abstractcore_secrets.sources.spec import source_spec\n\n\n"
        f"{source}\n\nSPEC = source_spec(TeamSource, managed=True)\n"
    )
    dist_info = folder / f"{module}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
            [{ENTRY_POINT_GROUP}]
            team = {module}:{target}
            """)
    )
    return folder


@pytest.fixture
def forget_team():
    """Forget the team source and the plugin modules after the test."""
    yield
    unregister_source("team")
    for name in [m for m in sys.modules if m.startswith("acs_team_plugin")]:
        del sys.modules[name]


class TestPlugins:
    def test_cli_answers_from_a_plugins_source(self, tmp_path, config_path):
        """An installed plugin's source, named in secrets.chain, answers get, with its locator."""
        folder = _plugin(tmp_path / "site", "acs_team_plugin_cli")
        _write_config(
            config_path,
            {
                "secrets": {
                    "chain": ["env", "team", "config"],
                    "sources": {"team": {"team": "cli", "region": "us"}},
                }
            },
        )
        path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
        result = run_cli("get", "openai", "--json", env={"PYTHONPATH": path})
        assert result.returncode == 0, result.stderr
        row = json.loads(result.stdout)
        assert {k: row[k] for k in ("outcome", "source", "locator", "version")} == {
            "outcome": "found",
            "source": "team",
            "locator": "team:us/cli/openai",
            "version": "7",
        }
        assert "sk-team-cli" not in result.stdout + result.stderr

    def test_entry_point_is_loaded_when_settings_name_the_source(
        self, tmp_path, config_path, monkeypatch, forget_team
    ):
        """secrets.sources alone (no chain) reaches a plugin's managed source, in process."""
        monkeypatch.syspath_prepend(str(_plugin(tmp_path / "site", "acs_team_plugin_one")))
        _write_config(config_path, {"secrets": {"sources": {"team": {"team": "inproc"}}}})
        assert "team" not in source_names()  # nothing is discovered before it is named
        settings = load_settings()
        assert settings.chain == ("env", "team", "config")
        resolution = build_secrets_manager(settings).resolve("openai")
        assert (resolution.source, resolution.locator) == ("team", "team:eu/inproc/openai")
        spec = find_source("team")
        assert spec is not None
        assert spec.source_class.__module__ == "acs_team_plugin_one"

    def test_entry_point_naming_no_spec_is_a_configuration_error(
        self, tmp_path, config_path, monkeypatch, forget_team
    ):
        """A plugin whose entry point names something else fails with what to fix."""
        folder = _plugin(tmp_path / "site", "acs_team_plugin_bad", target="TeamSource")
        monkeypatch.syspath_prepend(str(folder))
        _write_config(config_path, {"secrets": {"chain": ["team"]}})
        with pytest.raises(ConfigurationError, match="does not name a SourceSpec"):
            load_settings()
