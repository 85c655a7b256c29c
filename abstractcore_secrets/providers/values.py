"""Checks shared by the sources that read raw text (environment, files)."""

from __future__ import annotations

from ..errors import InvalidSourceError


def checked_value(value: str, *, source: str, locator: str) -> str:
    """Return ``value`` if it can be an API key; raise naming where it came from if not.

    Keys never hold whitespace or control characters; one that does is almost always a
    file with two lines or a copy-paste accident, and sending it would fail later, far
    from the cause.

    Raises:
        InvalidSourceError: The value holds whitespace or control characters.
    """
    if any(character.isspace() or not character.isprintable() for character in value):
        raise InvalidSourceError(
            f"the key at {locator} contains whitespace or control characters; "
            "keys never do: check that it holds one key on one line",
            source=source,
            locator=locator,
        )
    return value
