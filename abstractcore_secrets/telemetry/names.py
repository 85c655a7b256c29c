"""The names the library emits: moved to :mod:`abstractcore_secrets.semconv`.

Kept so that imports of ``abstractcore_secrets.telemetry.names`` go on working.
"""

from __future__ import annotations

from ..semconv import *  # noqa: F403 - this module is the old address of every name there
