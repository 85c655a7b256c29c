"""Readers of audit journals that hold summaries of cache hits, through real files and the CLI.

A journal mixes records written before summaries existed (no ``count``), events of their own
(``count`` 1) and ``secret.accessed`` summaries (``count`` N, first and last hit). Every
export renders a summary in its format's own terms (OCSF's ``count``/``start_time``/
``end_time``, valid against the official 1.3.0 schema; CEF's ``cnt``/``start``/``end``);
``find-key``, the report and the evidence bundle count resolutions, the sum of ``count``.
A ``count`` that cannot be read is skipped like a torn line, never summed; a forged summary
is still tampering to ``audit verify``. The key is a canary that no output may hold.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess

import pytest
from clirun import run_cli
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from test_exports_hostile import _api_activity_validator, _assert_valid, _nulls

from abstractcore_secrets import Fingerprinter, SecretsManager
from abstractcore_secrets._version import __version__
from abstractcore_secrets.audit import AuditMiddleware, principal
from abstractcore_secrets.audit.exports import (
    CSV_COLUMNS,
    Skipped,
    csv_header,
    events,
    export,
    to_cef,
    to_csv,
    to_ocsf,
)
from abstractcore_secrets.audit.journal import Journal, canonical, record_hash
from abstractcore_secrets.audit.report import render_report
from abstractcore_secrets.testing import FailingSecretProvider
from abstractcore_secrets.testing.canary import canary, find_leaks

FIRST = "2026-11-28T10:00:00.000001+00:00"
LAST = "2026-11-28T10:00:59.912345+00:00"
BAD_COUNT = "a count that is not a whole number from 1 to 9007199254740991"


def _millis(text):
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


def _event(number, fingerprint, **fields):
    """An event of its own as the middleware writes it now: every field, count 1."""
    return {
        "time": f"2026-11-28T10:00:{number:02d}.000000+00:00",
        "seq": number,
        "event_id": f"00000000-0000-4000-8000-{number:012d}",
        "event": "secret.resolved",
        "provider": "openai",
        "source": "vault",
        "outcome": "found",
        "stale": False,
        "degraded": False,
        "cache_hit": False,
        "attempts": [
            {
                "source": "vault",
                "outcome": "found",
                "error_type": None,
                "tries": 1,
                "duration_ms": 4,
            }
        ],
        "locator": "vault:openai",
        "version": "3",
        "fingerprint": fingerprint,
        "user": {"id": "alice", "os_user": "svc"},
        "service.name": "svc",
        "host.name": "web-1",
        "process.pid": 42,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "source_request_id": f"req-{number}",
        "duration_ms": 4.2,
        "error.type": None,
        "error.message": None,
        "count": 1,
        "first_time": None,
        "last_time": None,
        **fields,
    }


def _old(number, fingerprint, **fields):
    """A record written before summaries existed: no count, first or last time."""
    event = _event(number, fingerprint, **fields)
    for name in ("count", "first_time", "last_time"):
        del event[name]
    return event


def _summary(number, fingerprint, count, first, last, **fields):
    """A ``secret.accessed`` summary, shaped as the audit middleware writes one."""
    shape = {
        "event": "secret.accessed",
        "cache_hit": True,
        "attempts": [],
        "trace_id": None,
        "span_id": None,
        "source_request_id": None,
        "duration_ms": None,
        "count": count,
        "first_time": first,
        "last_time": last,
    }
    return _event(number, fingerprint, **{**shape, **fields})


@pytest.fixture
def key():
    """The canary served as openai's key: no output may hold it."""
    return canary()


@pytest.fixture
def fingerprint(key):
    """The key's fingerprint with this installation's key, which find-key uses too."""
    return Fingerprinter().fingerprint(key)


@pytest.fixture
def signing(tmp_path):
    """A signing key and its public half in a PEM file, as ``--key`` takes it."""
    private = Ed25519PrivateKey.generate()
    public = tmp_path / "journal.pub"
    public.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _write(path, private, records, every=100):
    journal = Journal(path, private, checkpoint_every=every)
    for record in records:
        journal(record)
    journal.close()
    return path


