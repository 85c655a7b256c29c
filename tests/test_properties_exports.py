"""Exports of audit events with hostile text in every field, as properties.

CSV reads back as one row per event with every column, and no cell a spreadsheet would run;
JSON lines read back one event per line; every OCSF record is valid against the official
OCSF 1.3.0 schema; a CEF line stays one line. A key served through the real middleware, then
planted in the free-form fields a hostile source fills, reaches no export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import string
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_exports_hostile import _api_activity_validator, _assert_valid, _nulls

from abstractcore_secrets import SecretsManager, SourceForbiddenError, SourceUnavailableError
from abstractcore_secrets.assembly import middleware_stacks
from abstractcore_secrets.audit import AuditMiddleware
from abstractcore_secrets.audit.exports import (
    CSV_COLUMNS,
    RENDERERS,
    csv_header,
    export,
    export_format_names,
    to_cef,
    to_csv,
    to_jsonl,
    to_ocsf,
)
from abstractcore_secrets.audit.journal import Journal
from abstractcore_secrets.redaction import default_policy
from abstractcore_secrets.testing import FailingSecretProvider

pytestmark = pytest.mark.timeout(120)

# What spreadsheets run as a formula at the start of a cell, full-width forms included.
TRIGGERS = tuple("=+-@\uff1d\uff0b\uff0d\uff20")
BLANKS = " \t\r\n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029\u3000\ufeff\u200b\u2060"
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

blank_runs = st.text(alphabet=BLANKS, max_size=3)
formulas = st.builds(
    lambda lead, sign, rest: lead + sign + rest,
    blank_runs,
    st.sampled_from(TRIGGERS),
    st.text(alphabet=string.ascii_letters + "()!|\"',;\t\r\n", max_size=12),
)
short_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="ab,;\"'\r\n\t\x00 =+-@|\\\u2028\u0085", max_size=16),
    formulas,
)
long_text = st.integers(65_530, 70_000).map(lambda n: "=" + "x\n" * (n // 2))  # string_t's cap
# One string in twenty is long: enough to meet the cap, few enough to stay fast.
hostile_text = st.integers(0, 19).flatmap(lambda n: long_text if n == 0 else short_text)
times = st.datetimes(
    min_value=dt.datetime(1971, 1, 1),
    max_value=dt.datetime(2999, 12, 31),
    timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-5))]),
).map(lambda moment: moment.isoformat())
free = st.one_of(st.none(), hostile_text)
numbers = st.one_of(st.none(), st.integers(0, 2**53), st.floats(0, 1e9))
users = st.one_of(
    st.fixed_dictionaries({}, optional={"id": free, "pseudo_id": free, "os_user": free}),
    hostile_text,
)
attempts = st.lists(
    st.fixed_dictionaries(
        {"source": free, "outcome": free, "error_type": free, "duration_ms": numbers}
    ),
    max_size=3,
)
events = st.fixed_dictionaries(
    {"time": times},
    optional={
        "seq": numbers,
        "event_id": free,
        "event": st.one_of(
            st.sampled_from(
                [
                    "secret.resolved",
                    "secret.not_found",
                    "secret.denied",
                    "secret.error",
                    "secret.rotated",
                ]
            ),
            free,
        ),
        "provider": free,
        "source": free,
        "outcome": st.one_of(st.sampled_from(["found", "not_found", "denied", "error"]), free),
        "stale": st.booleans(),
        "cache_hit": st.booleans(),
        "attempts": attempts,
        "locator": free,
        "version": free,
        "fingerprint": free,
        "previous_fingerprint": free,
        "user": users,
        "service.name": free,
        "host.name": st.one_of(free, st.sampled_from(["web-1", "a.b-c.example", "-bad-", "x."])),
        "process.pid": numbers,
        "trace_id": free,
        "span_id": free,
        "source_request_id": free,
        "duration_ms": numbers,
        "error.type": free,
        "error.message": free,
    },
)

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _guarded(cell: str) -> bool:
    """Whether a spreadsheet reads ``cell`` as text (or a plain number), never a formula."""
    try:
        float(cell)
    except ValueError:
        pass
    else:
        return True
    visible = cell.lstrip()
    while visible[:1] in tuple(INVISIBLE) and visible:
        visible = visible[1:].lstrip()
    return cell[:1] not in ("\t", "\r") and not visible.startswith(TRIGGERS)


def _written(event: dict, column: str) -> str:
    """What the CSV cell of ``column`` holds for ``event``, before any guard."""
    user = event.get("user") if isinstance(event.get("user"), dict) else {}
    key = {"user_id": "id", "user_pseudo_id": "pseudo_id", "os_user": "os_user"}.get(column)
    value = user.get(key) if key else event.get(column)
    return "" if value is None else str(value)


class TestCsv:
    @PROPERTY
    @given(batch=st.lists(events, min_size=1, max_size=4))
    @example(batch=[{"time": "2026-01-01T00:00:00+00:00", "provider": "\u2028=cmd"}])
    @example(batch=[{"time": "2026-01-01T00:00:00+00:00", "locator": "\x85@SUM(1)"}])
    @example(batch=[{"time": "2026-01-01T00:00:00+00:00", "user": {"id": "\u3000-1+1"}}])
    @example(batch=[{"time": "2026-01-01T00:00:00+00:00", "error.message": "\ufeff="}])
    def test_one_guarded_row_per_event_with_every_column(self, batch):
        """Header plus one row per event, every column, each cell whole or guarded."""
        document = "".join(line + "\n" for line in [csv_header(), *map(to_csv, batch)])
        rows = list(csv.reader(io.StringIO(document, newline="")))
        assert len(rows) == 1 + len(batch)
        assert rows[0] == list(CSV_COLUMNS)
        for event, row in zip(batch, rows[1:], strict=True):
            assert len(row) == len(CSV_COLUMNS)
            for column, cell in zip(CSV_COLUMNS, row, strict=True):
                written = _written(event, column)
                assert cell in (written, "'" + written), (column, written, cell)
                assert _guarded(cell), (column, cell)


@pytest.mark.parametrize(
    "text",
    ["\ufeff=cmd", "\u200b+1", " \u2060\t@SUM(1)", "\u200d\u3000-2"],
    ids=["bom", "zero-width-space", "word-joiner-after-blanks", "joiner-then-ideographic"],
)
def test_a_formula_behind_invisible_characters_is_guarded(text):
    """Regression: a BOM or zero-width character before a formula sign gets the quote too."""
    row = next(csv.reader(io.StringIO(to_csv({"time": "t", "provider": text}), newline="")))
    assert row[CSV_COLUMNS.index("provider")] == "'" + text


class TestJsonLines:
    @PROPERTY
    @given(batch=st.lists(events, min_size=1, max_size=4))
    def test_one_event_per_line_read_back_whole(self, batch):
        """Each event is one line (by any reader's idea of a line) and parses back equal."""
        document = "".join(to_jsonl(event) + "\n" for event in batch)
        lines = document.splitlines()
        assert len(lines) == len(batch)
        assert [json.loads(line) for line in lines] == batch


class TestOcsf:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(event=events)
    @example(event={"time": "2026-01-01T00:00:00+00:00", "host.name": "a" * 300})
    @example(event={"time": "2026-01-01T00:00:00+00:00", "locator": "=" + "x" * 70_000})
    @example(event={"time": "2026-01-01T00:00:00+00:00", "provider": "p" * 65_535})
    def test_every_record_is_valid_against_the_official_schema(self, event):
        """Any event maps to a valid OCSF 1.3.0 API Activity record, null-free, one line."""
        record = to_ocsf(event)
        _assert_valid(_api_activity_validator(), record)
        assert _nulls(record) == []
        line = RENDERERS["ocsf"](event)
        assert len(line.splitlines()) == 1
        assert json.loads(line) == json.loads(json.dumps(record, default=str))


def test_a_long_provider_without_locator_stays_within_string_t():
    """Regression: the ``provider:`` fallback uid is cut to string_t's 65,535 characters too."""
    record = to_ocsf({"time": "2026-01-01T00:00:00+00:00", "provider": "p" * 65_535})
    _assert_valid(_api_activity_validator(), record)
    assert record["resources"][0]["uid"] == ("provider:" + "p" * 65_535)[:65_535]


class TestCef:
    @PROPERTY
    @given(event=events)
    @example(event={"time": "2026-01-01T00:00:00+00:00", "event": "x\nCEF:0|forged"})
    @example(event={"time": "2026-01-01T00:00:00+00:00", "provider": "x\u2028forged=1"})
    def test_one_line_per_event(self, event):
        """A CEF line stays one line to any reader, whatever the event holds."""
        assert len(to_cef(event).splitlines()) == 1


@pytest.mark.parametrize(
    ("event", "line_count"),
    [
        ({"event": "x\nCEF:0|forged"}, 1),
        ({"event": "x\r\nforged"}, 1),
        ({"provider": "x\u2028forged"}, 1),
        ({"error.message": "x\x85forged", "outcome": "error"}, 1),
        ({"locator": "a\x0bb\x0cc\x1cd"}, 1),
    ],
    ids=["lf-in-header", "crlf-in-header", "line-separator", "next-line", "other-breaks"],
)
def test_cef_escapes_every_line_break(event, line_count):
    """Regression: a line break in a header field or a Unicode one cannot forge a CEF line."""
    line = to_cef({"time": "2026-01-01T00:00:00+00:00", **event})
    assert len(line.splitlines()) == line_count


secrets = st.text(string.ascii_lowercase + string.digits, min_size=24, max_size=24).map(
    lambda tail: "canary-" + tail
)


class TestNoSecretInAnyExport:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        secret=secrets,
        before=hostile_text.filter(lambda text: len(text) < 1000),
        after=st.text(max_size=20),
        outcomes=st.lists(st.sampled_from(["found", "forbidden", "down"]), min_size=1, max_size=5),
    )
    def test_a_served_key_in_a_hostile_error_reaches_no_export(
        self, tmp_path, secret, before, after, outcomes
    ):
        """A key, once served, then echoed in a source's error message, is in no export."""
        path = Path(tempfile.mkdtemp(dir=tmp_path)) / "audit.jsonl"  # a fresh journal each time
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
        for outcome in outcomes:
            message = f"{before}{secret}{after}"
            source.error = {
                "found": None,
                "forbidden": SourceForbiddenError(message),
                "down": SourceUnavailableError(message),
            }[outcome]
            manager.resolve("openai")
        journal.close()
        assert secret not in path.read_text()
        for fmt in export_format_names():  # every registered format, not only the built-ins
            out = io.StringIO()
            assert export([path], fmt, out) == 1 + len(outcomes)
            assert secret not in out.getvalue(), fmt
