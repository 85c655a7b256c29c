"""The architecture's new seams, attacked: typed settings, the sink and export registries,
the former import paths, the journal as a sink, and the one home of every exception.

A key pasted anywhere a setting, a plugin or a renderer can put text must never come back
in an error, a warning, a log record or the CLI's output; the former paths must be the
modules themselves in every way Python can reach a module.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import io
import json
import logging
import os
import pickle
import secrets
import string
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import pytest

import abstractcore_secrets
from abstractcore_secrets import errors
from abstractcore_secrets.assembly import build_secrets_manager
from abstractcore_secrets.audit import (
    AuditMiddleware,
    Journal,
    register_sink,
    unregister_sink,
)
from abstractcore_secrets.audit._sink_registry import ENTRY_POINT_GROUP, find_sink
from abstractcore_secrets.audit.exports import (
    ExportFormat,
    export,
    export_format_names,
    register_export_format,
    unregister_export_format,
)
from abstractcore_secrets.audit.verify import verify
from abstractcore_secrets.errors import ConfigurationError
from abstractcore_secrets.llm_providers import looks_like_key
from abstractcore_secrets.resilience import Resilience
from abstractcore_secrets.settings import load_settings
from abstractcore_secrets.testing.canary import canary, exception_texts, find_leaks

pytestmark = pytest.mark.timeout(60)


def _openai_key() -> str:
    """A key shaped like OpenAI's: ``sk-`` and 48 random letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "sk-" + "".join(secrets.choice(alphabet) for _ in range(48))


def _aws_key_id() -> str:
    """An access key id shaped like AWS's."""
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))


KEY_SHAPES = {
    "openai": _openai_key,
    "aws-key-id": _aws_key_id,
    # Matches no key format: what a pattern-based scrubber would let through.
    "plain-canary": canary,
}


