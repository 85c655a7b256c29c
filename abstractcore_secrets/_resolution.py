"""What a resolution produces: the value with its provenance, and each attempt made.

Pickling (to another process, a queue, a file) follows the value. A resolution without
a value (not found, denied, error) and its errors round-trip whole. A found resolution
refuses pickling with a ``TypeError``, as its ``Secret`` does: the key never lands on a
wire or a disk by accident. An :class:`Attempt` is pickled without its ``record`` (the
value found), keeping what it tells about the source, so that an error carrying the
attempts of a found-then-denied resolution still crosses a process boundary.
``copy.deepcopy`` stays within the process and keeps everything, values included.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, NoReturn, SupportsIndex, TypeVar

from ._secret import Secret
from ._watch import Watch
from .errors import ErrorCategory, SecretsError, SourceError

_D = TypeVar("_D")


def _deepcopy_fields(instance: _D, memo: dict[int, Any]) -> _D:
    """Deep-copy a frozen dataclass field by field, registering the copy before its fields.

    Registering first lets a cycle (a resolution whose error refers back to it) copy as a
    cycle; a ``Secret`` inside copies as itself.
    """
    duplicate = object.__new__(type(instance))
    memo[id(instance)] = duplicate
    for item in dataclasses.fields(instance):  # type: ignore[arg-type]
        value = copy.deepcopy(getattr(instance, item.name), memo)
        object.__setattr__(duplicate, item.name, value)
    return duplicate


class Outcome(str, enum.Enum):
    """How a resolution, or one attempt of it, ended."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    DENIED = "denied"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """What a source returns for a key it holds.

    Args:
        secret: The value.
        locator: Where it was found: env var name, file path, Vault mount and path, ...
        version: The source's version of the value, where it has one.
        request_id: The server's id for the read, to join with its own audit log.
    """

    secret: Secret
    locator: str
    version: str | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One source consulted during a resolution.

    ``record`` holds the value when the attempt found one; it is left out of ``repr``
    (and a ``Secret`` masks itself anyway). ``tries`` counts the calls made to the
    source, retries included; 0 means it was not asked (its circuit is open, or the cache
    remembers its recent miss).
    """

    source: str
    outcome: Outcome
    duration: float
    locator: str | None = None
    error: SourceError | None = None
    record: SecretRecord | None = field(default=None, repr=False)
    tries: int = 1

    @property
    def category(self) -> ErrorCategory | None:
        """The failure category, or ``None`` for found and not found.

        A source that says "no such key" by raising (``SecretNotFoundError``) missed, it did
        not fail: its attempt has no category either.
        """
        if self.error is None or self.outcome in (Outcome.FOUND, Outcome.NOT_FOUND):
            return None
        return self.error.category

    @property
    def error_type(self) -> str | None:
        """The failure category's name: what tracing, metrics, audit and the CLI record."""
        category = self.category
        return None if category is None else category.value

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        if self.record is None:
            return object.__reduce_ex__(self, protocol)
        # The value stays in this process; the provenance travels.
        return object.__reduce_ex__(dataclasses.replace(self, record=None), protocol)

    def __deepcopy__(self, memo: dict[int, Any]) -> Attempt:
        return _deepcopy_fields(self, memo)


@dataclass(frozen=True, slots=True)
class Resolution:
    """One request for one provider's key through the chain, and what came of it.

    Attributes:
        provider: The LLM provider asked for (``openai``, ...).
        outcome: found, not_found, denied or error.
        value: The key, when found.
        source: The source that answered (``env``, ``vault``, ...), or ``None``.
        locator: Where the winning source found it.
        version: The source's version of the value, where it has one.
        request_id: The source's request id for the winning read.
        fingerprint: ``hmac-sha256:<hex>`` of the value, when found.
        attempts: Every source consulted, in order: the provenance.
        cache_hit: Served from the cache without consulting the sources.
        stale: Served from the cache past its refresh time because the sources failed.
        degraded: Answered by a lower source because a higher one failed (down, slow,
            throttled): the answer is not the one the chain would give with every source
            up. :attr:`degraded_reasons` says which sources failed and why.
        cacheable: Whether a cache may keep this value (its source allows it, or can tell
            when it changes: :attr:`watches`).
        duration: Seconds this resolution took.
        error: Why it was denied or failed.
        watches: The sources asked up to the one that answered that can tell a change (the
            environment, files), each with its token from before its fetch: a cache serves
            the value while none changed.
    """

    provider: str
    outcome: Outcome
    value: Secret | None = None
    source: str | None = None
    locator: str | None = None
    version: str | None = None
    request_id: str | None = None
    fingerprint: str | None = None
    attempts: tuple[Attempt, ...] = ()
    cache_hit: bool = False
    stale: bool = False
    cacheable: bool = False
    duration: float = 0.0
    error: SecretsError | None = None
    degraded: bool = False
    watches: tuple[Watch, ...] = field(default=(), repr=False, compare=False)

    @property
    def found(self) -> bool:
        """Whether a value was resolved."""
        return self.outcome is Outcome.FOUND

    @property
    def error_type(self) -> str | None:
        """Why this resolution failed or stood in, in one word: one rule for every signal.

        Tracing, metrics, audit and the CLI all record this. Set when the resolution was
        denied or failed, or was served while a source failed (``stale``, ``degraded``): the
        category of the last source that failed (a plain miss is not a failure); with no
        failed source to name (the audit denied the key, a waiter gave up), the category its
        error carries, else its outcome. ``None`` for a found key served normally and for
        ``not_found``.
        """
        if self.outcome is Outcome.NOT_FOUND or (
            self.outcome is Outcome.FOUND and not (self.stale or self.degraded)
        ):
            return None
        failures = failed_attempts(self.attempts)
        if failures:
            return failures[-1].error_type
        category = _category_of(self.error)
        if category is not None:
            return category.value
        return None if self.outcome is Outcome.FOUND else self.outcome.value

    @property
    def degraded_reasons(self) -> tuple[str, ...]:
        """``source: error type`` of each source that failed before the one that answered.

        Empty unless :attr:`degraded` or :attr:`stale`: then it names what the answer is
        standing in for.
        """
        if not (self.degraded or self.stale):
            return ()
        return tuple(f"{a.source}: {a.error_type}" for a in failed_attempts(self.attempts))

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        if self.value is not None:
            _refuse_pickling()
        return object.__reduce_ex__(self, protocol)

    def __deepcopy__(self, memo: dict[int, Any]) -> Resolution:
        return _deepcopy_fields(self, memo)


def failed_attempts(attempts: tuple[Attempt, ...]) -> tuple[Attempt, ...]:
    """Return the attempts whose source failed (an error other than a plain miss)."""
    return tuple(a for a in attempts if a.category is not None)


def _category_of(error: BaseException | None) -> ErrorCategory | None:
    """Return the failure category ``error`` carries, through a resolution error's attempts."""
    if isinstance(error, SourceError):
        return error.category
    partial = getattr(error, "resolution", None)
    if isinstance(partial, Resolution):
        failures = failed_attempts(partial.attempts)
        if failures:
            return failures[-1].category
    cause = None if error is None else error.__cause__
    return cause.category if isinstance(cause, SourceError) else None


def _refuse_pickling() -> NoReturn:
    raise TypeError(
        "a found Resolution cannot be pickled: it holds the key, which never lands on a "
        "wire or a disk by accident; send its provenance (provider, source, locator, "
        "fingerprint) and, where the key itself must cross, resolution.value.reveal()"
    )
