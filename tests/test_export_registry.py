"""Export formats as a registry: a format declared only here reaches every way out.

A tab-separated format is defined and registered by this module alone; ``export()``, the
real CLI's ``--format`` (run in this process, where the format is registered) and the
evidence bundle offer it with no other file changed. Unknown and duplicate names are
refused with messages that name the fix, and a served key echoed in a field the redaction
covers reaches no registered format's output.
"""

from __future__ import annotations

import hashlib
import io
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from abstractcore_secrets import ConfigurationError, SecretsManager, SourceUnavailableError
from abstractcore_secrets.assembly import middleware_stacks
from abstractcore_secrets.audit import AuditMiddleware, principal
from abstractcore_secrets.audit.evidence import evidence_bundle
from abstractcore_secrets.audit.exports import (
    BUILTIN_EXPORT_FORMATS,
    CSV_FORMAT,
    ExportFormat,
    export,
    export_format_names,
    find_export_format,
    register_export_format,
    unregister_export_format,
)
from abstractcore_secrets.audit.journal import Journal
from abstractcore_secrets.cli.main import main
from abstractcore_secrets.redaction import default_policy
from abstractcore_secrets.testing import FailingSecretProvider
from abstractcore_secrets.testing.canary import canary

TSV_COLUMNS = ("time", "event", "provider", "outcome", "error.message")


def to_tsv(event: Mapping[str, Any]) -> str:
    """Render an event as tab-separated values, tabs and line breaks in a value as spaces."""
    return "\t".join(" ".join(str(event.get(column) or "").split()) for column in TSV_COLUMNS)


TSV = ExportFormat("tsv", to_tsv, extension="tsv", header="\t".join(TSV_COLUMNS))


@pytest.fixture
def tsv() -> Iterator[ExportFormat]:
    """The tab-separated format, registered for one test."""
    register_export_format(TSV)
    try:
        yield TSV
    finally:
        unregister_export_format(TSV.name)


@pytest.fixture
def journal_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A journal of real resolutions (found, not found, an unavailable source) and its key.

    Both are in the current folder and named relative to it: command lines of short words
    get click's usage messages as they are (a long path is held back as a possible key).
    """
    monkeypatch.chdir(tmp_path)
    key = Ed25519PrivateKey.generate()
    key_file = Path("journal.pub")
    key_file.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    path = Path("audit.jsonl")
    journal = Journal(path, key, checkpoint_every=2)
    vault = FailingSecretProvider(None, name="vault", fallback={"openai": "sk-served-key-1"})
    manager = SecretsManager(
        [vault], middleware=[AuditMiddleware([journal], service_name="svc")], cache=None
    )
    with principal("alice"):
        manager.resolve("openai")
        manager.resolve("mistral")
        vault.error = SourceUnavailableError("vault is down")
        manager.resolve("openai")
    journal.close()
    return path, key_file


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *arguments: str
) -> tuple[int, str, str]:
    """Run the CLI's real entry point in this process; return exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["abstractcore-secrets", *arguments])
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


EXPECTED_TSV = [
    "\t".join(TSV_COLUMNS),
    "secret.resolved\topenai\tfound\t",
    "secret.not_found\tmistral\tnot_found\t",
    "secret.error\topenai\terror\tresolving 'openai' failed: vault is down [vault: unavailable]",
]


def _without_time(lines: list[str]) -> list[str]:
    """The lines with their first column (the event's time) cut off, the header kept whole."""
    return lines[:1] + [line.split("\t", 1)[1] for line in lines[1:]]


