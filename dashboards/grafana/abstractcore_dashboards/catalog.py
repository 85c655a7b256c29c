"""Which dashboards exist, under which file names, and how they are rendered to JSON."""

from __future__ import annotations

import json
from collections.abc import Callable

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as models

from . import audit_trail, resolution_health, secrets_access

DASHBOARDS: list[tuple[str, Callable[[], models.Dashboard]]] = [
    ("secrets-access.json", secrets_access.build),
    ("resolution-health.json", resolution_health.build),
    ("audit-trail.json", audit_trail.build),
]
"""File name and builder of each dashboard, in the order they are written."""


def render(dashboard: models.Dashboard) -> str:
    """Render a dashboard as the JSON that Grafana provisions, the same bytes every time.

    Args:
        dashboard: The dashboard model.

    Returns:
        Indented JSON with sorted keys and a trailing newline.
    """
    return json.dumps(dashboard, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
