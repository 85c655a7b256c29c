"""Canary values and the search for them in everything a process emitted.

Plant a distinctive value in every source and credential, drive the code, then search
every byte that came out for the value and the encodings it takes in transit.
"""

from __future__ import annotations

import secrets
import traceback
from collections.abc import Iterable

from ..redaction import encodings


def canary(prefix: str = "canary") -> str:
    """Return a fresh value that cannot occur by chance: ``<prefix>-<32 hex>``.

    The default prefix matches no key format, so that a search finds what by-value
    redaction missed rather than what a format pattern happened to mask.
    """
    return f"{prefix}-{secrets.token_hex(16)}"


def exception_texts(error: BaseException, *, frame_locals: bool = True) -> list[str]:
    """Return every text an error reporter could read off ``error``.

    Its message, ``repr``, attributes and formatted traceback, and the same for each
    exception chained to it (``__cause__``, ``__context__``), as Sentry-like tools walk them;
    with ``frame_locals``, also the tracebacks with every frame's local variables, as
    ``show_locals`` renderers print them.
    """
    texts: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(vars(current))]
        texts.append("".join(traceback.format_exception(current)))
        if frame_locals:
            # What show_locals renderers (structlog's dict tracebacks, Sentry) would print.
            texts.append(
                "".join(
                    traceback.TracebackException.from_exception(
                        current, capture_locals=True
                    ).format()
                )
            )
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return texts


def find_leaks(texts: Iterable[str | bytes], values: Iterable[str]) -> list[str]:
    """Return a description of each place where a value, or an encoding of it, appears."""
    needles = {form: value for value in values for form in encodings(value)}
    leaks = []
    for index, text in enumerate(texts):
        haystack = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        for form, value in needles.items():
            if form in haystack:
                at = haystack.index(form)
                leaks.append(f"text #{index} holds {value[:12]}... as {form[:16]!r} at {at}")
    return leaks