class TestRegisteredFormat:
    def test_export_renders_it_after_its_header(self, tsv, journal_setup):
        """export() writes the format's header, then one rendered line per event."""
        path, _ = journal_setup
        out = io.StringIO()
        assert export([path], "tsv", out) == 3
        assert _without_time(out.getvalue().splitlines()) == EXPECTED_TSV

    def test_the_cli_offers_it_and_exports_in_it(self, tsv, journal_setup, monkeypatch, capsys):
        """audit export --format tsv streams the format; --help lists it after the built-ins."""
        path, _ = journal_setup
        code, out, err = run_main(
            monkeypatch, capsys, "audit", "export", str(path), "--format", "tsv"
        )
        assert (code, err) == (0, "")
        assert _without_time(out.splitlines()) == EXPECTED_TSV
        code, out, _ = run_main(monkeypatch, capsys, "audit", "export", "--help")
        assert code == 0
        assert "--format [csv|jsonl|ocsf|cef|tsv]" in out

    def test_the_evidence_bundle_holds_it_under_its_extension(
        self, tsv, journal_setup, monkeypatch, capsys
    ):
        """--evidence --format tsv: export.tsv in the bundle, in a manifest that checks."""
        path, key_file = journal_setup
        bundle = Path("evidence")
        code, out, err = run_main(
            monkeypatch,
            capsys,
            *("audit", "export", str(path), "--format", "tsv"),
            *("--evidence", str(bundle), "--key", str(key_file)),
        )
        assert (code, err) == (0, "")
        assert out.startswith("evidence bundle written")
        assert sorted(p.name for p in bundle.iterdir()) == [
            "MANIFEST.sha256",
            "checkpoints.jsonl",
            "export.tsv",
            "pci-dss-10.2.2.csv",
            "verification.json",
        ]
        assert _without_time((bundle / "export.tsv").read_text().splitlines()) == EXPECTED_TSV
        manifest = dict(
            reversed(line.split("  ", 1))
            for line in (bundle / "MANIFEST.sha256").read_text().splitlines()
        )
        assert manifest == {
            item.name: hashlib.sha256(item.read_bytes()).hexdigest()
            for item in bundle.iterdir()
            if item.name != "MANIFEST.sha256"
        }

    def test_it_is_listed_after_the_built_in_formats_until_unregistered(self, tsv):
        """The registry lists built-ins first, in shipping order, then registered formats."""
        assert export_format_names() == ("csv", "jsonl", "ocsf", "cef", "tsv")
        assert find_export_format("tsv") is tsv
        unregister_export_format("tsv")
        assert export_format_names() == tuple(fmt.name for fmt in BUILTIN_EXPORT_FORMATS)


class TestUnknownFormat:
    def test_lookup_names_the_known_formats(self, tsv):
        """An unknown name: a ConfigurationError (a ValueError) listing every registered format."""
        with pytest.raises(ConfigurationError) as caught:
            find_export_format("xml")
        assert isinstance(caught.value, ValueError)
        assert str(caught.value) == "'xml' is no export format; known: csv, jsonl, ocsf, cef, tsv"

    def test_export_and_evidence_refuse_it_before_writing(self, journal_setup, tmp_path):
        """export() writes nothing, and the evidence bundle creates no folder."""
        path, _ = journal_setup
        out = io.StringIO()
        with pytest.raises(ConfigurationError, match="'xml' is no export format; known: csv,"):
            export([path], "xml", out)
        assert out.getvalue() == ""
        bundle = tmp_path / "evidence"
        with pytest.raises(ConfigurationError, match="'xml' is no export format"):
            evidence_bundle([path], bundle, Ed25519PrivateKey.generate().public_key(), fmt="xml")
        assert not bundle.exists()

    def test_the_cli_names_the_registered_choices(self, tsv, journal_setup, monkeypatch, capsys):
        """--format xml: a usage error (exit 2) naming every registered format, the new one too."""
        path, _ = journal_setup
        code, out, err = run_main(
            monkeypatch, capsys, "audit", "export", str(path), "--format", "xml"
        )
        assert (code, out) == (2, "")
        assert err.splitlines()[-1] == (
            "Error: Invalid value for '--format': 'xml' is not one of "
            "'csv', 'jsonl', 'ocsf', 'cef', 'tsv'."
        )

    def test_a_key_given_as_a_format_is_not_repeated(self, journal_setup, monkeypatch, capsys):
        """A key pasted where the format belongs is in neither the lookup's nor the CLI's error."""
        path, _ = journal_setup
        key = canary("sk-proj")
        with pytest.raises(ConfigurationError) as caught:
            find_export_format(key)
        assert key not in str(caught.value)
        code, out, err = run_main(
            monkeypatch, capsys, "audit", "export", str(path), "--format", key
        )
        assert code == 2
        assert key not in out + err


