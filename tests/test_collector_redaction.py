"""The collector's redaction, attacked: a key leaked anywhere in telemetry is in no byte it outputs.

The collector knows key formats (the library's ``KEY_PATTERNS``, as RE2 ``blocked_values``)
and an allow-list of attribute keys; it does not know the values the library has learnt. The
parity tests hold the two lists of formats in step without a server. The leak tests run the
real collector once for the module: an application (``leaky_app.py``) puts a key of every
format in every place of its own telemetry it can reach, with the key dressed in punctuation,
URLs, JSON and encodings; a journal holds keys in its events' fields; then every byte the
collector wrote (archives, storage, its log), sent downstream over OTLP and remote-wrote into
Prometheus is searched for the secret part of each leak. Places the collector cannot redact
with the components of this build are strict expected failures, each with its reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import secrets
import string
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from observability_stack import COLLECTOR_CONFIG, archived_log_records, build_collector

from abstractcore_secrets.audit.journal import Journal, load_signing_key
from abstractcore_secrets.redaction._patterns import KEY_PATTERNS
from abstractcore_secrets.testing.collector import CollectorProcess
from abstractcore_secrets.testing.otlp import OTLPReceiver
from abstractcore_secrets.testing.prometheus import PrometheusServer

# The timeout covers a first build of the collector (minutes), as the end-to-end test's does.
pytestmark = [pytest.mark.server, pytest.mark.timeout(900)]

HERE = Path(__file__).resolve().parent
SERVICE = "leaky-app"
LEAKY_APP = HERE / "leaky_app.py"
FORMATS = list(KEY_PATTERNS)

# Keys of every format -------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
BASE32 = string.ascii_uppercase + "234567"


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _pick(options: tuple[str, ...], variant: int) -> str:
    return options[variant % len(options)]


Sample = Callable[[int], tuple[str, str]]
"""A key of one format, of its ``variant``-th sub-form, and its secret part."""


def _prefixed(prefixes: tuple[str, ...], alphabet: str, length: int) -> Sample:
    def sample(variant: int) -> tuple[str, str]:
        secret = _random(alphabet, length)
        return _pick(prefixes, variant) + secret, secret

    return sample


def _vault(variant: int) -> tuple[str, str]:
    prefix = _pick(("hvs.", "hvb.", "hvr.", "s."), variant)
    secret = _random(ALNUM, 24) if prefix == "s." else _random(URLSAFE, 40)
    return prefix + secret, secret


def _github(variant: int) -> tuple[str, str]:
    prefix = _pick(("ghp_", "github_pat_", "gho_", "ghu_", "ghs_", "ghr_"), variant)
    if prefix == "github_pat_":
        secret = f"11{_random(ALNUM, 20)}_{_random(ALNUM, 59)}"
    else:
        secret = _random(ALNUM, 36)
    return prefix + secret, secret


def _google(variant: int) -> tuple[str, str]:
    # One in 64 real keys ends with "-"; a word boundary after it needs a word character.
    secret = _random(URLSAFE, 34) + _pick(("a", "-"), variant)
    return f"AIza{secret}", secret


def _jwt(variant: int) -> tuple[str, str]:
    signature = _random(URLSAFE, 43)
    return f"eyJ{_random(URLSAFE, 30)}.eyJ{_random(URLSAFE, 60)}.{signature}", signature


def _private_key(variant: int) -> tuple[str, str]:
    kind = _pick(("", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "), variant)
    body = _random(ALNUM, 64)
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----", body


def _secret_field(variant: int) -> tuple[str, str]:
    # A value of no known format (a Mistral key: 32 letters and digits): its field tells.
    secret = _random(ALNUM, 32)
    forms = ('{"api_key": "%s"}', "{'SecretString': '%s'}", '{"client_secret":"%s"}')
    return _pick((*forms, '{"password" : "%s"}'), variant) % secret, secret


SAMPLES: dict[str, Sample] = {
    "anthropic": _prefixed(("sk-ant-api03-", "sk-ant-admin01-"), URLSAFE, 48),
    "openai": _prefixed(("sk-proj-", "sk-", "sk-svcacct-", "sk-admin-"), URLSAFE, 48),
    "aws_access_key_id": _prefixed(("AKIA", "ASIA", "ABIA", "ACCA"), BASE32, 16),
    "vault_token": _vault,
    "huggingface": _prefixed(("hf_",), string.ascii_letters, 34),
    "github": _github,
    "google": _google,
    "jwt": _jwt,
    "private_key": _private_key,
    "secret_field": _secret_field,
    "bearer": _prefixed(("Bearer ", "bearer ", "BEARER "), ALNUM, 40),
}
"""Format name -> its keys: every format of KEY_PATTERNS."""
VARIANTS = {"anthropic": 2, "openai": 4, "aws_access_key_id": 4, "vault_token": 4, "github": 6}
VARIANTS |= {"google": 2, "private_key": 5, "secret_field": 4, "bearer": 3}
"""Sub-forms of each format (default one)."""

# The collector's configuration ----------------------------------------------------------

_ENTRY = re.compile(r"^\s*- '(?P<regex>.*)'\s+# (?P<name>[a-z_0-9]+)\s*$")


def collector_config() -> dict[str, Any]:
    """Return the shipped collector.yaml, parsed."""
    return dict(yaml.safe_load(COLLECTOR_CONFIG.read_text()))


def commented_blocked_values() -> list[tuple[str, str]]:
    """Return (format name, RE2 regex) of each ``blocked_values`` entry with its ``# name``."""
    entries = []
    inside = False
    for line in COLLECTOR_CONFIG.read_text().splitlines():
        if re.match(r"^\s*blocked_values: &blocked_values\s*$", line):
            inside = True
            continue
        if inside and (match := _ENTRY.match(line)):
            entries.append((match["name"], match["regex"].replace("''", "'")))
        elif inside and not line.strip().startswith("#"):
            break
    return entries


