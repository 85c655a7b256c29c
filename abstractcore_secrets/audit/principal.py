"""The principal of a resolution: moved to :mod:`abstractcore_secrets.principal`.

Kept so that ``abstractcore_secrets.audit.principal`` imports go on working.
"""

from __future__ import annotations

from ..principal import current_principal, principal

__all__ = ["current_principal", "principal"]
