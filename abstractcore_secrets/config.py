"""Kept for old imports: the chain settings live in :mod:`.settings`, the assembly in
:mod:`.assembly`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .settings import (
    AuditSettings,
    CacheSettings,
    ChainSettings,
    ResilienceSettings,
    load_settings,
    read_section,
)

if TYPE_CHECKING:
    from ._manager import SecretsManager
    from .telemetry._setup import Telemetry

__all__ = [
    "AuditSettings",
    "CacheSettings",
    "ChainSettings",
    "ResilienceSettings",
    "build_secrets_manager",
    "load_settings",
    "read_section",
]


def build_secrets_manager(
    settings: ChainSettings | None = None, *, telemetry: Telemetry | None = None
) -> SecretsManager:
    """Build a ``SecretsManager``: kept here for old imports; see :mod:`.assembly`."""
    # Imported on call: the assembly sits above this module and imports it.
    from .assembly import build_secrets_manager as build

    return build(settings, telemetry=telemetry)