class TestParity:
    """The collector's blocked values and the library's key formats, without a server."""

    def test_one_blocked_value_per_format(self):
        """Each format of KEY_PATTERNS has exactly one blocked value named by its comment."""
        entries = commented_blocked_values()
        assert sorted(name for name, _ in entries) == sorted(KEY_PATTERNS)

    def test_every_blocked_value_is_named(self):
        """Both redaction processors block exactly the named entries, in order."""
        processors = collector_config()["processors"]
        regexes = [regex for _, regex in commented_blocked_values()]
        assert processors["redaction/signals"]["blocked_values"] == regexes
        assert processors["redaction/metrics"]["blocked_values"] == regexes

    def test_both_processors_redact_every_value_type(self):
        """Arrays and maps under allowed keys are matched too, not only string values."""
        processors = collector_config()["processors"]
        for name in ("redaction/signals", "redaction/metrics"):
            assert processors[name]["allow_all_keys"] is False
            assert processors[name]["redact_all_types"] is True

    @pytest.mark.parametrize(
        ("name", "variant"),
        [
            pytest.param(name, variant, id=f"{name}-{variant}")
            for name in FORMATS
            for variant in range(VARIANTS.get(name, 1))
        ],
    )
    def test_blocked_value_masks_a_key_of_its_format(self, name, variant):
        """The collector's regex (read by Python's re: RE2's syntax here) masks the secret."""
        regex = dict(commented_blocked_values())[name]
        text, secret = SAMPLES[name](variant)
        for context in (
            text,
            f"key: {text}.",
            f'"{text}"',
            f"?api_key={text}&x=1",
            f"%22{text}%22",
        ):
            assert secret not in re.sub(regex, "****", context), context

    def test_library_masks_a_google_key_ending_in_a_dash(self):
        """A Google key ending with '-' is masked by the library's own pattern."""
        text, secret = _google(1)
        assert secret not in KEY_PATTERNS["google"].sub("****", f"key {text}.")