def _write_config(path: Path, secrets_section: object, **top: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.write_text(json.dumps({"secrets": secrets_section, **top}))
    path.chmod(0o600)
    return path


def _texts(error: BaseException) -> list[str]:
    return [*exception_texts(error, frame_locals=False), *map(repr, error.args)]


# Every option of the typed sections, with a wrong value that is the key itself.
SECTION_OPTIONS = {
    "cache": ["ttl", "negative_ttl", "max_stale"],
    "resilience": [
        "attempts",
        "timeout",
        "deadline",
        "workers",
        "failure_threshold",
        "reset_timeout",
    ],
    # journal and signing_key are paths: any text is a valid value there.
    "audit": ["checkpoint_every", "fsync", "max_bytes", "failure_mode", "pseudonymize", "sinks"],
}
OPTION_CASES = [(s, o) for s, options in SECTION_OPTIONS.items() for o in options]
ENV_VARIABLES = {
    "ABSTRACTCORE_SECRETS_CACHE_TTL": "ttl",
    "ABSTRACTCORE_SECRETS_NEGATIVE_TTL": "negative_ttl",
    "ABSTRACTCORE_SECRETS_MAX_STALE": "max_stale",
    "ABSTRACTCORE_SECRETS_AUDIT_FAILURE_MODE": "failure_mode",
}


class TestAKeyPastedIntoSettings:
    @pytest.mark.parametrize("shape", list(KEY_SHAPES))
    @pytest.mark.parametrize(("section", "option"), OPTION_CASES)
    def test_as_an_options_value_it_is_refused_unrepeated_naming_the_option(
        self, config_path, section, option, shape
    ):
        """The error names ``secrets.<section>.<option>`` and holds nothing of the key."""
        key = KEY_SHAPES[shape]()
        _write_config(config_path, {section: {option: key}})
        with pytest.raises(ConfigurationError) as raised:
            load_settings()
        assert f"secrets.{section}.{option}" in str(raised.value)
        assert find_leaks(_texts(raised.value), [key]) == []

    @pytest.mark.parametrize("shape", list(KEY_SHAPES))
    @pytest.mark.parametrize("section", list(SECTION_OPTIONS))
    def test_as_an_option_name_it_is_refused_unrepeated(self, config_path, section, shape):
        """An unknown option shaped like a key is described, never echoed."""
        key = KEY_SHAPES[shape]()
        _write_config(config_path, {section: {key: 1}})
        with pytest.raises(ConfigurationError) as raised:
            load_settings()
        assert f"secrets.{section}" in str(raised.value)
        assert find_leaks(_texts(raised.value), [key]) == []

    @pytest.mark.parametrize("shape", list(KEY_SHAPES))
    def test_in_the_sinks_list_it_is_refused_unrepeated(self, config_path, shape):
        """A key among sink names: refused naming ``secrets.audit.sinks``, not repeated."""
        key = KEY_SHAPES[shape]()
        _write_config(config_path, {"audit": {"sinks": ["log", key]}})
        with pytest.raises(ConfigurationError) as raised:
            load_settings()
        assert "secrets.audit.sinks" in str(raised.value)
        assert find_leaks(_texts(raised.value), [key]) == []

    @pytest.mark.parametrize("shape", list(KEY_SHAPES))
    def test_in_a_profile_it_is_refused_unrepeated(self, config_path, monkeypatch, shape):
        """The active profile's sections are read by the same checks."""
        key = KEY_SHAPES[shape]()
        _write_config(config_path, {"profiles": {"dev": {"resilience": {"timeout": key}}}})
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_PROFILE", "dev")
        with pytest.raises(ConfigurationError) as raised:
            load_settings()
        assert "secrets.resilience.timeout" in str(raised.value)
        assert find_leaks(_texts(raised.value), [key]) == []

    @pytest.mark.parametrize("shape", list(KEY_SHAPES))
    @pytest.mark.parametrize("variable", list(ENV_VARIABLES))
    def test_in_an_environment_variable_it_is_refused_naming_the_variable(
        self, monkeypatch, variable, shape
    ):
        """The error names the variable; the key is in none of its texts."""
        key = KEY_SHAPES[shape]()
        monkeypatch.setenv(variable, key)
        with pytest.raises(ConfigurationError) as raised:
            load_settings()
        assert variable in str(raised.value)
        assert find_leaks(_texts(raised.value), [key]) == []

    def test_a_journal_variable_holding_a_key_that_cannot_be_opened_is_not_repeated(
        self, tmp_path, monkeypatch
    ):
        """A secret access key pasted into the journal variable (it has slashes: folders
        that cannot be made here, as a file holds the first one's name) fails the build
        without the key in the error, as the CLI's journal arguments refuse to echo one."""
        key = "wJalrXUtnFEMI/K7MDENG/" + canary("bPxRfiCY")
        assert looks_like_key(key)
        workdir = tmp_path / "work"
        workdir.mkdir()
        (workdir / "wJalrXUtnFEMI").write_text("")  # not a folder: no journal below it
        monkeypatch.chdir(workdir)
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_AUDIT_JOURNAL", key)
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_CHAIN", "env")
        with pytest.raises(ConfigurationError) as raised:
            build_secrets_manager()
        assert "ABSTRACTCORE_SECRETS_AUDIT_JOURNAL" in str(raised.value)
        assert find_leaks(_texts(raised.value), [key]) == []


class TestSettingsBoundaries:
    def test_a_whole_float_for_a_whole_number_option_reads_as_that_number(self, config_path):
        """``3.0`` is the number 3 (JSON writers do that)."""
        _write_config(config_path, {"resilience": {"attempts": 3.0}})
        assert load_settings().resilience.attempts == 3

    @pytest.mark.parametrize(
        ("section", "option", "value"),
        [
            ("cache", "ttl", -1),
            ("cache", "max_stale", 10**400),
            ("cache", "negative_ttl", True),
            ("resilience", "attempts", 0),
            ("resilience", "attempts", True),
            # A fraction for a whole number is a mistake to report, not truncated.
            ("resilience", "attempts", 2.5),
            ("resilience", "attempts", 0.5),
            ("resilience", "workers", 1e300),
            ("resilience", "failure_threshold", 3.7),
            ("audit", "checkpoint_every", 10.5),
            ("audit", "max_bytes", 1e30),
            ("resilience", "timeout", 0),
            ("resilience", "deadline", -0.001),
            ("resilience", "workers", 10**400),
            ("resilience", "reset_timeout", -5),
            ("audit", "checkpoint_every", 0),
            ("audit", "max_bytes", -1),
            ("audit", "pseudonymize", "false"),
            ("audit", "pseudonymize", 0),
            ("audit", "fsync", "ALWAYS"),
            ("audit", "failure_mode", "Block"),
            ("audit", "sinks", "log"),
            ("audit", "sinks", [1]),
            ("audit", "sinks", ["journal"]),
        ],
        ids=repr,
    )
    def test_an_out_of_range_or_mistyped_value_is_refused_naming_the_option(
        self, config_path, section, option, value
    ):
        """Each is a ConfigurationError whose message names the option."""
        _write_config(config_path, {section: {option: value}})
        with pytest.raises(ConfigurationError) as raised:
            load_settings()
        assert f"secrets.{section}.{option}" in str(raised.value)

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    def test_nan_and_infinity_in_the_file_are_refused_naming_the_option(self, config_path, literal):
        """Python's JSON reader takes these literals: the checks must still refuse them."""
        config_path.parent.mkdir(parents=True)
        config_path.write_text('{"secrets": {"cache": {"ttl": %s}}}' % literal)  # noqa: UP031
        config_path.chmod(0o600)
        with pytest.raises((ConfigurationError, errors.InvalidSourceError)) as raised:
            load_settings()
        assert "ttl" in str(raised.value) or "JSON" in str(raised.value)

    @pytest.mark.parametrize(
        ("raw", "expected"), [(" 5 ", 5.0), ("0", 0.0), ("7.25", 7.25), ("\t12\n", 12.0)]
    )
    def test_a_duration_variable_is_read_with_its_blanks_ignored(self, monkeypatch, raw, expected):
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_CACHE_TTL", raw)
        assert load_settings().cache.ttl == expected

    def test_an_empty_variable_counts_as_unset_and_the_file_wins(self, config_path, monkeypatch):
        """As docs/configuration.md says of every variable."""
        _write_config(config_path, {"cache": {"ttl": 42}, "audit": {"failure_mode": "warn"}})
        for variable in ENV_VARIABLES:
            monkeypatch.setenv(variable, "")
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_AUDIT_JOURNAL", "")
        settings = load_settings()
        assert (settings.cache.ttl, settings.cache.negative_ttl, settings.audit.journal) == (
            42.0,
            30.0,
            None,
        )

    @pytest.mark.parametrize(
        "variable",
        ["ABSTRACTCORE_SECRETS_AUDIT_JOURNAL", "ABSTRACTCORE_SECRETS_AUDIT_FAILURE_MODE"],
    )
    def test_a_blank_text_variable_is_unset_or_refused_never_taken_as_is(
        self, monkeypatch, variable
    ):
        """Blanks only (a stray ``export X=" "``) must not become a journal file named by
        spaces in the working folder."""
        monkeypatch.setenv(variable, "   ")
        problem = None
        try:
            settings = load_settings()
        except ConfigurationError as error:
            problem = str(error)
        if problem is not None:
            assert variable in problem
            return
        assert settings.audit.journal is None
        assert settings.audit.failure_mode == "warn"

    def test_the_environment_overrides_the_file_and_names_itself_when_wrong(
        self, config_path, monkeypatch
    ):
        _write_config(config_path, {"cache": {"ttl": 10, "max_stale": 20}})
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_CACHE_TTL", "11")
        assert load_settings().cache == dataclasses.replace(
            load_settings().cache, ttl=11.0, max_stale=20.0
        )
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_MAX_STALE", "-1")
        with pytest.raises(ConfigurationError) as raised:
            load_settings()
        assert "ABSTRACTCORE_SECRETS_MAX_STALE" in str(raised.value)
        assert "secrets.cache.max_stale" not in str(raised.value)

    def test_the_values_read_are_the_ones_the_built_manager_uses(self, tmp_path, config_path):
        """Cache, resilience and journal settings reach their layers unchanged."""
        journal = tmp_path / "audit" / "journal.jsonl"
        _write_config(
            config_path,
            {
                "chain": ["env"],
                "cache": {"ttl": 12, "negative_ttl": 3, "max_stale": 45},
                "resilience": {
                    "attempts": 5,
                    "timeout": 2.5,
                    "deadline": 9,
                    "workers": 2,
                    "failure_threshold": 7,
                    "reset_timeout": 11,
                },
                "audit": {
                    "journal": str(journal),
                    "signing_key": str(tmp_path / "keys" / "j.key"),
                    "checkpoint_every": 17,
                    "max_bytes": 123456,
                    "failure_mode": "block",
                    "sinks": [],
                },
            },
        )
        manager = build_secrets_manager()
        try:
            cache = manager.cache
            assert (cache.ttl, cache.negative_ttl, cache.max_stale) == (12.0, 3.0, 45.0)
            layers = [*manager.middleware, *manager.attempt_middleware]
            resilience = next(layer for layer in layers if isinstance(layer, Resilience))
            breaker = resilience.breaker("env")
            assert (
                resilience.retry.attempts,
                resilience.retry.timeout,
                resilience.deadline,
                resilience.workers,
                breaker.failure_threshold,
                breaker.reset_timeout,
            ) == (5, 2.5, 9.0, 2, 7, 11.0)
            audit = next(layer for layer in layers if isinstance(layer, AuditMiddleware))
            assert audit.failure_mode == "block"
            (journal_sink,) = audit.sinks
            assert isinstance(journal_sink, Journal)
            assert (
                journal_sink.path,
                journal_sink.checkpoint_every,
                journal_sink.max_bytes,
                journal_sink.fsync,
            ) == (journal, 17, 123456, "always")
        finally:
            manager.close()


class TestHostileSinks:
    def test_a_factory_raising_with_a_key_fails_the_build_without_the_key(self, config_path):
        """A plugin's factory that cannot connect (its message holding its token) is a
        ConfigurationError naming the sink, with only the exception's type."""
        key = canary()

        def factory(context):
            raise RuntimeError(f"cannot reach https://collector/?token={key}")

        register_sink("hostile-factory", factory)
        try:
            _write_config(config_path, {"chain": ["env"], "audit": {"sinks": ["hostile-factory"]}})
            with pytest.raises(ConfigurationError) as raised:
                build_secrets_manager()
        finally:
            unregister_sink("hostile-factory")
        assert "hostile-factory" in str(raised.value)
        assert find_leaks(_texts(raised.value), [key]) == []

    @pytest.mark.parametrize("shape", list(KEY_SHAPES))
    def test_a_sink_raising_with_a_key_leaks_it_to_no_warning_and_no_log(
        self, tmp_path, config_path, monkeypatch, shape
    ):
        """Events and journal checkpoints handed to a failing sink: its message (which may
        hold its own credential) reaches neither the warnings nor any log record."""
        key = KEY_SHAPES[shape]()

        class FailingSink:
            name = "hostile"
            durable = False

            def __call__(self, event):
                raise RuntimeError(f"collector refused token {key}")

        register_sink("hostile-call", lambda context: FailingSink())
        served = "sk-proj-" + canary("served").replace("-", "")
        monkeypatch.setenv("OPENAI_API_KEY", served)
        _write_config(
            config_path,
            {
                "chain": ["env"],
                "audit": {
                    "sinks": ["hostile-call"],
                    "journal": str(tmp_path / "journal.jsonl"),
                    "signing_key": str(tmp_path / "keys" / "j.key"),
                    "checkpoint_every": 1,
                },
            },
        )
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        previous_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                manager = build_secrets_manager()
                try:
                    assert manager.resolve("openai").found
                finally:
                    manager.close()
        finally:
            root.removeHandler(handler)
            root.setLevel(previous_level)
            unregister_sink("hostile-call")
        logged = stream.getvalue()
        assert "hostile" in logged  # the failure was reported
        texts = [logged, *(str(w.message) for w in caught)]
        assert find_leaks(texts, [key]) == []

    def test_a_plugin_raising_on_load_is_named_without_its_message(
        self, tmp_path, config_path, monkeypatch
    ):
        """An entry point whose import raises with a key: a ConfigurationError naming the
        plugin, with the key in none of its texts."""
        key = canary()
        folder = tmp_path / "site"
        folder.mkdir()
        module = "acs_hostile_sink_plugin"
        (folder / f"{module}.py").write_text(f"raise ImportError('token {key} rejected')\n")
        dist_info = folder / f"{module}-1.0.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: acs-hostile-sink-plugin\nVersion: 1.0\n"
        )
        (dist_info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\nhostile-plugin = {module}:factory\n"
        )
        monkeypatch.syspath_prepend(str(folder))
        _write_config(config_path, {"audit": {"sinks": ["hostile-plugin"]}})
        try:
            with pytest.raises(ConfigurationError) as raised:
                load_settings()
            assert "hostile-plugin" in str(raised.value)
            assert find_leaks(_texts(raised.value), [key]) == []
            assert find_sink("log") is not None  # the registry still works
        finally:
            unregister_sink("hostile-plugin")
            sys.modules.pop(module, None)

    def test_an_audit_middleware_given_a_key_as_failure_mode_does_not_repeat_it(self):
        """The public constructor checks the mode as the settings do: described, not echoed."""
        key = _openai_key()
        with pytest.raises(ConfigurationError) as raised:
            AuditMiddleware([], failure_mode=key)
        assert find_leaks(_texts(raised.value), [key]) == []

    def test_a_journal_given_a_key_as_fsync_does_not_repeat_it(self, tmp_path, signing_key):
        key = _openai_key()
        with pytest.raises(ConfigurationError) as raised:
            Journal(tmp_path / "j.jsonl", signing_key, fsync=key)
        assert find_leaks(_texts(raised.value), [key]) == []


