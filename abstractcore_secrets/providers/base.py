"""The source contract: ``SecretProvider``, named as in the original proposal."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from urllib.parse import urlsplit

from ..resolution import SecretRecord
from ..secret import Secret


class SecretProvider(ABC):
    """A source of secrets: one place a provider's key can come from.

    Subclasses implement :meth:`get_secret`; everything else has a default. ``None`` means
    "not here"; a failure raises a :class:`~abstractcore_secrets.errors.SourceError`
    subclass, whose category drives the chain's failure policy. Sources only fetch:
    caching, telemetry and audit wrap them from outside.

    Attributes:
        name: The source's name in provenance and telemetry (``env``, ``vault``, ...).
        cacheable: Whether the cache may keep values from this source. Local sources
            (environment, files) are cheap to read and say no, so edits show at once.
    """

    name: str = "custom"
    cacheable: bool = True

    @abstractmethod
    def get_secret(self, key: str) -> str | None:
        """Return the secret for ``key`` (a provider name such as ``openai``), or ``None``.

        Raises:
            SourceError: The source failed; the subclass says how.
        """

    def supports(self, provider: str) -> bool:  # noqa: ARG002 - overridden by narrower sources
        """Return whether this source can hold a key for ``provider`` (default: any)."""
        return True

    def locator(self, key: str) -> str:
        """Return where this source looks for ``key``; never a value."""
        return f"{self.name}:{key}"

    def fetch(self, key: str) -> SecretRecord | None:
        """Return the secret with its provenance, or ``None`` when it is not here.

        The chain calls this. The default wraps :meth:`get_secret`; sources that know a
        version or a request id override it. An empty value counts as not set.
        """
        value = self.get_secret(key)
        if not value:
            return None
        return SecretRecord(Secret.wrap(value), locator=self.locator(key))

    def endpoint(self) -> tuple[str, int] | None:
        """Return the server's host and port, for telemetry; ``None`` for local sources."""
        return None

    def credentials(self) -> tuple[str, ...]:
        """Return the credentials this source uses now, so that redaction can mask them."""
        return ()

    def close(self) -> None:  # noqa: B027 - an optional hook; most sources hold nothing
        """Release connections or files; the manager calls it on close."""

    def __enter__(self) -> SecretProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def host_and_port(url: str) -> tuple[str, int] | None:
    """Return the host and port of ``url`` (the scheme's default port if none is given)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