# The leaks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where a leak goes: what must arrive to prove it did, and what the collector does."""

    carriers: tuple[str, ...]
    """span, log, audit (the audit archive), metric, prometheus, journal, journal.invalid."""
    outcome: str
    """masked (the item arrives with ``****`` in it), removed, or leaks (an xfail)."""
    reason: str = ""


SPAN = ("span",)
LOG = ("log", "audit")
METRIC = ("metric", "prometheus")
RESOURCE = ("span", "log", "audit", "metric", "prometheus")
JOURNAL = ("journal",)  # archived and counted, not forwarded downstream

_UNSEEN = (
    "the redaction processor (contrib v0.161) matches blocked_values in attribute values of "
    "resources, scopes, spans, span events, log records and data points, and in log bodies; "
    "{what} it never looks at. The build's transform processor rewrites span names, span "
    "event names and status descriptions only; more statements could rewrite "
    "them; a filter processor, added to the pipelines, could drop the {item} carrying one."
)


def _unseen(what: str, item: str) -> str:
    return _UNSEEN.format(what=what, item=item)


BYTES = (
    "a bytes value is matched as its base64 text (pcommon AsString), in which no key format "
    "is found; the raw bytes go downstream in the OTLP payload (the file archive shows base64)"
)
FORMATS_ONLY = (
    "the collector knows key formats, not the values the library has learnt (the library "
    "masks a learnt value raw, base64-encoded, URL-encoded and JSON-escaped)"
)

PLACES: dict[str, Place] = {
    # Masked by the transform/names processor, as are status descriptions and event names.
    "span.name": Place(SPAN, "masked"),
    "span.attribute.allowed": Place(SPAN, "masked"),
    "span.attribute.error": Place(SPAN, "masked"),
    "span.attribute.unknown": Place(SPAN, "removed"),
    "span.attribute.uppercase_key": Place(SPAN, "removed"),
    "span.attribute.key": Place(SPAN, "removed"),
    "span.attribute.array": Place(SPAN, "masked"),
    "span.attribute.map": Place(SPAN, "masked"),
    "span.attribute.bytes": Place(SPAN, "leaks", BYTES),
    "span.attribute.counted": Place(SPAN, "masked"),
    "span.attribute.split": Place(
        SPAN,
        "leaks",
        f"a key split across two attributes: neither half has the format; {FORMATS_ONLY}",
    ),
    "span.event.attribute": Place(SPAN, "masked"),
    "span.event.name": Place(SPAN, "masked"),
    "span.exception": Place(SPAN, "masked"),
    # Masked by the transform/names processor: the SDK copies an escaping exception's
    # message into the status description.
    "span.status": Place(SPAN, "masked"),
    "span.status.uncaught": Place(SPAN, "masked"),
    "span.link.attribute": Place(
        SPAN,
        "leaks",
        "span link attributes: the redaction processor (contrib v0.161) never looks at them, "
        "and OTTL v0.161 has no span-link context: a transform or filter processor could at "
        "most handle a span's links as a whole.",
    ),
    "span.trace_state": Place(
        SPAN, "leaks", _unseen("the W3C tracestate (inherited from a caller's header)", "span")
    ),
    "scope.name": Place(SPAN, "leaks", _unseen("instrumentation scope names", "span")),
    "scope.version": Place(SPAN, "leaks", _unseen("instrumentation scope versions", "span")),
    "scope.attribute.allowed": Place(SPAN, "masked"),
    "scope.attribute.unknown": Place(SPAN, "removed"),
    "resource.service.name": Place(RESOURCE, "masked"),
    "resource.attribute.allowed": Place(RESOURCE, "masked"),
    "resource.attribute.unknown": Place(RESOURCE, "removed"),
    "resource.schema_url": Place(
        RESOURCE, "leaks", _unseen("schema URLs", "span, log record or metric")
    ),
    "log.body.string": Place(LOG, "masked"),
    "log.body.map": Place(LOG, "masked"),
    "log.body.map_key": Place(LOG, "removed"),
    "log.body.list": Place(LOG, "masked"),
    "log.body.nested": Place(LOG, "masked"),
    "log.body.bytes": Place(LOG, "leaks", BYTES),
    "log.attribute.allowed": Place(LOG, "masked"),
    "log.attribute.unknown": Place(LOG, "removed"),
    "log.attribute.array": Place(LOG, "masked"),
    "log.attribute.map": Place(LOG, "masked"),
    "log.attribute.counted": Place(LOG, "masked"),
    "log.exception": Place(LOG, "masked"),
    "log.event_name": Place(("log",), "leaks", _unseen("log record event names", "log record")),
    "log.severity_text": Place(LOG, "leaks", _unseen("log severity texts", "log record")),
    "metric.attribute.allowed": Place(METRIC, "masked"),
    "metric.attribute.unknown": Place(METRIC, "removed"),
    "metric.attribute.array": Place(METRIC, "masked"),
    "metric.name": Place(METRIC, "leaks", _unseen("metric names", "metric")),
    "metric.description": Place(METRIC, "leaks", _unseen("metric descriptions", "metric")),
    "metric.exemplar": Place(
        ("metric",),
        "leaks",
        "exemplars' filtered attributes: the redaction processor (contrib v0.161) never looks "
        "at them; only a transform processor's exemplar context could (not configured).",
    ),
    "journal.error.message": Place(JOURNAL, "masked"),
    "journal.locator": Place(JOURNAL, "masked"),
    "journal.user.id": Place(JOURNAL, "masked"),
    "journal.attempts": Place(JOURNAL, "masked"),
    "journal.service.name": Place(JOURNAL, "masked"),
    "journal.unknown_field": Place(JOURNAL, "removed"),
    "journal.nested_object": Place(JOURNAL, "removed"),
    "journal.event": Place(
        JOURNAL,
        "leaks",
        "the journal receiver makes an event's 'event' member the record's event name (and "
        "body: that copy is masked); " + _unseen("log record event names", "log record"),
    ),
    "journal.invalid_line": Place(("journal.invalid",), "removed"),
}

