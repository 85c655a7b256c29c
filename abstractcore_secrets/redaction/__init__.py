"""The one redaction policy, and its processors for every signal that leaves the process."""

from __future__ import annotations

from ._policy import RedactionPolicy, default_policy, encodings

__all__ = ["RedactionPolicy", "default_policy", "encodings"]
