"""Checks shared by the sources that read raw text or JSON answers (environment, files, servers)."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidSourceError

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: a bool is an int to isinstance
    (str, "string"),
    (int, "number"),
    (float, "number"),
    (dict, "object"),
    (list, "array"),
    (type(None), "null"),
)

MAX_KEY_LENGTH = 8 * 1024
"""Longest key accepted, in characters: LLM API keys are under 1 KiB, JWTs a few KiB."""


def checked_value(value: str, *, source: str, locator: str) -> str:
    """Return ``value`` if it can be an API key; raise naming where it came from if not.

    Keys never hold whitespace or control characters; one that does is almost always a
    file with two lines or a copy-paste accident, and sending it would fail later, far
    from the cause. Nor are they longer than :data:`MAX_KEY_LENGTH`: a megabyte served as a
    key would be cached, sent in every request's headers, and learnt by the redaction policy.

    Raises:
        InvalidSourceError: The value is too long, or holds whitespace or control characters.
            The message gives the length, never the value.
    """
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidSourceError(
            f"the key at {locator} is {len(value)} characters long; the longest accepted is "
            f"{MAX_KEY_LENGTH}: check that it holds one key, not a document",
            source=source,
            locator=locator,
        )
    if any(character.isspace() or not character.isprintable() for character in value):
        raise InvalidSourceError(
            f"the key at {locator} contains whitespace or control characters; "
            "keys never do: check that it holds one key on one line",
            source=source,
            locator=locator,
        )
    return value


def json_type(value: object) -> str:
    """Return the JSON name of ``value``'s type (``object``, ``array``, ...), for messages."""
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def json_object(text: str, *, source: str, locator: str) -> dict[str, Any] | None:
    """Return the JSON object ``text`` holds, or ``None`` when ``text`` is not meant as JSON.

    Text whose first non-space character is ``{`` or ``[`` was written as JSON. If it does
    not parse (a missing brace, a trailing comma), or parses to something other than an
    object, it is refused: served whole it would be a corrupt document sent as a key.

    Raises:
        InvalidSourceError: ``text`` looks like JSON but is not a valid JSON object. The
            message gives the parser's position, never the text.
    """
    if not text.lstrip().startswith(("{", "[")):
        return None
    problem: str | None = None
    document: object = None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # Only the position: the exception's doc attribute is the whole text.
        problem = f"does not parse ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except RecursionError:
        problem = "is nested too deeply to parse"
    # Raised here, outside the except blocks: the parser's exception holds the text.
    if isinstance(document, dict):
        return document
    if problem is None:
        problem = f"is a JSON {json_type(document)}, not an object"
    raise InvalidSourceError(
        f"{locator} looks like JSON but {problem}; fix the document, or store a "
        "plain key that does not start with '{' or '['",
        source=source,
        locator=locator,
    )