URL_ENCODED = (
    "URL-encoding changes the format's own characters (space, newline, quotes), so the "
    f"format is not found; {FORMATS_ONLY}"
)
_URL_ENCODED_FORMATS = {"private_key", "secret_field"}
_BOUNDED_FORMATS = set(FORMATS) - {"anthropic", "private_key", "secret_field"}


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="")


CONTEXTS: dict[str, Callable[[str], str]] = {
    "sentence": lambda key: f"resolution failed with {key}.",
    "double_quotes": lambda key: f'key "{key}" refused',
    "single_quotes": lambda key: f"key '{key}' refused",
    "brackets": lambda key: f"keys=[{key}]",
    "parentheses": lambda key: f"invalid key ({key})",
    "angle_brackets": lambda key: f"<{key}>",
    "assignment": lambda key: f"OPENAI_API_KEY={key};",
    "tab": lambda key: f"key:\t{key}",
    "multiline": lambda key: f"first line\n{key}\nlast line",
    "authorization": lambda key: f"Authorization: {key}",
    "url_query": lambda key: f"GET https://api.example.com/v1/models?api_key={key}&limit=1",
    "url_path": lambda key: f"GET https://api.example.com/v1/keys/{key}/usage",
    "url_userinfo": lambda key: f"proxy https://app:{key}@proxy.example.com:8080/",
    "url_encoded": lambda key: f"GET https://api.example.com/v1/models?key={_quote(key)}",
    "url_encoded_quotes": lambda key: f"GET https://api.example.com/search?q=%22{key}%22",
    "url_nested": lambda key: (
        "GET https://proxy.example.com/fetch?url="
        + _quote(f"https://api.example.com/v1/models?api_key={key}")
    ),
    "json": lambda key: json.dumps({"detail": key}),
    "json_twice": lambda key: json.dumps(json.dumps({"detail": key})),
    "python_repr": lambda key: repr({"detail": key}),
    "underscore_before": lambda key: f"OPENAI_API_KEY_{key}",
    "base64": lambda key: base64.b64encode(key.encode()).decode(),
}
"""A key dressed as applications log it; each goes into a log body (a string)."""


