"""Lazy imports of optional SDKs, failing with the exact ``pip install`` to run."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingDependencyError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or raise naming the extra that provides it.

    Raises:
        MissingDependencyError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module, extra) from exc
