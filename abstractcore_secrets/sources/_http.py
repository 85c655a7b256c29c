"""Reading HTTP answers the same way in every server source: ``Retry-After`` and ``Location``."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

_DELTA_SECONDS = re.compile(r"[0-9]+")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (" + "|".join(_MONTHS) + r") ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)


def parse_retry_after(value: str, *, now: float | None = None) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait, or ``None`` for garbage.

    Only RFC 9110's own forms count: delta-seconds (ASCII digits) and an IMF-fixdate, whose
    wait is the time left until it (0 for a date past). A negative or fractional number,
    ``nan``, an empty value, an obsolete date form, or two headers (joined with a comma) are
    garbage: the caller falls back to its own backoff. A huge number may come back as
    ``inf``; how long a wait is honoured is the caller's decision.

    Args:
        value: The header's value.
        now: The current time (seconds since the epoch), for tests; default the clock's.

    Returns:
        Seconds, 0 or more (``inf`` included), or ``None`` when the value is not valid.
    """
    value = value.strip(" \t")
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    date = _IMF_FIXDATE.fullmatch(value)
    if date is None:
        return None
    day, month, year, hour, minute, second = date.groups()
    try:
        when = datetime(
            int(year),
            _MONTHS.index(month) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone.utc,
        )
    except ValueError:  # 31 Feb, hour 25, year 0
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def location_host(url: str, location: str | None) -> str:
    """Return ``scheme://host:port`` of where ``location`` points, never its path or user.

    For messages about a redirect: the path and query may hold anything (a token, a signed
    URL), so only where the answer pointed is named.

    Args:
        url: The URL that was asked, against which a relative ``location`` is read.
        location: The answer's ``Location`` header, if any.
    """
    if not location:
        return "no Location"
    try:
        target = urlsplit(urljoin(url, location))
        port = target.port
    except ValueError:
        return "a malformed Location"
    host = (target.hostname or "")[:100]
    if not host or not all(c.isalnum() or c in ".-:[]_" for c in host):
        return "a Location with no usable host"
    scheme = target.scheme[:10] if target.scheme.isalpha() else "?"
    return f"{scheme}://{host}" + (f":{port}" if port else "")