def context_reason(context: str, name: str) -> str:
    """Return why the collector cannot mask a key of format ``name`` in ``context``, or ''."""
    if context == "base64":
        return f"a base64-encoded key has none of its format's markers; {FORMATS_ONLY}"
    if context in ("url_encoded", "url_nested") and name in _URL_ENCODED_FORMATS:
        return URL_ENCODED
    if context == "underscore_before" and name in _BOUNDED_FORMATS:
        return (
            "a word character ('_') right before the key is no word boundary, where these "
            "formats start (the library's look-behind refuses it too); without the boundary, "
            "words such as 'task-...' would be masked"
        )
    return ""


FIELDS: dict[str, Callable[[str], str]] = {
    "uppercase_name": lambda secret: f'response {{"API_KEY": "{secret}"}}',
    "capitalised_name": lambda secret: f'response {{"Password": "{secret}"}}',
    "json_escaped": lambda secret: json.dumps({"response": json.dumps({"api_key": secret})}),
    "json_escaped_twice": lambda secret: json.dumps(
        {"line": json.dumps({"response": json.dumps({"SecretString": secret})})}
    ),
}
"""A value of no known format in a JSON field whose name tells (secret_field's variants)."""
FIELD = Place(LOG, "masked")

UNKNOWN_FORMAT: dict[str, Callable[[str], str]] = {
    "url_query": lambda secret: f"GET https://api.mistral.ai/v1/models?api_key={secret}",
    "header": lambda secret: f"x-api-key: {secret}",
}
"""A key of no known format (a Mistral key: 32 letters and digits) outside a JSON field."""
UNKNOWN = Place(
    LOG, "leaks", f"a key of no known format is recognised by its value only; {FORMATS_ONLY}"
)


@dataclass(frozen=True)
class Case:
    """One leak: ``text`` put at ``where``; ``secret`` must appear in no output."""

    id: str
    where: str
    text: str
    secret: str
    place: Place


