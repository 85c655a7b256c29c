"""Exports fed hostile text and absent fields: CSV stays one row per event, OCSF stays valid.

OCSF records are validated against the official OCSF 1.3.0 schema (the schema.ocsf.io export
that ``ocsf-json-schema`` ships, compiled to JSON Schema), not against our reading of it.
"""

from __future__ import annotations

import csv
import functools
import io
import json

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

from abstractcore_secrets import SecretsManager, SourceForbiddenError, SourceUnavailableError
from abstractcore_secrets.audit import AuditMiddleware, middleware, principal
from abstractcore_secrets.audit.exports import (
    CSV_COLUMNS,
    OCSF_VERSION,
    csv_header,
    export,
    to_csv,
    to_ocsf,
)
from abstractcore_secrets.audit.journal import Journal
from abstractcore_secrets.testing import FailingSecretProvider

FORMULA_SIGNS = "=+-@"

EVENT = {
    "time": "2026-11-28T10:00:00.000001+00:00",
    "seq": 1,
    "event_id": "0b7e3c52-8c51-4f0e-9a43-4d1ad0e7b6f1",
    "event": "secret.resolved",
    "provider": "openai",
    "source": "vault",
    "outcome": "found",
    "locator": "vault:secret/openai",
    "user": {"id": "alice", "os_user": "svc"},
    "host.name": "web-1",
}

blanks = st.text(alphabet=" \t\r\n", max_size=3)
formula = st.builds(
    lambda lead, sign, rest: lead + sign + rest, blanks, st.sampled_from(FORMULA_SIGNS), st.text()
)
hostile_text = st.one_of(
    st.text(),
    st.text(alphabet='ab,"\r\n\t =+-@', max_size=12),
    formula,
)


def _guarded(cell: str) -> bool:
    """Whether a spreadsheet would read ``cell`` as text rather than run it."""
    return cell[:1] not in ("\t", "\r") and cell.lstrip()[:1] not in tuple(FORMULA_SIGNS)


class TestCsvExport:
    @settings(max_examples=300, deadline=None)
    @given(fields=st.lists(st.tuples(st.sampled_from(CSV_COLUMNS), hostile_text), max_size=6))
    def test_any_text_reads_back_as_one_guarded_row_per_event(self, fields):
        """Any field text (CR, LF, quotes, blanks before a formula) is one row, read back whole."""
        event = dict(fields)
        event["user"] = {
            key: event.pop(column)
            for key, column in (
                ("id", "user_id"),
                ("pseudo_id", "user_pseudo_id"),
                ("os_user", "os_user"),
            )
            if column in event
        }
        document = "\n".join([csv_header(), to_csv(event), to_csv(event)]) + "\n"
        rows = list(csv.reader(io.StringIO(document, newline="")))
        assert len(rows) == 3
        assert rows[0] == list(CSV_COLUMNS)
        assert rows[1] == rows[2]
        for column, cell in zip(CSV_COLUMNS, rows[1], strict=True):
            written = dict(fields).get(column, "")
            assert cell in (written, "'" + written), (column, written, cell)
            assert _guarded(cell), (column, cell)

    @pytest.mark.parametrize(
        ("text", "cell"),
        [
            ("\t=HYPERLINK(1)", "'\t=HYPERLINK(1)"),
            ("   +SUM(A1)", "'   +SUM(A1)"),
            ("\r\n@cmd", "'\r\n@cmd"),
            ("\n-1+1", "'\n-1+1"),
            ("\tplain", "'\tplain"),
            ("\uff1dcmd", "'\uff1dcmd"),
            ("line one\rline two", "line one\rline two"),
            ('say "hi"\n', 'say "hi"\n'),
            ("a = b", "a = b"),
        ],
        ids=[
            "tab-equals",
            "spaces-plus",
            "crlf-at",
            "lf-minus",
            "leading-tab",
            "full-width-equals",
            "bare-cr",
            "quote-lf",
            "inner-equals",
        ],
    )
    def test_hostile_fields_through_export(self, tmp_path, text, cell):
        """export() of a journal: one row per event, the field read back whole or guarded."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, Ed25519PrivateKey.generate(), checkpoint_every=100)
        journal({**EVENT, "error.message": text, "user": {"id": text}})
        journal({**EVENT, "provider": text})
        journal.close()
        out = io.StringIO(newline="")
        assert export([path], "csv", out) == 2
        rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
        assert [(r["error.message"], r["user_id"], r["provider"]) for r in rows] == [
            (cell, cell, "openai"),
            ("", "alice", cell),
        ]


@functools.cache
def _api_activity_validator():
    """The official OCSF 1.3.0 API Activity class as a JSON Schema validator."""
    schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(OCSF_VERSION)).get_class_schema("api_activity")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture
def api_activity_schema():
    """The validator, built once (a fixture object would be too large for Hypothesis' repr)."""
    return _api_activity_validator()


def _assert_valid(validator, record):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(record)]
    assert errors == [], (errors, record)


