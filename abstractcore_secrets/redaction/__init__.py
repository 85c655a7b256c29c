"""The one redaction policy, and its processors for every signal that leaves the process."""

from __future__ import annotations

from types import ModuleType

from .._aliases import former_submodule
from ._policy import RedactionPolicy, default_policy, encodings

__all__ = ["RedactionPolicy", "default_policy", "encodings"]


def __getattr__(name: str) -> ModuleType:
    # A former submodule's name (``redaction.<old name>``), moved: see _aliases.
    return former_submodule(__name__, name)
