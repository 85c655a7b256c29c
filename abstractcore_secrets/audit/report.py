"""A self-contained HTML report of audit journals: charts as inline SVG, no scripts.

Sections: resolutions over time by source and by outcome; denied and failed over time; top
principals; first-seen principal/provider pairs; rotations. Built in one streaming pass
over the journals, keeping only counts.

Every count is of resolutions, not records: a record adds its ``count``, so a summary of 500
cache hits counts 500, in the hour of its first hit.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..semconv import EVENT_ACCESSED
from ._formats import parse_time, resolutions, window
from .exports import Filters, Skipped, events

_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
_OUTCOME_COLOURS = {
    "found": "#59a14f",
    "not_found": "#edc948",
    "denied": "#e15759",
    "error": "#b07aa1",
}


class _Tally:
    """Counts gathered in one pass."""

    def __init__(self) -> None:
        self.by_source: dict[str, Counter[str]] = defaultdict(Counter)
        self.by_outcome: dict[str, Counter[str]] = defaultdict(Counter)
        self.failures: dict[str, Counter[str]] = defaultdict(Counter)
        self.principals: Counter[str] = Counter()
        self.first_seen: dict[tuple[str, str], tuple[dt.datetime, str]] = {}
        self.rotations: list[tuple[str, str, str]] = []
        self.total = 0
        self.records = 0
        self.summaries = 0
        self.summarised = 0

    def add(self, event: Mapping[str, Any]) -> None:
        given = event.get("user")
        user: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        principal = str(user.get("id") or user.get("pseudo_id") or user.get("os_user") or "unknown")
        provider, outcome = str(event.get("provider")), str(event.get("outcome"))
        if event.get("event") == "secret.rotated":
            self.rotations.append((str(event["time"]), provider, str(event.get("source"))))
            return
        # A summary's hits are placed at the first of them: it is written after the last.
        first, _ = window(event)
        when = str(event["first_time"] if first is not None else event["time"])
        moment = parse_time(when)
        if moment is None:  # events() yields none such: their time is ISO 8601
            return
        bucket = moment.strftime("%Y-%m-%d %H:00")
        count = resolutions(event) or 1  # events() has skipped records with a bad count
        self.records += 1
        self.total += count
        if event.get("event") == EVENT_ACCESSED:
            self.summaries += 1
            self.summarised += count
        self.by_source[bucket][str(event.get("source") or "none")] += count
        self.by_outcome[bucket][outcome] += count
        if outcome in ("denied", "error"):
            self.failures[bucket][outcome] += count
        self.principals[principal] += count
        # The earliest, not the first in the file: a summary is written after its hits.
        seen = self.first_seen.get((principal, provider))
        if seen is None or moment < seen[0]:
            self.first_seen[(principal, provider)] = (moment, when)


def render_report(
    paths: Iterable[Path], filters: Filters | None = None, skipped: Skipped | None = None
) -> str:
    """Return the report's HTML for the journals at ``paths``.

    Lines that are not audit events are skipped, counted in ``skipped`` and named in the
    report; the events after them are reported.
    """
    tally = _Tally()
    skipped = skipped if skipped is not None else Skipped()
    for event in events(paths, filters, skipped):
        tally.add(event)
    warning = (
        f'<p class="skipped"><strong>{html.escape(str(skipped))}</strong></p>'
        if skipped.count
        else ""
    )
    sources = sorted({s for counts in tally.by_source.values() for s in counts})
    colours = {source: _PALETTE[i % len(_PALETTE)] for i, source in enumerate(sources)}
    sections = [
        ("Resolutions over time, by source", _stacked_bars(tally.by_source, colours)),
        ("Resolutions over time, by outcome", _stacked_bars(tally.by_outcome, _OUTCOME_COLOURS)),
        ("Denied and failed over time", _stacked_bars(tally.failures, _OUTCOME_COLOURS)),
        ("Top principals", _horizontal_bars(tally.principals.most_common(10))),
        (
            "First-seen principal and provider pairs",
            _table(
                ("first seen", "principal", "provider"),
                (
                    (when, who, what)
                    for (who, what), (_, when) in sorted(
                        tally.first_seen.items(), key=lambda item: (item[1][0], item[0])
                    )
                ),
            ),
        ),
        ("Rotations", _table(("time", "provider", "source"), tally.rotations)),
    ]
    body = "\n".join(
        f"<section><h2>{html.escape(title)}</h2>{content}</section>" for title, content in sections
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>abstractcore-secrets audit report</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; background: #fff; }}
section {{ margin-bottom: 28px; }} h2 {{ font-size: 16px; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; }}
.legend span {{ display: inline-block; margin-right: 12px; font-size: 12px; }}
</style></head><body>
<h1>Audit report</h1>
<p>{tally.total} resolutions from {len(list(tally.principals))} principals.</p>
{_counted(tally)}
{warning}
{body}
</body></html>
"""


