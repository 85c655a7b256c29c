"""The OCSF mapping of audit events: API Activity (class 6003) of the pinned schema 1.3.0.

OCSF has no null: an attribute whose value is not known is left out, never written as JSON
``null``, and every attribute typed as a string is given a string.

A summary of cache hits is an aggregate event in OCSF's terms: the base event's ``count``,
with ``start_time`` and ``end_time`` its first and last hit. An event of its own has no
``count``: OCSF defines it over a start and end time, which such an event does not have.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from .._version import __version__
from ._formats import ExportFormat, epoch_millis, is_aggregate, resolutions, window

OCSF_VERSION = "1.3.0"
"""The OCSF schema version the export follows (class API Activity, 6003)."""

ROTATED = "secret.rotated"

# API Activity's activities: 1 Create, 2 Read, 3 Update, 4 Delete. A resolution reads a secret.
# A rotation event says that the secret itself changed at its source (its fingerprint differs
# from the one served before): the resource was updated, so Update (3), not Read. The read that
# revealed the change has a Read record of its own.
_ACTIVITIES = {ROTATED: (3, "Update")}
_READ = (2, "Read")

# Observable type ids of OCSF 1.3.0 (observable.type_id).
_HOSTNAME = (1, "Hostname")
_USER_NAME = (4, "User Name")
_RESOURCE_UID = (10, "Resource UID")
_OTHER = (99, "Other")

# 1.3.0's hostname_t; a host name outside it (a container's odd name) goes to the endpoint's
# free-text `name`. string_t holds at most 65,535 characters.
_HOSTNAME_T = re.compile(
    r"(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*"
    r"([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])"
)
_STRING_T_MAX = 65_535


def to_ocsf(event: Mapping[str, Any]) -> dict[str, Any]:
    """Map one audit event to an OCSF 1.3.0 API Activity record.

    Args:
        event: An audit event as the journal stores it.

    Returns:
        The record, with absent attributes left out (never ``null``).
    """
    user = _mapping(event.get("user"))
    outcome = event.get("outcome")
    success = outcome == "found"
    activity_id, activity_name = _ACTIVITIES.get(str(event.get("event")), _READ)
    user_uid = _text(user.get("id")) or _text(user.get("pseudo_id"))
    user_name = _text(user.get("os_user"))
    host = _text(event.get("host.name"))
    # The length bound (DNS's) also bounds the pattern's backtracking on a hostile name.
    host_key = "hostname" if host and len(host) <= 253 and _HOSTNAME_T.fullmatch(host) else "name"
    service = _text(event.get("service.name"))
    provider = _text(event.get("provider"))
    resource_uid = _text(event.get("locator")) or _text(f"provider:{provider}")
    first, last = window(event)
    record: dict[str, Any] = {
        "class_uid": 6003,
        "class_name": "API Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": 600300 + activity_id,
        "type_name": f"API Activity: {activity_name}",
        "severity_id": 1 if success or outcome == "not_found" else 3,
        "status_id": 1 if success else 2,
        "status": "Success" if success else "Failure",
        "time": _millis(event.get("time")),
        "count": resolutions(event) if is_aggregate(event) else None,
        "start_time": None if first is None else epoch_millis(first),
        "end_time": None if last is None else epoch_millis(last),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": _text(event.get("event_id")),
            "correlation_uid": _text(event.get("trace_id")),
            "product": {
                "name": "abstractcore-secrets",
                "vendor_name": "abstractcore",
                "version": __version__,
            },
        },
        "actor": {
            "user": {"uid": user_uid or user_name or "unknown", "name": user_name},
            "app_name": service,
        },
        "api": {
            "operation": "resolve_secret",
            "service": {"name": _text(event.get("source")) or "none"},
            "request": {
                "uid": _text(event.get("source_request_id")) or _text(event.get("event_id"))
            },
        },
        # The endpoint needs one identifying attribute: the service stands in for a lost host.
        "src_endpoint": {host_key: host} if host else {"svc_name": service or "unknown"},
        "resources": [{"type": "secret", "uid": resource_uid, "name": provider}],
        "observables": _observables(
            [
                (f"src_endpoint.{host_key}", _HOSTNAME, host),
                ("actor.user.name", _USER_NAME, user_name),
                # 1.3.0 has no scalar type for a user id (21 "User" names the whole object,
                # without a value): Other, with the type named.
                ("actor.user.uid", (_OTHER[0], "User UID"), user_uid),
                ("resources.uid", _RESOURCE_UID, resource_uid),
            ]
        ),
        "unmapped": {
            "event": event.get("event"),
            "source": event.get("source"),
            "fingerprint": event.get("fingerprint"),
            "previous_fingerprint": event.get("previous_fingerprint"),
            "attempts": event.get("attempts"),
            "error_type": event.get("error.type"),
            # Served while a source was down: the older value, or a lower source's.
            "stale": event.get("stale") or None,
            "degraded": event.get("degraded") or None,
        },
    }
    if not success:
        record["status_detail"] = _text(event.get("error.message"))
    pruned: dict[str, Any] = _prune(record)
    return pruned


def _observables(
    found: list[tuple[str, tuple[int, str], str | None]],
) -> list[dict[str, Any]]:
    """List the known ones of ``(attribute path, (type id, type), value)`` as observables."""
    return [
        {"name": name, "type_id": type_id, "type": type_name, "value": value}
        for name, (type_id, type_name), value in found
        if value
    ]


def _prune(value: Any) -> Any:  # noqa: ANN401 - any JSON value
    """Leave out nulls, and the objects and lists that leaving them out empties."""
    if isinstance(value, Mapping):
        kept = {str(key): _prune(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, {}, [])}
    if isinstance(value, list | tuple):
        return [item for item in map(_prune, value) if item not in (None, {}, [])]
    return value


def to_ocsf_line(event: Mapping[str, Any]) -> str:
    """Render one event as its OCSF record on one JSON line."""
    return json.dumps(to_ocsf(event), sort_keys=True, default=str)


OCSF_FORMAT = ExportFormat("ocsf", to_ocsf_line, extension="ocsf.jsonl")
"""One OCSF 1.3.0 API Activity record per line."""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    """Return ``value`` as a non-empty string within string_t's length, or ``None``."""
    if value is None or value == "":
        return None
    return (value if isinstance(value, str) else str(value))[:_STRING_T_MAX]


def _millis(value: object) -> int:
    """Return an RFC 3339 time as epoch milliseconds, reading a time without a zone as UTC."""
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return epoch_millis(moment)
