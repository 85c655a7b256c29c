"""``audit``: verify journals, export them, and find who was served a leaked key."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import _audit_inputs as inputs
from . import _console as console
from ._progress import reading

if TYPE_CHECKING:
    from ..audit.exports import Skipped


EXIT_CODES = """\b
Exit codes:
  0  done (verify: every journal intact; find-key: the key was served)
  1  verify: a journal is NOT intact (the findings say where); find-key: never served
  2  usage: a file given cannot be used (missing, a folder, unreadable, a --key
     without an Ed25519 key, an output that cannot be written)
  3  configuration error (find-key: the installation's fingerprint key)"""

QUIET = click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress bar (there is none when stderr is not a terminal).",
)


@click.group("audit", epilog=EXIT_CODES)
def audit_group() -> None:
    """Verify, export and search audit journals.

    On a terminal, commands that read whole journals show a progress bar on stderr.
    """


# click.Choice is generic from click 8.4 on; subscripting it at run time fails on 8.1-8.3.
if TYPE_CHECKING:
    _StrChoice = click.Choice[str]
else:
    _StrChoice = click.Choice


class _ExportFormatChoice(_StrChoice):
    """``--format``'s choices: the export formats registered when the command runs.

    Read from the registry at each use rather than copied at import, so that a format
    registered afterwards is offered, and the exports module is imported only when needed.
    """

    def __init__(self) -> None:
        super().__init__((), case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        """The registered formats' names, built-in ones first."""
        from ..audit.exports import export_format_names

        return export_format_names()

    @choices.setter
    def choices(self, _: object) -> None:
        """Ignore click's copy of the choices made at construction."""


def _journal_paths(
    context: click.Context, parameter: click.Parameter, paths: tuple[Path, ...]
) -> tuple[Path, ...]:
    """Let a missing journal through (a deleted journal is a finding), unless its path is
    shaped like a key: a key pasted there by mistake is a usage error that does not echo it."""
    from ..llm_providers import looks_like_key

    for path in paths:
        if not path.exists() and any(looks_like_key(part) for part in path.parts):
            raise click.BadParameter("does not exist", ctx=context, param=parameter)
    return paths


@audit_group.command("verify")
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path),
    callback=_journal_paths,
)
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The journal's Ed25519 public key (or its private key) in PEM.",
)
@click.option(
    "--witness",
    "witness_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Checkpoints that left the host (JSON lines of audit.checkpoint events, e.g. from "
    "the collector's archive) or a last known head ('SEQ HASH'): each must be in the journal.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@QUIET
def verify_command(
    paths: tuple[Path, ...], key_path: Path, witness_path: Path | None, as_json: bool, quiet: bool
) -> None:
    """Check hash chains and checkpoint signatures; exit 0 only when every journal is intact.

    Reports the first edited, inserted, deleted, reordered or forged record of each file,
    by file, line and seq, records left unsealed after the last checkpoint (no closing
    seal), the writer's alarms, and a missing file. With --witness, every checkpoint or
    head the witness names must be in the journal: one that is not is reported as
    truncated. Without a witness, a journal of 0 records is not called intact.
    """
    from ..audit.verify import load_witness, verify

    inputs.check_journals(paths)
    key = inputs.public_key(key_path)
    witness = None
    if witness_path is not None:
        problem = None
        try:
            witness = load_witness(witness_path)
        except (OSError, ValueError) as error:
            problem = str(error) if isinstance(error, ValueError) else error.strerror
        if problem is not None:
            console.fail(f"cannot use the witness: {problem}", console.Exit.USAGE)
    with (
        inputs.told_failures("verifying"),
        reading(paths, "verifying", passes=1 + (witness is not None), quiet=quiet),
    ):
        report = verify(paths, key, witness)
    if as_json:
        console.print_json(
            {
                "intact": report.intact,
                "records": report.records,
                "checkpoints": report.checkpoints,
                "unsealed": report.unsealed,
                "truncated": report.truncated,
                "alarms": report.alarms,
                "witnessed": report.witnessed,
                "findings": [str(f) for f in report.findings],
            }
        )
    else:
        for finding in report.findings:
            console.say(str(finding))
        state = "intact" if report.intact else "NOT intact"
        if report.truncated:
            state += " (truncated)"
        witnessed = (
            "no witness"
            if report.witnessed is None
            else f"{report.witnessed} witnessed records found"
        )
        console.say(
            f"{state}: {report.records} records, {report.checkpoints} checkpoints, {witnessed}"
        )
    if any("wrong key" in finding.problem for finding in report.findings):
        console.note(
            "a checkpoint is signed by another key than --key: if the journal is not forged, "
            "--key is not its public key (" + inputs.PUBLIC_KEY_FIX + ")"
        )
    raise SystemExit(0 if report.intact else 1)


@audit_group.command("export")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=_ExportFormatChoice(),
    default="jsonl",
    show_default=True,
)
@click.option(
    "--since",
    help="From this ISO 8601 time, e.g. 2026-11-01 or 2026-11-01T08:00+01:00 (UTC if no zone).",
)
@click.option("--until", help="Up to this ISO 8601 time, excluded.")
@click.option("--provider")
@click.option("--source")
@click.option("--outcome", type=click.Choice(["found", "not_found", "denied", "error"]))
@click.option("--user", help="A principal id or pseudonym.")
@click.option(
    "--evidence",
    type=click.Path(path_type=Path),
    default=None,
    help="Write an evidence bundle into this folder instead of standard output.",
)
@click.option(
    "--key",
    "key_path",
    type=click.Path(exists=True, path_type=Path),
    help="The journal's public key, to verify it for the evidence bundle.",
)
@QUIET
def export_command(
    paths: tuple[Path, ...],
    fmt: str,
    since: str | None,
    until: str | None,
    provider: str | None,
    source: str | None,
    outcome: str | None,
    user: str | None,
    evidence: Path | None,
    key_path: Path | None,
    quiet: bool,
) -> None:
    """Stream the journals' events to standard output in --format, one line per event.

    With --evidence DIR (and --key): the export, the verification report, the signed
    checkpoints, a PCI DSS 10.2.2 coverage table and MANIFEST.sha256, in DIR.
    """
    from ..audit.exports import Filters, Skipped, export

    filters = Filters(_utc(since), _utc(until), provider, source, outcome, user)
    inputs.check_journals(paths)
    if evidence is None:
        skipped = Skipped()
        with (
            inputs.told_failures("exporting"),
            reading(paths, "exporting", quiet=quiet, output_on_stdout=True),
        ):
            export(paths, fmt, sys.stdout, filters, skipped)
        _say_skipped(skipped)
        return
    if key_path is None:
        console.fail(
            "--evidence needs --key: the bundle includes a verification", console.Exit.USAGE
        )
    from ..audit.evidence import evidence_bundle

    key = inputs.public_key(key_path)
    inputs.check_output_folder(evidence, "the evidence bundle into")
    # The bundle reads the journals four times: export, coverage table, verification,
    # checkpoints.
    with (
        inputs.told_failures("writing the evidence bundle"),
        reading(paths, "writing evidence", passes=4, quiet=quiet),
    ):
        manifest = evidence_bundle(paths, evidence, key, fmt=fmt, filters=filters)
    console.say(
        f"evidence bundle written; check it with: cd {evidence} && sha256sum -c {manifest.name}"
    )