class TestRegistration:
    def test_a_second_format_under_a_taken_name_is_refused(self):
        """Another format named csv: refused with the fix; the built-in one stays."""
        impostor = ExportFormat("csv", lambda event: "", extension="csv")
        with pytest.raises(ConfigurationError) as caught:
            register_export_format(impostor)
        assert str(caught.value) == (
            "an export format named 'csv' is registered already; pick another name or pass "
            "replace=True to replace it"
        )
        assert find_export_format("csv") is CSV_FORMAT

    def test_registering_the_same_format_again_is_harmless(self, tsv):
        """A module imported twice registers its format twice: no error, one entry."""
        register_export_format(TSV)
        assert export_format_names().count("tsv") == 1

    def test_replace_then_unregister_restores_a_built_in(self):
        """replace=True swaps a built-in; unregistering it brings back the one that shipped."""
        plain = ExportFormat("csv", lambda event: "plain", extension="csv")
        register_export_format(plain, replace=True)
        try:
            assert find_export_format("csv") is plain
        finally:
            unregister_export_format("csv")
        assert find_export_format("csv") is CSV_FORMAT

    @pytest.mark.parametrize(
        ("name", "extension", "message"),
        [
            ("", "txt", "an export format's name must be"),
            ("../up", "txt", "an export format's name must be"),
            ("TSV", "txt", "an export format's name must be"),
            ("has space", "txt", "an export format's name must be"),
            ("tsv", "../../escape", "the export format 'tsv' has the extension"),
            ("tsv", ".tsv", "the export format 'tsv' has the extension"),
            ("tsv", "a/b", "the export format 'tsv' has the extension"),
            ("tsv", "", "the export format 'tsv' has the extension"),
        ],
        ids=[
            "empty-name",
            "path-name",
            "upper-case-name",
            "blank-in-name",
            "escaping-extension",
            "leading-dot",
            "slash-in-extension",
            "empty-extension",
        ],
    )
    def test_names_and_extensions_must_be_plain(self, name, extension, message):
        """A name typed after --format, an extension ending a bundle's file name: plain words."""
        with pytest.raises(ConfigurationError, match=message):
            ExportFormat(name, to_tsv, extension=extension)

    def test_a_renderer_must_be_callable(self):
        """A renderer that cannot be called is refused when the format is declared."""
        with pytest.raises(ConfigurationError, match="has a renderer that is not callable"):
            ExportFormat("tsv", "to_tsv", extension="tsv")  # type: ignore[arg-type]


def test_a_served_key_echoed_in_an_error_reaches_no_registered_format(tsv, tmp_path):
    """A key served, then echoed in a source's error message, is in no format's output."""
    secret = canary()
    path = tmp_path / "audit.jsonl"
    journal = Journal(path, Ed25519PrivateKey.generate(), checkpoint_every=2)
    source = FailingSecretProvider(None, name="vault", fallback={"openai": secret})
    policy = default_policy()
    middleware, attempt_middleware = middleware_stacks(
        policy, audit=AuditMiddleware([journal], policy=policy, service_name="svc")
    )
    manager = SecretsManager(
        [source], middleware=middleware, attempt_middleware=attempt_middleware, cache=None
    )
    manager.resolve("openai")  # served once: the policy now knows the value
    source.error = SourceUnavailableError(f"vault said: {secret} is wrong")
    manager.resolve("openai")
    journal.close()
    assert "tsv" in export_format_names()
    for name in export_format_names():
        out = io.StringIO()
        assert export([path], name, out) == 2, name
        assert secret not in out.getvalue(), name
    out = io.StringIO()
    export([path], "tsv", out)
    # The field is rendered, scrubbed by the audit processors before the journal.
    assert out.getvalue().splitlines()[-1].split("\t")[-1] == (
        "resolving 'openai' failed: vault said: [REDACTED] is wrong [vault: unavailable]"
    )
