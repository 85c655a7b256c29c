"""The KV secrets engine's shapes: a path's mount, and what a read's answer must hold."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError, InvalidSourceError
from ._values import json_type


def split_path(path: str, kv_version: int, mount_point: str | None) -> tuple[str, str]:
    """Return the mount and the secret's path (without KV v2's ``data/``) of ``path``.

    Raises:
        ConfigurationError: ``path`` names no mount and path.
    """
    parts = path.strip("/").split("/")
    if mount_point:
        mount = mount_point.strip("/")
        if parts[: len(mount.split("/"))] == mount.split("/"):
            parts = parts[len(mount.split("/")) :]
        if kv_version == 2 and parts[:1] == ["data"]:
            parts = parts[1:]
        return mount, "/".join(parts)
    if kv_version == 2 and len(parts) >= 3 and parts[1] == "data":
        return parts[0], "/".join(parts[2:])
    if len(parts) < 2:
        raise ConfigurationError(
            f"Vault path {path!r} needs a mount and a path, e.g. 'secret/data/abstractcore'"
        )
    return parts[0], "/".join(parts[1:])


def fields_and_version(
    response: dict[str, Any], kv_version: int, locator: str
) -> tuple[dict[str, Any], str | None]:
    """Return the secret's fields and KV version; any other shape of answer is invalid.

    A 200 answer to a KV read always carries objects where these are read: anything else is
    not Vault's KV API (a proxy, a wrong address, a hostile server), and must neither be
    read as "no such key" nor counted as an outage.
    """
    data = _object_at(response, "data", locator)
    if kv_version == 1:
        return data, None
    fields = _object_at(data, "data", locator, where="data.data")
    metadata = data.get("metadata")
    if metadata is None:
        return fields, None
    if not isinstance(metadata, dict):
        raise _wrong_type(locator, "data.metadata", metadata)
    version = metadata.get("version")
    if version is None:
        return fields, None
    if isinstance(version, bool) or not isinstance(version, (int, str)):
        raise _wrong_type(locator, "data.metadata.version", version, expected="a number")
    return fields, str(version)


def _object_at(
    container: dict[str, Any], name: str, locator: str, *, where: str | None = None
) -> dict[str, Any]:
    value = container.get(name)
    if not isinstance(value, dict):
        raise _wrong_type(locator, where or name, value)
    return value


def _wrong_type(
    locator: str, where: str, value: object, *, expected: str = "an object"
) -> InvalidSourceError:
    # The type's name only: the value may be anything, keys included.
    return InvalidSourceError(
        f"{locator}: Vault answered with '{where}' as a JSON {json_type(value)}, not "
        f"{expected}; check that the address points at the Vault KV API and that "
        "kv_version matches the mount",
        source="vault",
        locator=locator,
    )