def _counted(tally: _Tally) -> str:
    """Say that counts are of resolutions, when summaries make them differ from records."""
    if not tally.summaries:
        return ""
    return (
        f'<p class="summaries">{tally.summarised} of these resolutions are cache hits counted '
        f"by {tally.summaries} summary record(s) ({EVENT_ACCESSED}), of {tally.records} records "
        "in all: every chart counts the resolutions each record stands for (its count), a "
        "summary's in the hour of its first hit.</p>"
    )


def _legend(colours: Mapping[str, str]) -> str:
    items = "".join(
        f'<span><svg width="10" height="10"><rect width="10" height="10" '
        f'fill="{colour}"/></svg> {html.escape(name)}</span>'
        for name, colour in colours.items()
    )
    return f'<div class="legend">{items}</div>'


def _stacked_bars(series: Mapping[str, Counter[str]], colours: Mapping[str, str]) -> str:
    if not series:
        return "<p>None.</p>"
    buckets = sorted(series)
    peak = max(sum(counts.values()) for counts in series.values())
    width, height, bar = 40 + 34 * len(buckets), 180, 24
    shapes = []
    for index, bucket in enumerate(buckets):
        x, y = 40 + 34 * index, float(height - 20)
        for name, colour in colours.items():
            count = series[bucket].get(name, 0)
            if not count:
                continue
            size = (height - 40) * count / peak
            y -= size
            shapes.append(
                f'<rect class="bar" data-count="{count}" x="{x}" y="{y:.1f}" '
                f'width="{bar}" height="{size:.1f}" fill="{colour}">'
                f"<title>{html.escape(bucket)} {html.escape(name)}: {count}</title></rect>"
            )
        shapes.append(
            f'<text x="{x}" y="{height - 6}" font-size="8">{html.escape(bucket[11:16])}</text>'
        )
    axis = f'<text x="0" y="16" font-size="10">{peak}</text>'
    return (
        f'{_legend(colours)}<svg width="{width}" height="{height}" '
        f'role="img">{axis}{"".join(shapes)}</svg>'
    )


def _horizontal_bars(rows: list[tuple[str, int]]) -> str:
    if not rows:
        return "<p>None.</p>"
    peak = rows[0][1]
    shapes = []
    for index, (name, count) in enumerate(rows):
        y = 22 * index
        size = 400 * count / peak
        shapes.append(
            f'<text x="0" y="{y + 14}" font-size="11">{html.escape(name)}</text>'
            f'<rect class="bar" data-count="{count}" x="140" y="{y}" '
            f'width="{size:.1f}" height="16" fill="{_PALETTE[0]}"/>'
            f'<text x="{146 + size:.1f}" y="{y + 13}" font-size="10">{count}</text>'
        )
    return f'<svg width="620" height="{22 * len(rows)}" role="img">{"".join(shapes)}</svg>'


def _table(columns: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    rows = list(rows)
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
