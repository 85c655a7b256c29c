"""The audit event's fields are declared once (``audit_event.FIELDS``): the middleware, the CSV
export and the docs follow the declaration."""

from __future__ import annotations

import re
from pathlib import Path

from abstractcore_secrets import SecretsManager
from abstractcore_secrets.audit import AuditMiddleware
from abstractcore_secrets.audit.exports import CSV_COLUMNS, csv_header
from abstractcore_secrets.audit_event import FIELD_NAMES, FIELDS
from abstractcore_secrets.errors import SourceUnavailableError
from abstractcore_secrets.testing import (
    FailingSecretProvider,
    InMemorySecretProvider,
    MemorySink,
)

TELEMETRY_DOC = Path(__file__).parent.parent / "docs" / "telemetry.md"


def _events(fingerprinter) -> list[dict]:
    sink = MemorySink()
    audit = AuditMiddleware([sink], fingerprinter=fingerprinter)
    found = SecretsManager(
        [InMemorySecretProvider({"openai": "sk-event-fields-0123456789"})],
        middleware=[audit],
        fingerprinter=fingerprinter,
    )
    found.resolve("openai")
    found.resolve("openai")  # a cache hit
    found.resolve("groq")  # not found
    failing = SecretsManager(
        [FailingSecretProvider(SourceUnavailableError("down", source="failing"))],
        middleware=[audit],
        cache=None,
        fingerprinter=fingerprinter,
    )
    failing.resolve("openai")
    audit.flush()  # writes the summary of the hit
    return sink.events


def test_every_event_has_exactly_the_declared_fields_in_order(fingerprinter):
    """Found, not found, error and a hit summary: the same keys, the declaration's, in order."""
    events = _events(fingerprinter)
    assert [(e["event"], e["outcome"], e["count"]) for e in events] == [
        ("secret.resolved", "found", 1),
        ("secret.not_found", "not_found", 1),
        ("secret.error", "error", 1),
        ("secret.accessed", "found", 1),
    ]
    for event in events:
        assert tuple(event) == FIELD_NAMES


def test_the_csv_columns_are_the_declared_fields_flattened():
    """Objects become their members' columns, lists are left out; the header says so."""
    assert tuple(c for f in FIELDS for c in f.columns) == CSV_COLUMNS
    assert "attempts" not in CSV_COLUMNS
    assert {"user_id", "user_pseudo_id", "os_user"} <= set(CSV_COLUMNS)
    assert csv_header().split(",") == list(CSV_COLUMNS)


def test_the_docs_table_names_every_field_and_no_other():
    """docs/telemetry.md's table of audit fields lists the declaration's fields."""
    text = TELEMETRY_DOC.read_text()
    table = text.split("| field | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = {
        name
        for row in table.splitlines()
        for name in re.findall(r"`([^`]+)`", row.split("|")[1] if row.count("|") > 2 else "")
    }
    assert documented == set(FIELD_NAMES)
