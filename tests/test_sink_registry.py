"""Audit sinks named in settings (``secrets.audit.sinks``) through the registry.

A sink defined only here is registered (or installed as a plugin) and reached through the
config file and the CLI, touching no other file.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from clirun import run_cli

from abstractcore_secrets import build_secrets_manager, load_settings
from abstractcore_secrets.audit import (
    DEFAULT_SINKS,
    find_sink,
    register_sink,
    sink_names,
    unregister_sink,
)
from abstractcore_secrets.audit._sink_registry import ENTRY_POINT_GROUP
from abstractcore_secrets.errors import ConfigurationError

CANARY = "sk-SINKCANARY0123456789abcdefghijklmnopqrstuv"


class ListingSink:
    """Keeps every event; says it was flushed and closed."""

    name = "listing"
    durable = False

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.closed = False

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(dict(event))

    def listening(self) -> bool:
        return True

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def _write_config(path: Path, secrets: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"secrets": secrets}))
    path.chmod(0o600)


@pytest.fixture
def listing():
    """Register the ``listing`` sink for one test; hand over the instances built."""
    built: list[ListingSink] = []

    def factory(context: object) -> ListingSink:
        built.append(ListingSink())
        return built[-1]

    register_sink("listing", factory)
    yield built
    unregister_sink("listing")


class TestSettingsNameTheSinks:
    def test_default_is_the_logger_and_otel(self, config_path):
        """No sinks setting: the two sinks there always were."""
        _write_config(config_path, {"chain": ["env"]})
        assert load_settings().audit.sinks == DEFAULT_SINKS == ("log", "otel")

    def test_a_registered_sink_named_in_settings_receives_every_resolution(
        self, config_path, monkeypatch, listing, caplog
    ):
        """Named alone, it gets the events (flushed and closed with the manager); the logger,
        not named, gets none; the value is in no event."""
        monkeypatch.setenv("OPENAI_API_KEY", CANARY)
        _write_config(config_path, {"chain": ["env"], "audit": {"sinks": ["listing"]}})
        caplog.set_level(logging.INFO, logger="abstractcore_secrets.audit")
        with build_secrets_manager(load_settings()) as manager:
            assert manager.get_api_key("openai") == CANARY
            assert manager.resolve("anthropic").outcome == "not_found"
        (sink,) = listing
        assert sink.closed
        assert [(e["provider"], e["outcome"]) for e in sink.events] == [
            ("openai", "found"),
            ("anthropic", "not_found"),
        ]
        assert CANARY not in json.dumps(sink.events)
        assert not [r for r in caplog.records if r.name == "abstractcore_secrets.audit"]

    def test_an_unknown_sink_lists_the_known_ones(self, config_path):
        """A typo fails at load, naming the known sinks and where the journal is set."""
        _write_config(config_path, {"audit": {"sinks": ["log", "otle"]}})
        with pytest.raises(ConfigurationError) as caught:
            load_settings()
        message = str(caught.value)
        assert "secrets.audit.sinks names 'otle'" in message
        assert "known: log, otel" in message
        assert "secrets.audit.journal" in message

    @pytest.mark.parametrize(
        ("sinks", "message"),
        [
            ("log", "secrets.audit.sinks must be a list"),
            ([1], "secrets.audit.sinks must be a list of names"),
            (["journal"], "names 'journal', which is no audit sink"),
        ],
        ids=["not-a-list", "not-names", "journal"],
    )
    def test_malformed_sinks_name_the_fix(self, config_path, sinks, message):
        """Not a list, not names, or the journal (set by its own setting): refused."""
        _write_config(config_path, {"audit": {"sinks": sinks}})
        with pytest.raises(ConfigurationError, match=message):
            load_settings()

    def test_a_key_pasted_as_a_sink_name_is_not_echoed(self, config_path):
        """The name's shape is told, not its text."""
        _write_config(config_path, {"audit": {"sinks": [CANARY]}})
        with pytest.raises(ConfigurationError) as caught:
            load_settings()
        assert CANARY not in str(caught.value)
        assert "(a text of 45 characters)" in str(caught.value)

    def test_registering_a_taken_name_or_journal_is_refused(self, listing):
        """A name is registered once unless replaced on purpose; the journal is no sink."""
        with pytest.raises(ConfigurationError, match="already registered"):
            register_sink("listing", lambda context: ListingSink())
        with pytest.raises(ConfigurationError, match=r"secrets\.audit\.journal"):
            register_sink("journal", lambda context: ListingSink())
        assert "listing" in sink_names()


