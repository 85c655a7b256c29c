"""One exception tree for everything the library raises.

::

    SecretsError
    ├── ConfigurationError (ValueError)          bad chain settings; names the fix
    ├── MissingDependencyError (ImportError)     an optional extra is not installed
    ├── AuthenticationError (LookupError)        no key anywhere, and the caller needs one
    ├── ResolutionError                          the chain failed (get_api_key raises it)
    │   └── ResolutionDeniedError (PermissionError)
    └── SourceError                              raised by a source; carries its category
        ├── SecretNotFoundError (LookupError)           not_found
        ├── SourceUnavailableError (ConnectionError)    unavailable
        │   ├── SourceTimeoutError (TimeoutError)       timeout
        │   └── CircuitOpenError                        unavailable, not even asked
        ├── SourceThrottledError                        throttled
        ├── SourceForbiddenError (PermissionError)      forbidden
        ├── SourceUnauthenticatedError (PermissionError) unauthenticated
        └── InvalidSourceError (ValueError)             invalid
            └── InsecureFileError                       a key file others can read

SDK errors are translated to a ``SourceError`` at each source's boundary, with
``raise ... from exc``, except where the SDK's exception holds credentials: botocore's and
azure-core's carry the signed request (``X-Amz-Security-Token``, the bearer
``Authorization``), so the AWS and Azure sources raise with no cause and no context, their
messages naming the SDK's error type or the service's error code instead. No message in this
tree ever contains a secret value.

Every error survives ``pickle`` and ``copy.deepcopy`` with its message and attributes
(``source``, ``locator``, ``resolution``, ...), whatever its constructor's signature, so
that one raised in a worker process reaches the parent intact. The chain (``__cause__``,
``__context__``) and the traceback stay behind, as for any pickled exception: an SDK's
exception may hold credentials in its request. A found :class:`~.resolution.Resolution`
refuses pickling (see there); an error only ever carries a resolution without a value.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from .resolution import Resolution

_E = TypeVar("_E", bound="SecretsError")


class ErrorCategory(str, enum.Enum):
    """What kind of failure a source met; the failure policy acts on this, not on types."""

    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"
    THROTTLED = "throttled"
    FORBIDDEN = "forbidden"
    UNAUTHENTICATED = "unauthenticated"
    INVALID = "invalid"


class SecretsError(Exception):
    """Root of every error this library raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # BaseException's reduce calls ``cls(*self.args)``, which breaks every subclass
        # whose constructor takes other arguments than its message. Rebuild without
        # calling __init__, then restore the attributes; state comes last so that a
        # resolution referring back to this error unpickles as the same object.
        return (_rebuild, (type(self), self.args), self.__dict__)


def _rebuild(cls: type[_E], args: tuple[Any, ...]) -> _E:
    """Recreate an error of ``cls`` with ``args`` and no ``__init__`` call (for pickle)."""
    error = cls.__new__(cls, *args)
    # The builtin base's own state (ImportError.msg, OSError.errno) comes from its __init__.
    super(SecretsError, error).__init__(*args)
    error.args = args
    return error


class ConfigurationError(SecretsError, ValueError):
    """The chain's settings are wrong; the message says what to change."""


class MissingDependencyError(SecretsError, ImportError):
    """An optional extra is needed; the message gives the ``pip install`` command."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module} is not installed; run: pip install 'abstractcore-secrets[{extra}]'"
        )
        self.module = module
        self.extra = extra


class AuthenticationError(SecretsError, LookupError):
    """No API key was found for a provider that the caller requires one for.

    The signature ``AuthenticationError(provider, message)`` is the original proposal's.
    """

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


class ResolutionError(SecretsError):
    """A resolution ended in error; ``resolution.attempts`` tells what each source did."""

    def __init__(self, message: str, resolution: Resolution) -> None:
        super().__init__(message)
        self.resolution = resolution


class ResolutionDeniedError(ResolutionError, PermissionError):
    """A managed source refused access, and the chain failed closed."""


class SourceError(SecretsError):
    """A source failed to answer; ``category`` drives the failure policy.

    Args:
        message: What went wrong and how to fix it. Never a secret value.
        source: The source's name (``vault``, ``env``, ...).
        locator: Where the source looked (env var name, path, secret id).
        request_id: The server's id of the failed request, where it gave one.
        retry_after: Seconds the server asked us to wait before trying again.
    """

    category: ClassVar[ErrorCategory] = ErrorCategory.UNAVAILABLE

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        locator: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.source = source
        self.locator = locator
        self.request_id = request_id
        self.retry_after = retry_after


class SecretNotFoundError(SourceError, LookupError):
    """The source has no such secret."""

    category = ErrorCategory.NOT_FOUND


class SourceUnavailableError(SourceError, ConnectionError):
    """The source could not be reached or answered with a server error."""

    category = ErrorCategory.UNAVAILABLE


class SourceTimeoutError(SourceUnavailableError, TimeoutError):
    """The source did not answer within its deadline."""

    category = ErrorCategory.TIMEOUT


class CircuitOpenError(SourceUnavailableError):
    """The source failed repeatedly; it is skipped until its circuit breaker lets a probe in."""


class SourceThrottledError(SourceError):
    """The source asked us to slow down."""

    category = ErrorCategory.THROTTLED


class SourceForbiddenError(SourceError, PermissionError):
    """The source knows who we are and refuses access."""

    category = ErrorCategory.FORBIDDEN


class SourceUnauthenticatedError(SourceError, PermissionError):
    """The source rejected our credentials (missing, expired or revoked)."""

    category = ErrorCategory.UNAUTHENTICATED


class InvalidSourceError(SourceError, ValueError):
    """The source holds something unusable: a corrupt file, a malformed value."""

    category = ErrorCategory.INVALID


class InsecureFileError(InvalidSourceError):
    """A file holding keys is readable by group or others."""