def _split_secret(text: str, secret: str) -> str:
    start = text.index(secret)
    return text[max(len(text) // 2, start) : start + len(secret)]


def build_cases() -> list[Case]:
    """Return every leak: each place and each context, with a key of each format."""
    cases = []
    for index, (where, place) in enumerate(PLACES.items()):
        for name in FORMATS:
            text, secret = SAMPLES[name](index)
            if where == "span.attribute.split":
                secret = _split_secret(text, secret)
            cases.append(Case(f"{where}-{name}", where, text, secret, place))
    for index, (context, dress) in enumerate(CONTEXTS.items()):
        for name in FORMATS:
            key, secret = SAMPLES[name](index)
            text = dress(key)
            if context == "base64":
                secret = text.rstrip("=")
            assert secret in text, (context, name)
            reason = context_reason(context, name)
            place = Place(LOG, "leaks" if reason else "masked", reason)
            cases.append(Case(f"context.{context}-{name}", "log.body.string", text, secret, place))
    for name, dress in FIELDS.items():
        secret = _random(ALNUM, 32)
        cases.append(Case(f"field.{name}", "log.body.string", dress(secret), secret, FIELD))
    for name, dress in UNKNOWN_FORMAT.items():
        secret = _random(ALNUM, 32)
        cases.append(
            Case(f"unknown_format.{name}", "log.body.string", dress(secret), secret, UNKNOWN)
        )
    return cases


CASES = build_cases()
APP_CASES = [case for case in CASES if not case.where.startswith("journal.")]
JOURNAL_CASES = [case for case in CASES if case.where.startswith("journal.")]


class LeakFoundError(AssertionError):
    """A leaked secret was found in an output: what the expected failures expect."""


# The journal ---------------------------------------------------------------------------------


def journal_event(case: Case) -> dict[str, Any]:
    """Return an audit event as the library writes it, with ``case``'s key in one field."""
    event: dict[str, Any] = {
        "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"),
        "event_id": case.id,
        "event": "secret.error",
        "provider": "openai",
        "source": "vault",
        "outcome": "error",
        "stale": False,
        "cache_hit": False,
        "attempts": [{"source": "vault", "outcome": "error", "error_type": "SourceError"}],
        "locator": "vault:secret/data/llm/openai",
        "user": {"id": "alice", "os_user": "app"},
        "service.name": "leaky-journal",
        "host.name": "host-1",
        "error.type": "SourceError",
        "error.message": "vault unavailable",
    }
    text = case.text
    field_name = case.where.removeprefix("journal.")
    if field_name == "user.id":
        event["user"]["id"] = text
    elif field_name == "attempts":
        event["attempts"][0]["error_type"] = text
    elif field_name == "unknown_field":
        event["note"] = text
    elif field_name == "nested_object":
        event["user"]["extra"] = {"note": text}
    elif field_name == "service.name":
        event["service.name"] = f"svc {text}"
    elif field_name == "locator":
        event["locator"] = f"vault:secret/data/llm/{text}"
    else:
        event[field_name] = text
    return event


def write_journal(path: Path, cases: list[Case]) -> int:
    """Write the cases' events into a signed journal, then lines that are no record at all.

    Returns:
        The number of invalid lines.
    """
    journal = Journal(path, load_signing_key(path.parent / "journal.key"), checkpoint_every=16)
    invalid = [case for case in cases if case.where == "journal.invalid_line"]
    for case in cases:
        if case not in invalid:
            journal(journal_event(case))
    journal.close()
    with path.open("a", encoding="utf-8") as stream:
        for case in invalid:
            # Not a record: seq is no integer. The receiver must skip it without quoting it.
            stream.write(json.dumps({"seq": "x", "event": {"error.message": case.text}}) + "\n")
    return len(invalid)


# The run -------------------------------------------------------------------------------------


DERIVED = {
    "lookups": "abstractcore_secrets_lookup_retried_total",
    "audit": f'abstractcore_secrets_audit_events_total{{job="{SERVICE}"}}',
}
"""The count connectors' series that leaky spans and log records feed."""


@dataclass
class Outputs:
    """What the collector produced from the leaks, searched once."""

    found: dict[str, list[str]]
    """A secret, lower-cased and punctuation as '_' -> the outputs it was found in."""
    carriers: dict[str, dict[str, list[Any]]]
    """Kind of carrier -> case id -> the items of that kind that carry it."""
    derived: dict[str, list[dict[str, Any]]]
    """DERIVED's series in Prometheus."""
    invalid_lines: int
    """Lines written into the journal that are no record."""
    skipped_lines: int
    """Lines the journal receiver skipped, by its own counter."""

    def places_of(self, secret: str) -> list[str]:
        """Return the outputs that hold ``secret``."""
        return self.found.get(_normalised(secret), [])


def _normalised(secret: str) -> str:
    return re.sub(r"[-_.]", "_", secret.lower())


def _plain(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        pair["key"]: pair.get("value", {}).get("stringValue", pair.get("value")) for pair in pairs
    }


def _spans(receiver: OTLPReceiver) -> list[dict[str, Any]]:
    """Return every span received, whole (OTLP/JSON names) with its scope and resource."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans = []
    for _, signal, payload in list(receiver.received):
        if signal != "traces":
            continue
        request = MessageToDict(ExportTraceServiceRequest.FromString(payload))
        for resource_spans in request.get("resourceSpans", []):
            for scope_spans in resource_spans.get("scopeSpans", []):
                for span in scope_spans.get("spans", []):
                    span["attributes"] = _plain(span.get("attributes", []))
                    span["scope"] = scope_spans.get("scope", {})
                    span["resource"] = resource_spans.get("resource", {})
                    spans.append(span)
    return spans


def _by(items: list[dict[str, Any]], key: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for item in items:
        value = item["attributes"].get(key)
        if isinstance(value, str):
            grouped.setdefault(value, []).append(item)
    return grouped


class _Run:
    """The collector and its neighbours, and what came out of them."""

    def __init__(
        self, collector: CollectorProcess, receiver: OTLPReceiver, prometheus: PrometheusServer
    ) -> None:
        self.collector = collector
        self.receiver = receiver
        self.prometheus = prometheus
        self.internal_metrics = ""

    def carriers(self) -> dict[str, dict[str, list[Any]]]:
        """Return, for each kind of carrier, the items that arrived by the case they carry."""
        archive = self.collector.archive_dir
        journal = archived_log_records(sorted(archive.glob("audit-journal*.jsonl")))
        audit = archived_log_records(sorted(archive.glob("audit-otlp*.jsonl")))
        logs = self.receiver.logs()
        return {
            "span": _by(_spans(self.receiver), "rule"),
            "log": _by(logs, "rule") | _by(logs, "event_id"),
            "audit": _by(audit, "rule"),
            "metric": _by(self.receiver.metrics(), "rule"),
            "prometheus": {rule: [rule] for rule in self.prometheus.api("label/rule/values")},
            "journal": _by(journal, "event_id"),
        }

    def derived(self) -> dict[str, list[dict[str, Any]]]:
        """Return DERIVED's series now in Prometheus."""
        return {name: self.prometheus.query(expr) for name, expr in DERIVED.items()}

    def everything_arrived(self) -> bool:
        """Whether every case's carriers, and the derived series, arrived where they go."""
        carriers = self.carriers()
        return all(self.derived().values()) and all(
            case.id in carriers[kind]
            for case in CASES
            for kind in case.place.carriers
            if kind in carriers
        )

    def read_internal_metrics(self) -> None:
        """Keep the collector's own metrics (they are an output too) before it stops."""
        url = f"http://127.0.0.1:{self.collector.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            self.internal_metrics = answer.read().decode()

    def skipped_lines(self) -> int:
        """Return the journal receiver's count of lines that are no journal record."""
        match = re.search(
            r"^otelcol_receiver_journal_invalid_lines(?:_total)?\{[^}]*\} (\d+)$",
            self.internal_metrics,
            re.MULTILINE,
        )
        return int(match[1]) if match else 0

    def outputs(self) -> dict[str, bytes]:
        """Return every output by name: files, log, own metrics, downstream, Prometheus."""
        found: dict[str, bytes] = {}
        for path in self.collector.output_files():
            found[str(path.relative_to(self.collector.home))] = path.read_bytes()
        found["collector log"] = self.collector.log().encode()
        found["collector metrics"] = self.internal_metrics.encode()
        for _, signal, payload in self.receiver.received:
            found[f"downstream {signal}"] = found.get(f"downstream {signal}", b"") + payload
        prometheus = self.prometheus
        labels = prometheus.api("labels")
        answers = [labels, prometheus.api("metadata")]
        answers += [prometheus.api(f"label/{name}/values") for name in labels]
        answers.append(prometheus.api("series", **{"match[]": '{__name__=~".+"}'}))
        answers.append(prometheus.query('{__name__=~".+"}'))
        found["prometheus"] = json.dumps(answers).encode()
        return found


def _search(outputs: dict[str, bytes], secrets_: list[str]) -> dict[str, list[str]]:
    """Return each secret found (as ``_normalised``) -> the outputs holding it.

    In any case, and with - . _ standing for one another: the SDK lower-cases metric names,
    Prometheus turns - and . into _ in names, and such a key still gives itself away.
    """
    alternatives = []
    for secret in sorted({_normalised(s) for s in secrets_}, key=len, reverse=True):
        alternatives.append("[-_.]".join(re.escape(part) for part in secret.split("_")))
    pattern = re.compile("|".join(alternatives).encode(), re.IGNORECASE)
    found: dict[str, list[str]] = {}
    for where, data in outputs.items():
        for match in pattern.finditer(data):
            places = found.setdefault(_normalised(match.group().decode()), [])
            if where not in places:
                places.append(where)
    return found


def _app_environment(endpoint: str) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "ABSTRACTCORE_", "VAULT_"))
    }
    environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    return environment


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outputs]:
    """Run the collector once, leak everything through it, stop it, and search its outputs."""
    binary = build_collector()
    journal = tmp_path_factory.mktemp("collector-redaction") / "journal" / "audit.jsonl"
    invalid_lines = write_journal(journal, JOURNAL_CASES)
    receiver = OTLPReceiver().start()
    prometheus = PrometheusServer().start()
    collector = CollectorProcess(
        binary,
        COLLECTOR_CONFIG,
        {
            "ABSTRACTCORE_COLLECTOR_DOWNSTREAM_ENDPOINT": f"127.0.0.1:{receiver.grpc_port}",
            "ABSTRACTCORE_COLLECTOR_PROMETHEUS_URL": prometheus.remote_write_url,
            "ABSTRACTCORE_SECRETS_AUDIT_JOURNAL": str(journal),
        },
    )
    run = _Run(collector, receiver, prometheus)
    try:
        collector.start()
        leaks = [{"id": case.id, "where": case.where, "text": case.text} for case in APP_CASES]
        subprocess.run(
            [sys.executable, str(LEAKY_APP)],
            input=json.dumps(leaks),
            text=True,
            env=_app_environment(collector.grpc_endpoint),
            check=True,
            timeout=120,
            capture_output=True,
        )
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not run.everything_arrived():
            time.sleep(0.5)
        time.sleep(1)  # the file exporters' last flush
        carriers, derived = run.carriers(), run.derived()
        run.read_internal_metrics()
        collector.stop()
        yield Outputs(
            found=_search(run.outputs(), [case.secret for case in CASES]),
            carriers=carriers,
            derived=derived,
            invalid_lines=invalid_lines,
            skipped_lines=run.skipped_lines(),
        )
    finally:
        for server in (collector, prometheus, receiver):
            server.stop()
        collector.cleanup()
        prometheus.cleanup()