def _plugin(folder: Path, module: str, events_file: Path) -> Path:
    """Write a distribution whose entry point names a sink writing events to a file."""
    folder.mkdir()
    (folder / f"{module}.py").write_text(
        textwrap.dedent(f"""\
            import json


            class FileSink:
                name = "file-plugin"
                durable = False

                def __call__(self, event):
                    with open({str(events_file)!r}, "a") as out:
                        out.write(json.dumps(event) + "\\n")

                def listening(self):
                    return True

                def flush(self, timeout=None):
                    return True

                def close(self):
                    pass


            def factory(context):
                return FileSink()
            """)
    )
    dist_info = folder / f"{module}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nfile-plugin = {module}:factory\n"
    )
    return folder


class TestPluginSinks:
    def test_cli_resolutions_reach_a_plugins_sink(self, tmp_path, config_path, monkeypatch):
        """An installed plugin's sink, named in settings, records what the CLI resolves."""
        events_file = tmp_path / "events.jsonl"
        folder = _plugin(tmp_path / "site", "acs_sink_plugin_cli", events_file)
        _write_config(config_path, {"chain": ["env"], "audit": {"sinks": ["file-plugin"]}})
        path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
        result = run_cli(
            "get", "openai", "--json", env={"PYTHONPATH": path, "OPENAI_API_KEY": CANARY}
        )
        assert result.returncode == 0, result.stderr
        events = [json.loads(line) for line in events_file.read_text().splitlines()]
        assert [(e["event"], e["provider"], e["source"]) for e in events] == [
            ("secret.resolved", "openai", "env")
        ]
        assert CANARY not in events_file.read_text() + result.stdout + result.stderr

    def test_a_plugin_is_found_when_named(self, tmp_path, config_path, monkeypatch):
        """In process: nothing is loaded until settings name the sink."""
        folder = _plugin(tmp_path / "site", "acs_sink_plugin_one", tmp_path / "e.jsonl")
        monkeypatch.syspath_prepend(str(folder))
        try:
            assert "file-plugin" in sink_names()  # listed from its entry point
            assert "acs_sink_plugin_one" not in sys.modules
            _write_config(config_path, {"audit": {"sinks": ["file-plugin"]}})
            assert load_settings().audit.sinks == ("file-plugin",)
            assert find_sink("file-plugin") is not None
        finally:
            unregister_sink("file-plugin")
            sys.modules.pop("acs_sink_plugin_one", None)


def test_a_sink_named_twice_is_refused(config_path):
    """Each event would reach it twice."""
    _write_config(config_path, {"audit": {"sinks": ["log", "otel", "log"]}})
    with pytest.raises(ConfigurationError, match="names a sink twice"):
        load_settings()


def test_a_profile_can_switch_the_journal_off(config_path, monkeypatch, tmp_path):
    """``null`` unsets an option that may be unset: the base section's journal is dropped."""
    monkeypatch.setenv("ABSTRACTCORE_SECRETS_PROFILE", "dev")
    _write_config(
        config_path,
        {
            "audit": {"journal": str(tmp_path / "audit.jsonl"), "max_bytes": 4096},
            "profiles": {"dev": {"audit": {"journal": None, "max_bytes": None}}},
        },
    )
    audit = load_settings().audit
    assert (audit.journal, audit.max_bytes) == (None, None)
