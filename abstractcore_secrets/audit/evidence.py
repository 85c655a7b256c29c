"""Evidence bundles: an export with its verification, checkpoints and a manifest of hashes.

The bundle is what an auditor receives: the records (in a chosen format), proof that the
journal they come from is intact (the verification report and the signed checkpoints), a
table of which PCI DSS 10.2.2 elements each record carries, and ``MANIFEST.sha256`` so that
the bundle itself can be checked (``sha256sum -c MANIFEST.sha256``).

The verification report counts journal records, as the chain holds them; beside it, the
export is counted in records and in the resolutions they stand for (the sum of their
``count``: a summary of 500 cache hits is one record and 500 resolutions).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ._formats import resolutions
from .exports import Filters, events, export, find_export_format
from .journal import CHECKPOINT, read_records
from .verify import verify


def _user(event: Mapping[str, Any]) -> bool:
    user = event.get("user")
    if not isinstance(user, Mapping):
        return False
    return bool(user.get("id") or user.get("pseudo_id") or user.get("os_user"))


PCI_ELEMENTS: Mapping[str, Callable[[Mapping[str, Any]], bool]] = {
    "user_identification": _user,
    "type_of_event": lambda e: bool(e.get("event")),
    "date_and_time": lambda e: bool(e.get("time")),
    "success_or_failure": lambda e: e.get("outcome") in ("found", "not_found", "denied", "error"),
    "origination": lambda e: bool(e.get("host.name")),
    "affected_resource": lambda e: bool(e.get("provider")),
}
"""PCI DSS 10.2.2's elements, and how a record shows each."""


def evidence_bundle(
    paths: Iterable[Path],
    folder: Path,
    public_key: Any,  # noqa: ANN401 - cryptography's Ed25519PublicKey
    *,
    fmt: str = "jsonl",
    filters: Filters | None = None,
) -> Path:
    """Write an evidence bundle into ``folder`` (created 0700); return the manifest's path.

    The export is ``export.EXTENSION``, the extension that format ``fmt`` declares.
    ``verification.json`` holds the journals' verification and, under ``export``, how many
    records the export holds and how many resolutions they stand for.

    Raises:
        ConfigurationError: ``fmt`` is no registered export format (nothing is written).
    """
    paths = [Path(p) for p in paths]
    extension = find_export_format(fmt).extension
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (folder / f"export.{extension}").open("w", encoding="utf-8") as out:
        export(paths, fmt, out, filters)
    records, counted = _pci_table(paths, filters, folder / "pci-dss-10.2.2.csv")
    report = verify(paths, public_key)
    (folder / "verification.json").write_text(
        json.dumps(
            {
                "intact": report.intact,
                "records": report.records,
                "checkpoints": report.checkpoints,
                "unsealed": report.unsealed,
                "findings": [str(f) for f in report.findings],
                "journals": [str(p) for p in paths],
                "export": {
                    "file": f"export.{extension}",
                    "records": records,
                    "resolutions": counted,
                },
            },
            indent=2,
        )
        + "\n"
    )
    with (folder / "checkpoints.jsonl").open("wb") as out:
        for path in paths:
            for _, raw in read_records(path):
                if f'"type":"{CHECKPOINT}"'.encode() in raw:
                    out.write(raw + b"\n")
    manifest = folder / "MANIFEST.sha256"
    lines = [
        f"{_sha256(item)}  {item.name}"
        for item in sorted(folder.iterdir())
        if item.is_file() and item != manifest
    ]
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _pci_table(paths: Iterable[Path], filters: Filters | None, table: Path) -> tuple[int, int]:
    """Write which PCI DSS 10.2.2 elements each exported record carries; return how many
    records there are and how many resolutions they stand for."""
    records = counted = 0
    with table.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["event_id", *PCI_ELEMENTS])
        for event in events(paths, filters):
            writer.writerow(
                [
                    event.get("event_id"),
                    *("yes" if check(event) else "no" for check in PCI_ELEMENTS.values()),
                ]
            )
            records += 1
            counted += resolutions(event) or 1  # events() has skipped records with a bad count
    return records, counted


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
