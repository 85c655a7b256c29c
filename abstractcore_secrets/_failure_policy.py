"""The failure policy: what the chain does when a source fails, by failure category."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from .errors import ConfigurationError, ErrorCategory


class Action(str, enum.Enum):
    """What the chain does after an attempt that did not find the key."""

    CONTINUE = "continue"
    """Record the failure and try the next source."""
    DENY = "deny"
    """Fail closed: stop with outcome ``denied``; lower-trust sources are not consulted."""
    FAIL = "fail"
    """Stop with outcome ``error``."""


DEFAULT_POLICY: Mapping[ErrorCategory, Action] = MappingProxyType(
    {
        ErrorCategory.NOT_FOUND: Action.CONTINUE,
        ErrorCategory.UNAVAILABLE: Action.CONTINUE,
        ErrorCategory.TIMEOUT: Action.CONTINUE,
        ErrorCategory.THROTTLED: Action.CONTINUE,
        # A revoked key must not silently fall back to a plaintext file.
        ErrorCategory.FORBIDDEN: Action.DENY,
        ErrorCategory.UNAUTHENTICATED: Action.DENY,
        # No silent fallback past a broken configuration or a corrupt value.
        ErrorCategory.INVALID: Action.FAIL,
    }
)


def merge_policy(
    overrides: Mapping[ErrorCategory, Action] | Mapping[str, str] | None,
) -> Mapping[ErrorCategory, Action]:
    """Return the default policy with ``overrides`` applied (names work as well as enums).

    Raises:
        ConfigurationError: A category or an action is unknown.
    """
    if not overrides:
        return DEFAULT_POLICY
    merged = dict(DEFAULT_POLICY)
    for category, action in overrides.items():
        try:
            merged[ErrorCategory(category)] = Action(action)
        except ValueError:
            raise ConfigurationError(
                f"policy {category!r}: {action!r} is not valid; categories: "
                f"{[c.value for c in ErrorCategory]}, actions: {[a.value for a in Action]}"
            ) from None
    return MappingProxyType(merged)