def _param(case: Case) -> Any:
    marks = []
    if case.place.outcome == "leaks":
        marks.append(
            pytest.mark.xfail(strict=True, raises=LeakFoundError, reason=case.place.reason)
        )
    return pytest.param(case, id=case.id, marks=marks)


class TestLeaks:
    """Keys an application leaks into its own telemetry, through the real collector."""

    @pytest.mark.parametrize("case", [_param(case) for case in CASES])
    def test_key_is_in_no_output(self, outputs, case):
        """The leak arrived, and no output (file, log, downstream, Prometheus) holds its key."""
        for kind in case.place.carriers:
            if kind == "journal.invalid":
                assert outputs.skipped_lines == outputs.invalid_lines > 0
            else:
                assert case.id in outputs.carriers[kind], f"no {kind} carrying {case.id} came"
        if places := outputs.places_of(case.secret):
            raise LeakFoundError(f"{case.id}: found in {places}")
        if case.place.outcome == "masked":
            items = [
                item
                for kind in case.place.carriers
                for item in outputs.carriers.get(kind, {}).get(case.id, [])
            ]
            assert any("****" in json.dumps(item, default=repr) for item in items)

    @pytest.mark.parametrize("name", list(DERIVED))
    def test_derived_counters_count_the_masked_value(self, outputs, name):
        """The count connectors run after redaction: their series carry the mask, no key."""
        series = outputs.derived[name]
        assert any("****" in json.dumps(s["metric"]) for s in series), series