@audit_group.command("find-key")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@QUIET
def find_key_command(paths: tuple[Path, ...], as_json: bool, quiet: bool) -> None:
    """List every resolution that served a key read from stdin: when, to whom, from where.

    The key is never taken as an argument; it is fingerprinted with this installation's key,
    and only fingerprints are compared. A summary of cache hits is one row that says how many
    accesses it counts, from its first to its last; the total sums them. Exit 0 when found,
    1 when never served.
    """
    from .._fingerprint import Fingerprinter
    from .._secret import Secret
    from ..audit.exports import Skipped
    from ._secret_input import read_secret

    fingerprint = Fingerprinter().fingerprint(Secret(read_secret("leaked key", checked=False)))
    inputs.check_journals(paths)
    skipped = Skipped()
    with inputs.told_failures("searching"), reading(paths, "searching", quiet=quiet):
        served = _served(paths, fingerprint, skipped)
    _say_skipped(skipped)
    if as_json:
        console.print_json(served)
    elif served:
        console.print_table(
            [{**row, "accesses": _accesses(row)} for row in served],
            ("time", "user", "os_user", "host", "provider", "source", "locator", "accesses"),
        )
        total = sum(row["count"] for row in served)
        console.say(f"this key was served {total} time(s), in {len(served)} record(s)")
    else:
        console.say("this key was never served according to these journals")
    raise SystemExit(0 if served else 1)