HOSTILE_FORMAT_NAMES = [
    "../evil",
    "a/b",
    "..",
    ".hidden",
    "CSV",
    "",
    "x" * 33,
    "a b",
    "a\x00b",
    "a\nb",
]
HOSTILE_EXTENSIONS = ["../x", "a/b", ".jsonl", "jsonl.", "a..b", "", "a b", "x\x00", "a.b.c.d.e"]


class TestHostileExportFormats:
    @pytest.mark.parametrize("name", HOSTILE_FORMAT_NAMES, ids=repr)
    def test_a_name_that_could_not_be_typed_or_used_in_a_path_is_refused(self, name):
        with pytest.raises(ConfigurationError):
            ExportFormat(name, lambda event: "", extension="txt")

    @pytest.mark.parametrize("extension", HOSTILE_EXTENSIONS, ids=repr)
    def test_an_extension_that_could_leave_the_bundle_folder_is_refused(self, extension):
        with pytest.raises(ConfigurationError):
            ExportFormat("plain", lambda event: "", extension=extension)

    @pytest.mark.parametrize(
        "make",
        [
            _openai_key,
            lambda: "sk-" + secrets.token_hex(14),
            lambda: secrets.token_hex(16),
        ],
        ids=["openai", "sk-lowercase-hex", "hex"],
    )
    def test_a_name_shaped_like_a_key_is_refused_and_not_repeated(self, make):
        """A format name is printed by ``--help`` and every unknown-format error: a key
        must not become one."""
        key = make()
        with pytest.raises(ConfigurationError) as raised:
            ExportFormat(key, lambda event: "", extension="txt")
        assert find_leaks(_texts(raised.value), [key]) == []

    def test_an_extension_shaped_like_a_key_is_not_repeated(self):
        key = _openai_key().replace("-", "")
        with pytest.raises(ConfigurationError) as raised:
            ExportFormat("plain", lambda event: "", extension=key + "/x")
        assert find_leaks(_texts(raised.value), [key]) == []

    def test_an_unknown_format_shaped_like_a_key_is_not_repeated(self, tmp_path):
        key = _openai_key()
        with pytest.raises(ConfigurationError) as raised:
            export([], key, io.StringIO())
        assert find_leaks(_texts(raised.value), [key]) == []

    @pytest.mark.parametrize("raised_type", ["RuntimeError", "ValueError", "KeyError"])
    def test_the_cli_prints_no_key_when_a_renderer_raises_with_one(
        self, tmp_path, signing_key, raised_type
    ):
        """A registered renderer failing mid-export: the CLI exits 70 naming only the
        exception's type; the key is in neither output."""
        key = canary()
        journal_path = tmp_path / "journal.jsonl"
        journal = Journal(journal_path, signing_key)
        journal({"time": "2026-01-01T00:00:00+00:00", "event": "secret.resolved"})
        journal.close()
        code = textwrap.dedent(f"""
            import sys
            from abstractcore_secrets.audit.exports import ExportFormat, register_export_format
            from abstractcore_secrets.cli.main import main

            def render(event):
                raise {raised_type}({key!r})

            register_export_format(ExportFormat("hostile", render, extension="txt"))
            sys.argv = ["abstractcore-secrets", "audit", "export", "--format", "hostile",
                        {str(journal_path)!r}]
            main()
            """)
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=dict(os.environ),
        )
        assert result.returncode == 70, result.stderr
        assert raised_type in result.stderr
        assert find_leaks([result.stdout, result.stderr], [key]) == []

    def test_a_registered_format_is_offered_and_forgotten(self):
        fmt = ExportFormat("hostile-test", lambda event: "x", extension="h.txt")
        register_export_format(fmt)
        try:
            assert "hostile-test" in export_format_names()
            with pytest.raises(ConfigurationError):
                register_export_format(ExportFormat("hostile-test", str, extension="txt"))
        finally:
            unregister_export_format("hostile-test")
        assert "hostile-test" not in export_format_names()