@pytest.fixture
def mixed(tmp_path, signing, fingerprint):
    """Old, individual and summary records: 6 records standing for 507 resolutions.

    Alice's key was fetched before summaries existed (an old record); bob first used it from
    the cache (his summary's first hit, 10:00:30, is earlier than his stale answer at 10:00:50,
    which is written before the summary).
    """
    records = [
        _old(1, fingerprint, time="2026-11-28T09:59:59.000000+00:00"),
        _event(
            10,
            None,
            event="secret.not_found",
            provider="mistral",
            outcome="not_found",
            locator=None,
            version=None,
        ),
        _event(
            45,
            None,
            event="secret.denied",
            provider="groq",
            outcome="denied",
            user={"id": "bob", "os_user": "svc"},
            locator=None,
            version=None,
            **{"error.type": "forbidden", "error.message": "revoked"},
        ),
        _event(
            50,
            fingerprint,
            stale=True,
            cache_hit=True,
            user={"id": "bob", "os_user": "svc"},
            **{"error.type": "unavailable", "error.message": "vault down"},
        ),
        _summary(
            59, fingerprint, 500, FIRST, LAST, time="2026-11-28T10:01:00.000210+00:00", seq=60
        ),
        _summary(
            59,
            fingerprint,
            3,
            "2026-11-28T10:00:30.000000+00:00",
            "2026-11-28T10:00:40.000000+00:00",
            time="2026-11-28T10:01:00.000300+00:00",
            seq=61,
            event_id="00000000-0000-4000-8000-000000000061",
            user={"id": "bob", "os_user": "svc"},
        ),
    ]
    return _write(tmp_path / "audit.jsonl", signing[0], records), records


def _cli(*arguments, stdin=""):
    result = run_cli(*arguments, stdin=stdin)
    assert result.returncode in (0, 1), result.stderr
    return result


