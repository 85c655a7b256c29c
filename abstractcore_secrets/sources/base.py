"""The source contract: ``SecretProvider``, named as in the original proposal."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._resolution import SecretRecord
from .._secret import Secret

if TYPE_CHECKING:
    from .._watch import Watcher


class SecretProvider(ABC):  # noqa: B024 - abstract in fetch at run time; see the docstring
    """A source of secrets: one place a provider's key can come from.

    Subclasses implement :meth:`fetch`, which the chain calls; everything else has a
    default, :meth:`get_secret` (the proposal's method) included, derived from it. A source
    written the proposal's way, implementing :meth:`get_secret` only, keeps working: the
    default :meth:`fetch` wraps it. Implement one of the two: a class that implements
    neither is abstract (instantiating it raises ``TypeError`` naming ``fetch``), as is this
    one. Neither is declared with ``@abstractmethod``, so that type checkers accept both
    ways; :meth:`__init_subclass__` marks the class that has neither.

    ``None`` means "not here"; a failure raises a
    :class:`~abstractcore_secrets.errors.SourceError` subclass, whose category drives the
    chain's failure policy. Sources only fetch: the chain checks every value found (no
    whitespace or control characters, at most 8 KiB), and caching, telemetry and audit
    wrap them from outside.

    Attributes:
        name: The source's name in provenance and telemetry (``env``, ``vault``, ...).
        cacheable: Whether the cache may keep values from this source. Local sources
            (environment, files) are cheap to read and say no, so edits show at once.
    """

    name: str = "custom"
    cacheable: bool = True

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Make ``cls`` abstract if it implements neither :meth:`fetch` nor :meth:`get_secret`."""
        super().__init_subclass__(**kwargs)
        # Runs before ABCMeta lists the abstract methods, so the fetch set here counts.
        inherited = cls.fetch in (SecretProvider.fetch, _unimplemented_fetch)
        if inherited:
            has_get_secret = cls.get_secret is not SecretProvider.get_secret
            fetch = SecretProvider.fetch if has_get_secret else _unimplemented_fetch
            if cls.fetch is not fetch:
                cls.fetch = fetch  # type: ignore[method-assign]

    def fetch(self, key: str) -> SecretRecord | None:
        """Return the secret for ``key`` (a provider name) with its provenance, or ``None``.

        The method a source implements; the chain calls it. Sources that know a version or
        a server request id return them in the record. This default wraps
        :meth:`get_secret`, for sources written the proposal's way; an empty value counts
        as not set.

        Raises:
            SourceError: The source failed; the subclass says how.
        """
        value = self.get_secret(key)
        if not value:
            return None
        return SecretRecord(Secret.wrap(value), locator=self.locator(key))

    def get_secret(self, key: str) -> str | None:
        """Return the secret for ``key`` (a provider name such as ``openai``), or ``None``.

        The proposal's method: :meth:`fetch`'s value, without its provenance.

        Raises:
            SourceError: The source failed; the subclass says how.
        """
        record = self.fetch(key)
        return None if record is None else record.secret.reveal()

    def supports(self, provider: str) -> bool:  # noqa: ARG002 - overridden by narrower sources
        """Return whether this source can hold a key for ``provider`` (default: any)."""
        return True

    def locator(self, key: str) -> str:
        """Return where this source looks for ``key``; never a value."""
        return f"{self.name}:{key}"

    def watch(self, key: str) -> Watcher | None:  # noqa: ARG002 - overridden by local sources
        """Return a cheap function whose result changes when ``fetch(key)``'s may have.

        A source that can tell (the environment, files) lets the cache keep its values and
        check, on each hit, that nothing changed: an edit still shows on the next call.
        ``None`` (the default): the source cannot tell; its values are cached only if
        :attr:`cacheable`, for the cache's ttl.
        """
        return None

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


# Set as a method on classes by __init_subclass__: marked abstract so that ABCMeta counts it.
@abstractmethod  # type: ignore[misc]
def _unimplemented_fetch(self: SecretProvider, key: str) -> SecretRecord | None:
    """Stand for :meth:`SecretProvider.fetch` in a class implementing neither method."""
    raise NotImplementedError


# The base itself implements neither: abstract, as a subclass implementing neither is.
SecretProvider.__abstractmethods__ = frozenset({"fetch"})


def host_and_port(url: str) -> tuple[str, int] | None:
    """Return the host and port of ``url`` (the scheme's default port if none is given)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
