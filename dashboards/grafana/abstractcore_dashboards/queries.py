"""Read the generated dashboards back: their panels, their queries, runnable without Grafana.

This module needs only the standard library, so that a test can load it by path and run
every panel's expression against a live Prometheus::

    for name, expr in panel_queries(dashboard):
        prometheus.query(substitute_variables(expr))
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

JSON_DIR = Path(__file__).resolve().parent.parent / "json"
"""Where generate.py writes the dashboards."""

SUBSTITUTIONS: dict[str, str] = {
    "service": ".*",
    "provider": ".*",
    "source": ".*",
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
}
"""What each Grafana variable the dashboards use stands for outside Grafana."""

_VARIABLE = re.compile(r"\$(?:\{(?P<braced>\w+)\}|(?P<bare>\w+))")


def load_dashboards(directory: Path = JSON_DIR) -> list[dict[str, Any]]:
    """Load every dashboard in a folder, in file-name order.

    Args:
        directory: The folder of dashboard JSON files; default the generated ones.

    Returns:
        The dashboards as parsed JSON.
    """
    return [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))
    ]


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield a dashboard's panels in order, leaving out rows but not the panels in them.

    Args:
        dashboard: A dashboard as parsed JSON.

    Yields:
        Each panel that shows data, including those inside collapsed rows.
    """
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """List every query of a dashboard with the panel it belongs to.

    Args:
        dashboard: A dashboard as parsed JSON.

    Returns:
        ``("<dashboard title> / <panel title>", expr)`` for each target with an expression,
        in panel order, still holding Grafana's variables.
    """
    return [
        (f"{dashboard.get('title', '')} / {panel.get('title', '')}", target["expr"])
        for panel in iter_panels(dashboard)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def substitute_variables(expr: str) -> str:
    """Replace Grafana's variables in an expression so that Prometheus can run it.

    ``$service``, ``$provider`` and ``$source`` (or ``${service}`` ...) become ``.*``, the
    value of "All"; ``$__rate_interval`` and ``$__interval`` become ``1m``; ``$__range``
    becomes ``1h``.

    Args:
        expr: A panel's expression.

    Returns:
        The expression with every variable replaced.

    Raises:
        ValueError: If the expression uses a variable not listed in `SUBSTITUTIONS`.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        try:
            return SUBSTITUTIONS[name]
        except KeyError:
            raise ValueError(f"no substitute for ${name} in {expr!r}") from None

    return _VARIABLE.sub(replace, expr)