class TestFormerImportPaths:
    def test_importing_the_former_path_after_the_current_one_gives_the_same_module(self):
        import abstractcore_secrets._cache as current

        old = importlib.import_module("abstractcore_secrets.cache")
        assert old is current
        assert (
            sys.modules["abstractcore_secrets.cache"] is sys.modules["abstractcore_secrets._cache"]
        )
        assert old.__name__ == old.__spec__.name == "abstractcore_secrets._cache"

    def test_reloading_by_the_former_path_reloads_the_module_under_its_own_name(self):
        # A module of functions only: reloading one with classes would give other tests
        # classes that their instances are not instances of.
        module = importlib.import_module("abstractcore_secrets.providers._http")
        reloaded = importlib.reload(module)
        assert reloaded is module
        assert reloaded.__name__ == "abstractcore_secrets.sources._http"
        assert sys.modules["abstractcore_secrets.sources._http"] is module
        assert sys.modules["abstractcore_secrets.providers._http"] is module

    def test_inspect_names_the_current_module_for_a_class_reached_the_old_way(self):
        from abstractcore_secrets.manager import SecretsManager

        assert inspect.getmodule(SecretsManager).__name__ == "abstractcore_secrets._manager"
        assert SecretsManager is abstractcore_secrets.SecretsManager

    def test_star_import_from_the_former_package_gives_the_current_public_names(self):
        namespace: dict[str, object] = {}
        exec("from abstractcore_secrets.providers import *", namespace)  # noqa: S102
        exported = {name for name in namespace if name != "__builtins__"}
        assert exported == set(abstractcore_secrets.sources.__all__)
        assert namespace["VaultSecretProvider"] is abstractcore_secrets.VaultSecretProvider

    def test_a_pickle_written_with_the_former_module_paths_loads(self):
        """Objects pickled before the rename name ``abstractcore_secrets.resolution``."""
        from abstractcore_secrets import Outcome, Resolution

        resolution = Resolution("openai", Outcome.NOT_FOUND)
        current = pickle.dumps(resolution, protocol=0)
        assert b"abstractcore_secrets._resolution" in current
        former = current.replace(
            b"abstractcore_secrets._resolution", b"abstractcore_secrets.resolution"
        )
        loaded = pickle.loads(former)  # noqa: S301 - our own bytes
        assert type(loaded) is Resolution
        assert (loaded.provider, loaded.outcome) == ("openai", Outcome.NOT_FOUND)

    def test_a_pickle_of_a_class_reached_the_old_way_names_the_current_module(self):
        from abstractcore_secrets.providers.environment import EnvironmentSecretProvider

        data = pickle.dumps(EnvironmentSecretProvider, protocol=0)
        assert b"abstractcore_secrets.sources.environment" in data
        assert b"abstractcore_secrets.providers" not in data

    def test_a_name_not_moved_is_not_answered_for(self):
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("abstractcore_secrets.managers")
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("abstractcore_secrets.cli.statuses")

    def test_a_fresh_process_reaches_former_submodules_as_attributes(self):
        """As before the rename: after ``import abstractcore_secrets``, the package's
        former submodules are attributes (code reads ``abstractcore_secrets.audit.sinks``)."""
        code = textwrap.dedent("""
            import abstractcore_secrets
            import abstractcore_secrets.audit, abstractcore_secrets.telemetry
            missing = [
                path for path in (
                    "audit.sinks", "audit.middleware", "telemetry.metrics",
                    "telemetry.tracing", "redaction.policy", "providers.values",
                )
                if not _resolves(abstractcore_secrets, path)
            ]
            print(missing)
            """).replace(
            "import abstractcore_secrets\n",
            "import abstractcore_secrets\n"
            "def _resolves(obj, path):\n"
            "    for part in path.split('.'):\n"
            "        if not hasattr(obj, part):\n"
            "            return False\n"
            "        obj = getattr(obj, part)\n"
            "    return True\n",
            1,
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
        assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr


class TestJournalAsASink:
    def test_flush_after_close_returns_false_and_close_twice_is_harmless(
        self, tmp_path, signing_key
    ):
        journal = Journal(tmp_path / "j.jsonl", signing_key)
        journal({"time": "2026-01-01T00:00:00+00:00", "event": "secret.resolved"})
        assert journal.flush() is True
        journal.close()
        assert journal.flush() is False
        journal.close()
        assert journal.listening() is True

    def test_an_append_after_close_raises_oserror_and_writes_nothing(self, tmp_path, signing_key):
        """``__call__`` promises ``OSError`` when an event could not be written."""
        path = tmp_path / "j.jsonl"
        journal = Journal(path, signing_key)
        journal.close()
        before = path.read_bytes()
        with pytest.raises(OSError):  # noqa: PT011 - the documented contract
            journal({"time": "2026-01-01T00:00:00+00:00", "event": "secret.resolved"})
        assert path.read_bytes() == before

    def test_concurrent_flushes_and_appends_lose_and_break_nothing(self, tmp_path, signing_key):
        """Writers and flushers at once: every record is there, the chain verifies."""
        path = tmp_path / "j.jsonl"
        journal = Journal(path, signing_key, checkpoint_every=7)
        failures: list[BaseException] = []
        flushed: list[bool] = []

        def write(worker: int) -> None:
            try:
                for index in range(40):
                    journal(
                        {
                            "time": "2026-01-01T00:00:00+00:00",
                            "event": "secret.resolved",
                            "seq": worker * 1000 + index,
                        }
                    )
            except BaseException as error:  # noqa: BLE001 - collected for the assert
                failures.append(error)

        def flush() -> None:
            try:
                for _ in range(80):
                    flushed.append(journal.flush())
            except BaseException as error:  # noqa: BLE001 - collected for the assert
                failures.append(error)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        threads += [threading.Thread(target=flush) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        journal.close()
        assert failures == []
        assert all(flushed)
        report = verify([path], signing_key.public_key())
        assert report.intact, report
        assert report.records - report.checkpoints == 160