def _a_number(cell):
    """Whether a spreadsheet reads ``cell`` as a number (never run as a formula)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _cef_extensions(line):
    """The key=value extensions of a CEF line, unescaped."""
    body = re.split(r"(?<!\\)\|", line, maxsplit=7)[7]
    pairs = re.findall(r"(\w+)=((?:\\.|[^\\])*?)(?= \w+=|$)", body)
    return {k: re.sub(r"\\(.)", r"\1", v) for k, v in pairs}


class TestExportOfAMixedJournal:
    def test_jsonl_gives_older_records_a_count_of_one(self, mixed):
        """JSON lines: each record as written, an older one given count 1, no first or last."""
        path, records = mixed
        result = _cli("audit", "export", str(path), "--format", "jsonl")
        exported = [json.loads(line) for line in result.stdout.splitlines()]
        old = {**records[0], "count": 1, "first_time": None, "last_time": None}
        assert exported == [old, *records[1:]]
        assert result.stderr == ""

    def test_csv_ends_with_count_first_and_last(self, mixed):
        """CSV: the columns count, first_time, last_time at the end; 1 for an older record."""
        path, _ = mixed
        result = _cli("audit", "export", str(path), "--format", "csv")
        rows = list(csv.reader(io.StringIO(result.stdout, newline="")))
        assert rows[0] == list(CSV_COLUMNS)
        assert rows[0][-3:] == ["count", "first_time", "last_time"]
        assert [tuple(row[-3:]) for row in rows[1:]] == [
            ("1", "", ""),
            ("1", "", ""),
            ("1", "", ""),
            ("1", "", ""),
            ("500", FIRST, LAST),
            ("3", "2026-11-28T10:00:30.000000+00:00", "2026-11-28T10:00:40.000000+00:00"),
        ]

    def test_ocsf_summary_is_an_aggregate_event_valid_against_the_schema(self, mixed):
        """OCSF: a summary has count, start_time and end_time; an event of its own has none."""
        path, records = mixed
        result = _cli("audit", "export", str(path), "--format", "ocsf")
        exported = [json.loads(line) for line in result.stdout.splitlines()]
        for record in exported:
            _assert_valid(_api_activity_validator(), record)
            assert _nulls(record) == [], record
        assert [(r.get("count"), r.get("start_time"), r.get("end_time")) for r in exported] == [
            (None, None, None)
        ] * 4 + [
            (500, _millis(FIRST), _millis(LAST)),
            (3, _millis("2026-11-28T10:00:30+00:00"), _millis("2026-11-28T10:00:40+00:00")),
        ]
        summary = records[4]
        assert exported[4] == {
            "class_uid": 6003,
            "class_name": "API Activity",
            "category_uid": 6,
            "category_name": "Application Activity",
            "activity_id": 2,
            "activity_name": "Read",
            "type_uid": 600302,
            "type_name": "API Activity: Read",
            "severity_id": 1,
            "status_id": 1,
            "status": "Success",
            "time": _millis(summary["time"]),
            "count": 500,
            "start_time": _millis(FIRST),
            "end_time": _millis(LAST),
            "metadata": {
                "version": "1.3.0",
                "uid": summary["event_id"],
                "product": {
                    "name": "abstractcore-secrets",
                    "vendor_name": "abstractcore",
                    "version": __version__,
                },
            },
            "actor": {"user": {"uid": "alice", "name": "svc"}, "app_name": "svc"},
            "api": {
                "operation": "resolve_secret",
                "service": {"name": "vault"},
                "request": {"uid": summary["event_id"]},
            },
            "src_endpoint": {"hostname": "web-1"},
            "resources": [{"type": "secret", "uid": "vault:openai", "name": "openai"}],
            "observables": [
                {
                    "name": "src_endpoint.hostname",
                    "type_id": 1,
                    "type": "Hostname",
                    "value": "web-1",
                },
                {"name": "actor.user.name", "type_id": 4, "type": "User Name", "value": "svc"},
                {"name": "actor.user.uid", "type_id": 99, "type": "User UID", "value": "alice"},
                {
                    "name": "resources.uid",
                    "type_id": 10,
                    "type": "Resource UID",
                    "value": "vault:openai",
                },
            ],
            "unmapped": {
                "event": "secret.accessed",
                "source": "vault",
                "fingerprint": summary["fingerprint"],
            },
        }

    def test_cef_summary_carries_cnt_start_and_end(self, mixed):
        """CEF: cnt, start and end (epoch ms) on a summary, beside rt; none on other events."""
        path, records = mixed
        lines = _cli("audit", "export", str(path), "--format", "cef").stdout.splitlines()
        extensions = [_cef_extensions(line) for line in lines]
        assert [(e.get("cnt"), e.get("start"), e.get("end")) for e in extensions] == [
            (None, None, None)
        ] * 4 + [
            ("500", str(_millis(FIRST)), str(_millis(LAST))),
            (
                "3",
                str(_millis("2026-11-28T10:00:30+00:00")),
                str(_millis("2026-11-28T10:00:40+00:00")),
            ),
        ]
        assert lines[4].split("|")[4:7] == ["secret.accessed", "secret accessed", "3"]
        assert extensions[4]["rt"] == str(_millis(records[4]["time"]))
        assert extensions[4]["suser"] == "alice"

    def test_cef_still_escapes_what_a_summary_carries(self):
        """A summary's text is escaped as any event's: one line, no forged record or key."""
        hostile = _summary(
            1, "hmac-sha256:aa", 7, FIRST, LAST, locator="x cnt=1\nCEF:0|forged|x", provider="a|b"
        )
        line = to_cef(hostile)
        assert len(line.splitlines()) == 1
        assert "cs3=x cnt\\=1\\nCEF:0|forged|x" in line
        assert _cef_extensions(line)["cnt"] == "7"


class TestFindKeyCountsSummaries:
    def test_a_summary_row_says_how_many_accesses_from_when_to_when(self, mixed, key):
        """Plain text: a summary counts N accesses from its first to its last hit; a total."""
        path, _ = mixed
        result = _cli("audit", "find-key", str(path), stdin=key + "\n")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].split() == [
            "TIME",
            "USER",
            "OS_USER",
            "HOST",
            "PROVIDER",
            "SOURCE",
            "LOCATOR",
            "ACCESSES",
        ]
        assert [line.split("vault:openai")[1].strip() for line in lines[1:5]] == [
            "1",
            "1",
            f"500 from {FIRST} to {LAST}",
            "3 from 2026-11-28T10:00:30.000000+00:00 to 2026-11-28T10:00:40.000000+00:00",
        ]
        assert lines[5:] == ["this key was served 505 time(s), in 4 record(s)"]

    def test_json_rows_carry_count_first_and_last(self, mixed, key):
        """--json: every row has count, first_time and last_time; the counts sum to 505."""
        path, records = mixed
        result = _cli("audit", "find-key", str(path), "--json", stdin=key + "\n")
        served = json.loads(result.stdout)
        assert [
            (row["user"], row["count"], row["first_time"], row["last_time"], row["event_id"])
            for row in served
        ] == [
            ("alice", 1, None, None, records[0]["event_id"]),
            ("bob", 1, None, None, records[3]["event_id"]),
            ("alice", 500, FIRST, LAST, records[4]["event_id"]),
            (
                "bob",
                3,
                "2026-11-28T10:00:30.000000+00:00",
                "2026-11-28T10:00:40.000000+00:00",
                records[5]["event_id"],
            ),
        ]
        assert sum(row["count"] for row in served) == 505

    def test_a_summary_without_first_or_last_says_so(self, tmp_path, signing, key, fingerprint):
        """A summary that lost its first and last time still counts, its times unrecorded."""
        summary = _summary(1, fingerprint, 9, FIRST, LAST)
        del summary["first_time"]
        summary["last_time"] = None
        path = _write(tmp_path / "audit.jsonl", signing[0], [summary])
        result = _cli("audit", "find-key", str(path), stdin=key + "\n")
        assert result.stdout.splitlines()[1].endswith("vault:openai  9 (times not recorded)")
        assert result.stdout.splitlines()[-1] == "this key was served 9 time(s), in 1 record(s)"


def _data_counts(page):
    sections = page.split("<section>")[1:]
    return [sum(int(c) for c in re.findall(r'data-count="(\d+)"', s)) for s in sections]


class TestReportSumsCounts:
    def test_every_chart_sums_counts_and_the_page_says_so(self, mixed, tmp_path):
        """507 resolutions in 6 records: the charts add up to 507, and the page says why."""
        path, _ = mixed
        output = tmp_path / "report.html"
        result = _cli("audit", "report", str(path), "--output", str(output))
        assert result.returncode == 0, result.stderr
        page = output.read_text()
        assert _data_counts(page)[:4] == [507, 507, 1, 507]
        assert "<p>507 resolutions from 2 principals.</p>" in page
        assert (
            '<p class="summaries">503 of these resolutions are cache hits counted by 2 summary '
            "record(s) (secret.accessed), of 6 records in all: every chart counts the "
            "resolutions each record stands for (its count), a summary's in the hour of its "
            "first hit.</p>"
        ) in page
        principals = page.split("<h2>Top principals</h2>")[1].split("</section>")[0]
        assert re.findall(
            r'font-size="11">(\w+)</text><rect class="bar" data-count="(\d+)"', principals
        ) == [
            ("alice", "502"),
            ("bob", "5"),  # a denial, a stale answer and 3 hits
        ]

    def test_a_summary_counts_in_the_hour_of_its_first_hit(self, tmp_path, signing):
        """A summary written at 11:00:00.1 whose hits began at 10:59 counts at 10:00."""
        summary = _summary(
            1,
            "hmac-sha256:aa",
            40,
            "2026-11-28T10:59:30.000000+00:00",
            "2026-11-28T10:59:59.000000+00:00",
            time="2026-11-28T11:00:00.100000+00:00",
        )
        path = _write(tmp_path / "audit.jsonl", signing[0], [summary])
        page = render_report([path])
        assert "<title>2026-11-28 10:00 vault: 40</title>" in page
        assert "11:00 vault" not in page

    def test_first_seen_is_the_earliest_hit_not_the_first_record(self, mixed):
        """Bob's first openai hit (10:00:30, in a summary) precedes his stale answer's record."""
        path, _ = mixed
        page = render_report([path])
        assert "<td>2026-11-28T10:00:30.000000+00:00</td><td>bob</td><td>openai</td>" in page


class TestEvidenceBundleSumsCounts:
    def test_verification_json_counts_records_and_resolutions(self, mixed, signing, tmp_path):
        """The export holds 6 records for 507 resolutions; the manifest checks out."""
        path, _ = mixed
        bundle = tmp_path / "evidence"
        result = _cli(
            "audit",
            "export",
            str(path),
            "--format",
            "cef",
            "--evidence",
            str(bundle),
            "--key",
            str(signing[1]),
        )
        assert result.returncode == 0, result.stderr
        verification = json.loads((bundle / "verification.json").read_text())
        assert verification["intact"] is True
        assert verification["export"] == {"file": "export.cef", "records": 6, "resolutions": 507}
        filtered = tmp_path / "bob"
        _cli(
            "audit",
            "export",
            str(path),
            "--user",
            "bob",
            "--evidence",
            str(filtered),
            "--key",
            str(signing[1]),
        )
        assert json.loads((filtered / "verification.json").read_text())["export"] == {
            "file": "export.jsonl",
            "records": 3,
            "resolutions": 5,
        }
        checked = subprocess.run(
            ["sha256sum", "-c", "MANIFEST.sha256"],
            cwd=bundle,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout


HOSTILE_COUNTS = {
    "negative": -500,
    "zero": 0,
    "past-2^53": 2**53,
    "huge": 10**40,
    "string": "500",
    "formula": "=1+1",
    "true": True,
    "false": False,
    "float": 500.0,
    "fraction": 2.5,
    "null": None,
    "list": [500],
}


class TestHostileCounts:
    @pytest.mark.parametrize("count", HOSTILE_COUNTS.values(), ids=HOSTILE_COUNTS.keys())
    def test_an_unreadable_count_is_skipped_never_summed(self, tmp_path, signing, count):
        """A count that is not a whole number from 1 up: skipped and said, the rest counted."""
        records = [
            _event(1, "hmac-sha256:aa"),
            _summary(2, "hmac-sha256:aa", count, FIRST, LAST),
            _summary(3, "hmac-sha256:aa", 4, FIRST, LAST),
        ]
        path = _write(tmp_path / "audit.jsonl", signing[0], records)
        skipped = Skipped()
        kept = list(events([path], skipped=skipped))
        assert [(e["seq"], e["count"]) for e in kept] == [(1, 1), (3, 4)]
        assert (skipped.count, skipped.where) == (1, [(str(path), 2, BAD_COUNT)])
        assert "<p>5 resolutions from 1 principals.</p>" in render_report([path])

    def test_the_largest_count_a_json_reader_holds_is_read(self, tmp_path, signing):
        """2^53 - 1 is a count; OCSF and CEF carry it whole."""
        path = _write(
            tmp_path / "audit.jsonl",
            signing[0],
            [_summary(1, "hmac-sha256:aa", 2**53 - 1, FIRST, LAST)],
        )
        (event,) = events([path])
        record = to_ocsf(event)
        _assert_valid(_api_activity_validator(), record)
        assert record["count"] == 2**53 - 1
        assert _cef_extensions(to_cef(event))["cnt"] == str(2**53 - 1)

    def test_the_cli_says_where_it_skipped(self, tmp_path, signing):
        """Through the CLI: export exits 0, the skipped line named on stderr with its reason."""
        path = _write(
            tmp_path / "audit.jsonl",
            signing[0],
            [_summary(1, "hmac-sha256:aa", -1, FIRST, LAST), _event(2, "hmac-sha256:aa")],
        )
        result = _cli("audit", "export", str(path))
        assert result.returncode == 0
        assert [json.loads(line)["seq"] for line in result.stdout.splitlines()] == [2]
        assert result.stderr == (
            "warning: skipped 1 line(s) that are not audit events (run audit verify): "
            f"{path}:1 ({BAD_COUNT})\n"
        )

    @pytest.mark.parametrize(
        ("first", "last"),
        [("yesterday", LAST), (FIRST, 1764324000), (FIRST, {"at": LAST})],
        ids=["first-not-a-time", "last-a-number", "last-an-object"],
    )
    def test_an_unreadable_first_or_last_time_is_skipped(self, tmp_path, signing, first, last):
        """A first or last time that is neither null nor ISO 8601: skipped and said."""
        path = _write(
            tmp_path / "audit.jsonl", signing[0], [_summary(1, "hmac-sha256:aa", 2, first, last)]
        )
        skipped = Skipped()
        assert list(events([path], skipped=skipped)) == []
        assert skipped.where == [(str(path), 1, "a first_time or last_time that is not ISO 8601")]

    def test_a_summary_without_first_or_last_exports_without_them(self, tmp_path, signing):
        """Missing first and last: null in JSON, empty in CSV, left out of OCSF and CEF."""
        summary = _summary(1, "hmac-sha256:aa", 12, FIRST, LAST)
        del summary["first_time"], summary["last_time"]
        path = _write(tmp_path / "audit.jsonl", signing[0], [summary])
        (event,) = events([path])
        assert (event["count"], event["first_time"], event["last_time"]) == (12, None, None)
        record = to_ocsf(event)
        _assert_valid(_api_activity_validator(), record)
        assert (record["count"], "start_time" in record, "end_time" in record) == (12, False, False)
        cef = _cef_extensions(to_cef(event))
        assert (cef["cnt"], "start" in cef, "end" in cef) == ("12", False, False)
        assert to_csv(event).endswith(",12,,")

    @settings(max_examples=150, deadline=None)
    @given(
        count=st.one_of(
            st.integers(),
            st.integers(min_value=2**53 - 2, max_value=2**70),
            st.booleans(),
            st.floats(allow_nan=True),
            st.text(),
            st.none(),
        ),
        first=st.one_of(st.none(), st.text(max_size=40), st.just(FIRST)),
        last=st.one_of(st.none(), st.integers(), st.just(LAST)),
        event=st.sampled_from(["secret.accessed", "secret.resolved", "x\nCEF:0|forged"]),
    )
    def test_any_count_renders_safely(self, count, first, last, event):
        """Whatever a record's count and times: a valid, null-free OCSF record with a count
        only when readable, one CEF line, one guarded CSV row."""
        hostile = _summary(1, "hmac-sha256:aa", count, first, last, event=event)
        record = to_ocsf(hostile)
        _assert_valid(_api_activity_validator(), record)
        assert _nulls(record) == []
        readable = isinstance(count, int) and not isinstance(count, bool) and 0 < count < 2**53
        assert ("count" in record) == (readable and (event == "secret.accessed" or count > 1))
        assert len(to_cef(hostile).splitlines()) == 1
        rows = list(csv.reader(io.StringIO(csv_header() + "\n" + to_csv(hostile), newline="")))
        assert len(rows) == 2
        cell = rows[1][CSV_COLUMNS.index("count")]
        assert _a_number(cell) or cell.lstrip()[:1] not in ("=", "+", "-", "@"), cell


class TestForgedSummaries:
    @pytest.fixture
    def sealed(self, tmp_path, signing, fingerprint):
        """A sealed journal: three events and a summary of 4 hits, a checkpoint every 2."""
        records = [
            _event(1, fingerprint),
            _event(2, fingerprint, cache_hit=True),
            _summary(3, fingerprint, 4, FIRST, LAST),
            _event(4, fingerprint),
        ]
        return _write(tmp_path / "audit.jsonl", signing[0], records, every=2)

    @staticmethod
    def _lines(path):
        return [json.loads(line) for line in path.read_bytes().splitlines()]

    @staticmethod
    def _save(path, records):
        path.write_bytes(b"".join(canonical(r) + b"\n" for r in records))

    def _inserted(self, path, fingerprint):
        """A forged summary chained to the record before it, inserted as the second line."""
        records = self._lines(path)
        forged = {
            "event": _summary(9, fingerprint, 10**6, FIRST, LAST, user={"id": "mallory"}),
            "seq": records[0]["seq"] + 1,
            "prev": records[0]["hash"],
        }
        forged["hash"] = record_hash(forged)
        self._save(path, [records[0], forged, *records[1:]])
        return "reordered or inserted"

    def _inflated(self, path, fingerprint):
        """The real summary's count edited from 4 to 4000, bytes otherwise canonical."""
        records = self._lines(path)
        for record in records:
            if record.get("event", {}).get("event") == "secret.accessed":
                record["event"]["count"] = 4000
        self._save(path, records)
        return "edited: its hash does not match"

    def _rehashed(self, path, fingerprint):
        """A forged summary appended and the whole chain re-hashed: the checkpoints disagree."""
        records = [r for r in self._lines(path) if "event" in r]
        closing = [r for r in self._lines(path) if "event" not in r][-1]
        records += [{"event": _summary(9, fingerprint, 99, FIRST, LAST)}, closing]
        previous = "0" * 64
        for seq, record in enumerate(records, start=1):
            record["seq"], record["prev"] = seq, previous
            record["hash"] = previous = record_hash(record)
        self._save(path, records)
        return "forged checkpoint"

    @pytest.mark.parametrize("tamper", ["_inserted", "_inflated", "_rehashed"])
    def test_verify_catches_a_forged_summary(self, sealed, signing, fingerprint, tamper):
        """A summary inserted, inflated, or appended with the chain re-hashed: not intact."""
        intact = run_cli("audit", "verify", str(sealed), "--key", str(signing[1]))
        assert intact.returncode == 0, intact.stdout
        problem = getattr(self, tamper)(sealed, fingerprint)
        result = run_cli("audit", "verify", str(sealed), "--key", str(signing[1]))
        assert result.returncode == 1
        assert problem in result.stdout, result.stdout