def _nulls(value, path=""):
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [n for key, item in value.items() for n in _nulls(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [n for i, item in enumerate(value) for n in _nulls(item, f"{path}[{i}]")]
    return []


@pytest.fixture
def every_outcome(tmp_path, monkeypatch):
    """A journal of real resolutions with every outcome, no trace, and no OS user name."""
    # A process whose uid has no user name (common in containers).
    monkeypatch.setattr(middleware, "_os_user", lambda: None)
    path = tmp_path / "audit.jsonl"
    journal = Journal(path, Ed25519PrivateKey.generate(), checkpoint_every=3)
    vault = FailingSecretProvider(None, name="vault", fallback={"openai": "sk-first-key-1"})
    manager = SecretsManager(
        [vault], middleware=[AuditMiddleware([journal], service_name="svc")], cache=None
    )
    with principal("alice"):
        manager.resolve("openai")
        manager.resolve("mistral")
        vault.fallback["openai"] = "sk-rotated-key-2"
        manager.resolve("openai")
    manager.resolve("openai")  # no principal: no user id either
    vault.error = SourceForbiddenError("revoked")
    manager.resolve("openai")
    vault.error = SourceUnavailableError("down")
    manager.resolve("openai")
    journal.close()
    return path


class TestOcsfExport:
    def test_every_record_is_valid_against_the_official_schema(
        self, every_outcome, api_activity_schema
    ):
        """Every outcome, no trace and no OS user name: valid 1.3.0 records, without a null."""
        out = io.StringIO()
        export([every_outcome], "ocsf", out)
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [(r["unmapped"]["event"], r["activity_id"], r["status_id"]) for r in records] == [
            ("secret.resolved", 2, 1),
            ("secret.not_found", 2, 2),
            ("secret.resolved", 2, 1),
            ("secret.rotated", 3, 1),
            ("secret.resolved", 2, 1),
            ("secret.denied", 2, 2),
            ("secret.error", 2, 2),
        ]
        for record in records:
            _assert_valid(api_activity_schema, record)
            assert _nulls(record) == [], record
            assert "correlation_uid" not in record["metadata"]
            assert "name" not in record["actor"]["user"]

    def test_a_rotation_is_an_update(self, api_activity_schema):
        """secret.rotated is API Activity: Update (3, type 600303), with both fingerprints."""
        rotated = {
            **EVENT,
            "event": "secret.rotated",
            "fingerprint": "hmac-sha256:bb",
            "previous_fingerprint": "hmac-sha256:aa",
        }
        record = to_ocsf(rotated)
        _assert_valid(api_activity_schema, record)
        assert (
            record["activity_id"],
            record["activity_name"],
            record["type_uid"],
            record["type_name"],
        ) == (3, "Update", 600303, "API Activity: Update")
        assert record["unmapped"] == {
            "event": "secret.rotated",
            "source": "vault",
            "fingerprint": "hmac-sha256:bb",
            "previous_fingerprint": "hmac-sha256:aa",
        }

    def test_observables_name_the_host_the_user_and_the_secret(self):
        """Observables: host name (1), user name (4), user id (99, User UID), resource uid (10)."""
        assert to_ocsf(EVENT)["observables"] == [
            {"name": "src_endpoint.hostname", "type_id": 1, "type": "Hostname", "value": "web-1"},
            {"name": "actor.user.name", "type_id": 4, "type": "User Name", "value": "svc"},
            {"name": "actor.user.uid", "type_id": 99, "type": "User UID", "value": "alice"},
            {
                "name": "resources.uid",
                "type_id": 10,
                "type": "Resource UID",
                "value": "vault:secret/openai",
            },
        ]

    @pytest.mark.parametrize(
        "event",
        [
            {"time": "2026-11-28T10:00:00", "event": "secret.error", "outcome": "error"},
            {**EVENT, "user": "not-a-mapping", "host.name": None, "service.name": None},
            {**EVENT, "seq": 7, "provider": 42, "event_id": 99, "locator": ""},
            {**EVENT, "attempts": [{"source": "vault", "error_type": None}], "trace_id": None},
        ],
        ids=["bare-event", "no-host-no-service", "wrong-types", "null-in-attempts"],
    )
    def test_sparse_and_mistyped_events_stay_valid(self, api_activity_schema, event):
        """Absent or wrongly typed fields: still a valid record, strings where strings go."""
        record = to_ocsf(event)
        _assert_valid(api_activity_schema, record)
        assert _nulls(record) == []

    @settings(max_examples=100, deadline=None)
    @given(
        fields=st.fixed_dictionaries(
            {},
            optional={
                key: st.one_of(st.none(), st.text(), st.integers())
                for key in (
                    "event",
                    "provider",
                    "source",
                    "outcome",
                    "locator",
                    "event_id",
                    "trace_id",
                    "host.name",
                    "service.name",
                    "source_request_id",
                    "fingerprint",
                    "error.message",
                    "error.type",
                )
            },
        ),
        user=st.dictionaries(
            st.sampled_from(["id", "pseudo_id", "os_user"]), st.one_of(st.none(), st.text())
        ),
    )
    def test_any_event_maps_to_a_valid_record(self, fields, user):
        """Any mix of absent, empty, null or numeric fields maps to a valid, null-free record."""
        record = to_ocsf({"time": EVENT["time"], "user": user, **fields})
        _assert_valid(_api_activity_validator(), record)
        assert _nulls(record) == []
