"""Read one secret (a key, a token) from a hidden prompt or stdin, never from the command line.

What is read is checked by the resolver's rule before anything is written: a value the
resolver would refuse (whitespace inside, control characters, longer than 8 KiB) is
refused here, with the reason and nothing echoed. Bytes that are not UTF-8 are refused
too, rather than stored as something else.
"""

from __future__ import annotations

import contextlib
import sys

import click

from . import _console as console


def read_secret(what: str, *, checked: bool = True) -> str:
    """Return the secret typed at a hidden prompt, or the first line of stdin, stripped.

    Args:
        what: What is read, as messages name it (``openai key``, ``Vault token``).
        checked: Refuse a value the resolver would refuse (set for what is stored).

    Exits 2 (usage) when nothing was given, the input is not UTF-8, or ``checked`` and
    the value is one no source could serve.
    """
    from ..errors import InvalidSourceError
    from ..sources._values import MAX_KEY_LENGTH, checked_value

    if sys.stdin is None:
        console.fail(f"no stdin to read the {what} from; pipe it in", console.Exit.USAGE)
    text = _typed(what) if sys.stdin.isatty() else _piped(what)
    value = text.strip()
    console.learn(value)
    if not value:
        console.fail(
            f"no {what} was given (an empty line); nothing was changed", console.Exit.USAGE
        )
    if not checked:
        return value
    refused = False
    try:
        checked_value(value, source="cli", locator="stdin")
    except InvalidSourceError:
        refused = True  # told below, outside the handler: the check's frames hold the value
    if refused:
        problem = (
            f"is longer than {MAX_KEY_LENGTH} characters, the longest accepted"
            if len(value) > MAX_KEY_LENGTH
            else "holds spaces or control characters inside it, which no key does; give "
            "one key on one line"
        )
        console.fail(
            f"the {what} given {problem} (not echoed); nothing was changed", console.Exit.USAGE
        )
    return value


def _typed(what: str) -> str:
    return str(click.prompt(what[:1].upper() + what[1:], hide_input=True, confirmation_prompt=True))


def _piped(what: str) -> str:
    """Return stdin's first line, decoded here: the platform's decoder might turn invalid
    bytes into surrogates (stored as garbage) or raise where we cannot say what happened."""
    from ..sources._values import MAX_KEY_LENGTH

    limit = MAX_KEY_LENGTH * 4 + 2  # more than the longest key, in the widest UTF-8
    raw = sys.stdin.buffer.readline(limit)
    if len(raw) == limit and not raw.endswith(b"\n"):
        # Cut short, maybe inside a character: told as what it is, never stored cut.
        console.fail(
            f"the {what} read from stdin is longer than {MAX_KEY_LENGTH} characters, the "
            "longest accepted (not echoed); nothing was changed",
            console.Exit.USAGE,
        )
    text: str | None = None
    with contextlib.suppress(UnicodeDecodeError):  # told below: the error holds the bytes
        text = raw.decode("utf-8")
    if text is None:
        console.fail(
            f"the {what} read from stdin is not UTF-8 text (not echoed); nothing was changed",
            console.Exit.USAGE,
        )
    return text