class TestThroughTheRealMiddleware:
    @pytest.mark.parametrize("hits", ["every", "summary"])
    def test_every_and_summary_count_the_same_resolutions(
        self, tmp_path, signing, key, fingerprint, hits
    ):
        """One fetch and four hits: 5 records under every, 2 under summary; 5 either way."""
        path = tmp_path / "audit.jsonl"
        journal = Journal(path, signing[0], checkpoint_every=100)
        audit = AuditMiddleware([journal], service_name="svc", hits=hits)
        vault = FailingSecretProvider(None, name="vault", fallback={"openai": key})
        manager = SecretsManager([vault], middleware=[audit])
        with principal("alice"):
            for _ in range(5):
                manager.resolve("openai")
        manager.close()
        journal.close()
        result = _cli("audit", "find-key", str(path), "--json", stdin=key + "\n")
        served = json.loads(result.stdout)
        assert sum(row["count"] for row in served) == 5
        assert [row["count"] for row in served] == ([1] * 5 if hits == "every" else [1, 4])
        if hits == "summary":
            first, last = served[1]["first_time"], served[1]["last_time"]
            assert dt.datetime.fromisoformat(first) <= dt.datetime.fromisoformat(last)
        out = io.StringIO()
        export([path], "ocsf", out)
        for line in out.getvalue().splitlines():
            _assert_valid(_api_activity_validator(), json.loads(line))
        assert fingerprint in path.read_text()


class TestTheKeyReachesNoOutput:
    def test_no_export_report_bundle_or_lookup_holds_the_key(self, mixed, signing, key, tmp_path):
        """Every format, the report, the evidence bundle and find-key: no trace of the key."""
        path, _ = mixed
        texts = []
        for fmt in ("jsonl", "csv", "ocsf", "cef"):
            result = _cli("audit", "export", str(path), "--format", fmt)
            texts += [result.stdout, result.stderr]
        for arguments in (("--json",), ()):
            result = _cli("audit", "find-key", str(path), *arguments, stdin=key + "\n")
            texts += [result.stdout, result.stderr]
        report = tmp_path / "report.html"
        result = _cli("audit", "report", str(path), "--output", str(report))
        texts += [result.stdout, result.stderr, report.read_text()]
        bundle = tmp_path / "evidence"
        result = _cli(
            "audit", "export", str(path), "--evidence", str(bundle), "--key", str(signing[1])
        )
        texts += [result.stdout, result.stderr]
        texts += [item.read_bytes() for item in bundle.iterdir()]
        assert find_leaks(texts, [key]) == []
        assert "this key was served 505 time(s)" in "".join(map(str, texts))
