"""The ``abstractcore-secrets`` command."""

from __future__ import annotations

from types import ModuleType

from .._aliases import former_submodule


def __getattr__(name: str) -> ModuleType:
    # A former submodule's name (``cli.<old name>``), moved: see _aliases.
    return former_submodule(__name__, name)
