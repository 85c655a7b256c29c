"""In-memory and failing sources."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from .._resolution import SecretRecord
from .._secret import Secret
from ..errors import SourceError
from ..sources.base import SecretProvider


class InMemorySecretProvider(SecretProvider):
    """A source backed by a dict, counting its fetches; values can change while running.

    Args:
        secrets: Initial keys by provider.
        name: The source name it reports (default ``memory``).
        delay: Seconds each fetch sleeps, to simulate a remote round trip.
        cacheable: Whether the cache may keep its values (default yes, like a remote).
    """

    def __init__(
        self,
        secrets: Mapping[str, str] | None = None,
        *,
        name: str = "memory",
        delay: float = 0.0,
        cacheable: bool = True,
    ) -> None:
        self.name = name
        self.cacheable = cacheable
        self.delay = delay
        self.fetches = 0
        self._secrets = dict(secrets or {})
        self._versions = dict.fromkeys(self._secrets, 1)
        self._lock = threading.Lock()

    def set(self, provider: str, value: str) -> None:
        """Store (or rotate) ``provider``'s key; its version goes up by one."""
        with self._lock:
            self._secrets[provider] = value
            self._versions[provider] = self._versions.get(provider, 0) + 1

    def delete(self, provider: str) -> None:
        """Remove ``provider``'s key."""
        with self._lock:
            self._secrets.pop(provider, None)

    def get_secret(self, key: str) -> str | None:
        """Return the stored key, or ``None``."""
        record = self.fetch(key)
        return None if record is None else record.secret.reveal()

    def fetch(self, key: str) -> SecretRecord | None:
        """Return the stored key with its version, counting the fetch."""
        with self._lock:
            self.fetches += 1
            value = self._secrets.get(key)
            version = self._versions.get(key)
        if self.delay:
            time.sleep(self.delay)
        if value is None:
            return None
        return SecretRecord(Secret(value), locator=self.locator(key), version=str(version))


class FailingSecretProvider(SecretProvider):
    """A source that raises ``error`` on every fetch until ``error`` is set to ``None``.

    Args:
        error: The ``SourceError`` to raise.
        name: The source name it reports (default ``failing``).
        fallback: Keys served while ``error`` is ``None`` (a dict the test may change).
    """

    def __init__(
        self,
        error: SourceError | None,
        *,
        name: str = "failing",
        fallback: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.error = error
        self.fetches = 0
        self.fallback = dict(fallback or {})

    def get_secret(self, key: str) -> str | None:
        """Raise the configured error, or return the fallback key."""
        self.fetches += 1
        if self.error is not None:
            raise self.error
        return self.fallback.get(key)