def _served(paths: tuple[Path, ...], fingerprint: str, skipped: Skipped) -> list[dict[str, Any]]:
    """Return a row for each event of ``paths`` that served the key ``fingerprint`` names."""
    from ..audit.exports import events
    from ..semconv import EVENT_ROTATED

    # A rotation event repeats the fingerprint of the resolution it follows: not a second one.
    return [
        {
            "time": e.get("time"),
            "user": _user(e).get("id") or _user(e).get("pseudo_id"),
            "os_user": _user(e).get("os_user"),
            "host": e.get("host.name"),
            "provider": e.get("provider"),
            "source": e.get("source"),
            "locator": e.get("locator"),
            "event_id": e.get("event_id"),
            # events() gives every event these: 1, null and null for one of its own.
            "count": e["count"],
            "first_time": e["first_time"],
            "last_time": e["last_time"],
        }
        for e in events(paths, skipped=skipped)
        if e.get("fingerprint") == fingerprint and e.get("event") != EVENT_ROTATED
    ]


def _accesses(row: Mapping[str, Any]) -> str:
    """Say how many accesses a row counts: 1, or a summary's count, first and last time."""
    first, last = row["first_time"], row["last_time"]
    if first is None and last is None:
        return str(row["count"]) if row["count"] == 1 else f"{row['count']} (times not recorded)"
    return f"{row['count']} from {first or '?'} to {last or '?'}"


@audit_group.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    required=True,
    help="Where to write the HTML report.",
)
@QUIET
def report_command(paths: tuple[Path, ...], output: Path, quiet: bool) -> None:
    """Write a self-contained HTML report: activity by source and outcome, denials and
    failures, top principals, first-seen principal/provider pairs, rotations."""
    from ..audit.exports import Skipped
    from ..audit.report import render_report

    inputs.check_journals(paths)
    inputs.check_output_file(output, "the report to")
    skipped = Skipped()
    with inputs.told_failures("reading the journals"), reading(paths, "reporting", quiet=quiet):
        page = render_report(paths, skipped=skipped)
    with inputs.told_failures("writing the report"):
        output.write_text(page, encoding="utf-8")
    _say_skipped(skipped)
    console.say(f"report written to {output}")


@audit_group.command("public-key")
@click.option(
    "--signing-key",
    # Never created here: a path that does not exist is a usage error, told without
    # echoing the argument (a key pasted here by mistake must not come back).
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The journal's signing key (an existing file); default the installation's.",
)
def public_key_command(signing_key: Path | None) -> None:
    """Print the journal's Ed25519 public key (PEM), for whoever verifies the journal.

    Reads the signing key and never creates one: the journal creates it on first use.
    """
    from cryptography.hazmat.primitives import serialization

    from ..audit.journal import default_signing_key_path, load_signing_key

    path = signing_key or default_signing_key_path()
    try:
        key = load_signing_key(path, create=False)
    except FileNotFoundError:
        console.fail(
            f"no journal signing key at {path}: the journal creates it when it first writes",
            console.Exit.USAGE,
        )
    console.say(
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
        .rstrip()
    )


def _say_skipped(skipped: Skipped) -> None:
    if skipped.count:
        console.warn(str(skipped))


def _user(event: Mapping[str, Any]) -> Mapping[str, Any]:
    user = event.get("user")
    return user if isinstance(user, Mapping) else {}


def _utc(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        console.fail(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-11-01T08:00+01:00", console.Exit.USAGE
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)
