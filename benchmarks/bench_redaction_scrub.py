"""Redaction of log text: the cost of ``scrub_text`` per record, as more values are learnt.

Every record of an SDK logger (botocore, urllib3, hvac, ...) is scrubbed as it is created, so
each pays ``scrub_text``: learnt values masked through one automaton, then the key formats
(``sk-...``, ``AKIA...``, JWTs, secret fields of bodies, ...) through one regex.

Compares, on typical log text (short INFO and DEBUG lines with no secret, botocore's header
dumps, a 10 KB body, a line with a key) with 0, 10, 100 and 256 values learnt:
- before: the learnt values masked, then the key formats' regex run over every text
  (re-implemented here from the policy's pieces as the baseline);
- ours: ``RedactionPolicy.scrub_text``.

Run: ``python benchmarks/bench_redaction_scrub.py`` (``--quick`` for a smoke run).
Prints nanoseconds per call (best of several repeats) and per character of text, and
``before / ours``; the cost must not grow with the number of values learnt.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable

from _peers import best_ns_per_call

from abstractcore_secrets.redaction import RedactionPolicy
from abstractcore_secrets.redaction._patterns import COMBINED_PATTERN, SHORTEST_MATCH

MASK = "[REDACTED]"
LEARNT = (0, 10, 100, 256)
KEY = "sk-proj-" + "T3BlbkFJ" + "x7Qm2Lp9Zr4Vn8Kc1Wd6Hy3Bs5Ge0Ja"  # never learnt: a pattern's


def _key() -> str:
    return "sk-proj-" + secrets.token_urlsafe(42)


def _cases() -> dict[str, str]:
    """Return what SDK loggers write, by label."""
    request_headers = (
        "Sending http request: <AWSPreparedRequest stream_output=False, method=POST, "
        "url=https://secretsmanager.us-east-1.amazonaws.com/, headers={'X-Amz-Target': "
        "b'secretsmanager.GetSecretValue', 'Content-Type': b'application/x-amz-json-1.1', "
        "'User-Agent': b'Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1.0 "
        "md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy "
        "Botocore/1.34.0', 'X-Amz-Date': b'20300101T000000Z', 'Authorization': "
        "b'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20300101/us-east-1/"
        "secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;"
        "x-amz-target, Signature=" + "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b"
        "5924a6f2b5d7', 'Content-Length': '35'}>"
    )
    response_headers = "Response headers: " + repr(
        {
            "x-amzn-RequestId": "5b2c9e4e-2a41-4b8f-9a5e-0f7b3c1d2e6f",
            "Content-Type": "application/x-amz-json-1.1",
            "Content-Length": "10240",
            "Date": "Mon, 01 Jan 2030 00:00:00 GMT",
        }
    )
    listing = {
        "SecretList": [
            {
                "ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:app/{n}-AbCdEf",
                "Name": f"app/tenant-{n:04d}/openai",
                "LastChangedDate": 1900000000.123 + n,
                "Tags": [{"Key": "team", "Value": "assistants"}],
                "SecretVersionsToStages": {f"{n:08x}-5b2c-4b8f-9a5e": ["AWSCURRENT"]},
            }
            for n in range(40)
        ]
    }
    body = f"Response body:\n{json.dumps(listing).encode()!r}"[:10_240]
    return {
        "INFO, no secret": "Found credentials in environment variables.",
        "INFO, not ASCII, no secret": "Loaded the key of tenant \u00abZ\u00fcrich\u00bb.",
        "urllib3 DEBUG, no secret": (
            'https://secretsmanager.us-east-1.amazonaws.com:443 "POST / HTTP/1.1" 200 1024'
        ),
        "botocore response headers": response_headers,
        "botocore signed request headers": request_headers,
        "10 KB body, no secret": body,
        "line with a key": f"Calling the provider with api_key={KEY} (attempt 1 of 3)",
    }


def _before(values_only: RedactionPolicy) -> Callable[[str], str]:
    """Return the scrub that ran before the prefilter: values, then the regex over all."""

    def scrub(text: str) -> str:
        text = values_only.scrub_text(text)
        return COMBINED_PATTERN.sub(MASK, text) if len(text) >= SHORTEST_MATCH else text

    return scrub


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run")
    arguments = parser.parse_args()
    number, repeat = (20, 1) if arguments.quick else (2_000, 7)

    cases = _cases()
    values = [_key() for _ in range(max(LEARNT))]
    rows: list[tuple[str, int, int, float, float]] = []
    for learnt in LEARNT:
        ours = RedactionPolicy()
        values_only = RedactionPolicy(patterns=False)
        ours.add(*values[:learnt])
        values_only.add(*values[:learnt])
        before = _before(values_only)
        for label, text in cases.items():
            assert ours.scrub_text(text) == before(text), label
            # The number of calls scaled to the text: the 10 KB body would take long.
            calls = max(number * 256 // max(len(text), 64), 2)
            rows.append(
                (
                    label,
                    learnt,
                    len(text),
                    best_ns_per_call(lambda t=text, scrub=before: scrub(t), calls, repeat),
                    best_ns_per_call(lambda t=text, p=ours: p.scrub_text(t), calls, repeat),
                )
            )

    print(f"python {sys.version.split()[0]}, best of {repeat} repeats")
    width = max(len(f"{label} ({chars} chars)") for label, _, chars, _, _ in rows)
    print(
        f"{'text'.ljust(width)}  {'learnt':>6}  {'before ns':>10}  {'ours ns':>10}  "
        f"{'ours ns/char':>12}  {'before / ours':>13}"
    )
    ours_by_case: dict[str, dict[int, float]] = {label: {} for label in cases}
    for label, learnt, chars, old, new in sorted(rows, key=lambda row: list(cases).index(row[0])):
        name = f"{label} ({chars} chars)"
        print(
            f"{name.ljust(width)}  {learnt:6}  {old:10.0f}  {new:10.0f}  "
            f"{new / chars:12.2f}  {old / new:13.1f}"
        )
        ours_by_case[label][learnt] = new
    # With none learnt, there is no automaton of values to run: from 10 on, there is one.
    fewest, most = LEARNT[1], LEARNT[-1]
    print(f"\nours, {most} values learnt / {fewest} learnt (1.0: independent of the number)")
    for label, by_learnt in ours_by_case.items():
        print(f"{label.ljust(width)}  {by_learnt[most] / by_learnt[fewest]:6.2f}")


if __name__ == "__main__":
    main()
