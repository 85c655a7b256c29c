"""One exception tree for everything the library raises, and the warnings it gives.

Every exception and warning class a user may catch or filter is defined here, under its
builtin base (``errors.__all__`` lists them all; other modules import them from here)::

    SecretsError                                         root of everything the library raises
    ├── ConfigurationError (ValueError)                  bad chain settings; names the fix
    │   └── UnknownExportFormatError (KeyError)          no export format of that name
    ├── MissingDependencyError (ImportError)             an optional extra is not installed
    ├── AuthenticationError (LookupError)                no key, and the caller needs one
    ├── JournalTamperedError (OSError)                   the journal's history was rewritten
    ├── ResolutionError                                  the chain failed (get_api_key)
    │   └── ResolutionDeniedError (PermissionError)      a managed source refused
    │       └── AuditUnavailableError                    denied: the audit could not record
    └── SourceError                                      a source failed; carries its category
        ├── SecretNotFoundError (LookupError)            not_found: no such secret there
        ├── SourceUnavailableError (ConnectionError)     unavailable: unreachable, or a 5xx
        │   ├── SourceTimeoutError (TimeoutError)        timeout: no answer by its deadline
        │   └── CircuitOpenError                         unavailable: failing, not even asked
        ├── SourceThrottledError                         throttled: asked us to slow down
        ├── SourceForbiddenError (PermissionError)       forbidden: knows us, refuses access
        ├── SourceUnauthenticatedError (PermissionError) unauthenticated: bad credentials
        └── InvalidSourceError (ValueError)              invalid: corrupt file, malformed value
            └── InsecureFileError                        invalid: a key file others can read

    OSError                                              builtin; read_small_text refuses a file
    ├── NotRegularFileError                              a FIFO, device, socket or folder
    ├── FileTooLargeError                                larger than its kind of file can be
    └── NotUTF8Error                                     a text file that is not UTF-8

    UserWarning                                          builtin; the warnings users filter on
    ├── AuditFailureWarning                              a sink failed, or an event was dropped
    ├── InsecureFileWarning                              a key file others can read was read
    └── FingerprintKeyWarning                            the fingerprint key was not stored

SDK errors are translated to a ``SourceError`` at each source's boundary, with
``raise ... from exc``, except where the SDK's exception holds credentials: botocore's and
azure-core's carry the signed request (``X-Amz-Security-Token``, the bearer
``Authorization``), so the AWS and Azure sources raise with no cause and no context, their
messages naming the SDK's error type or the service's error code instead. No message in this
tree ever contains a secret value. The file readers refuse a file with a plain ``OSError``,
as the ``open`` they stand in for would fail; the journal's refusal is a ``SecretsError`` too.

Every class here survives ``pickle`` and ``copy.deepcopy`` with its message and attributes
(``source``, ``locator``, ``resolution``, ``errno``, ...), whatever its constructor's
signature, so that one raised in a worker process reaches the parent intact. The chain
(``__cause__``, ``__context__``) and the traceback stay behind, as for any pickled
exception: an SDK's exception may hold credentials in its request. A found
:class:`~.resolution.Resolution` refuses pickling (see there); an error only ever carries a
resolution without a value.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from ._resolution import Resolution

__all__ = [
    "AuditFailureWarning",
    "AuditUnavailableError",
    "AuthenticationError",
    "CircuitOpenError",
    "ConfigurationError",
    "ErrorCategory",
    "FileTooLargeError",
    "FingerprintKeyWarning",
    "InsecureFileError",
    "InsecureFileWarning",
    "InvalidSourceError",
    "JournalTamperedError",
    "MissingDependencyError",
    "NotRegularFileError",
    "NotUTF8Error",
    "ResolutionDeniedError",
    "ResolutionError",
    "SecretNotFoundError",
    "SecretsError",
    "SourceError",
    "SourceForbiddenError",
    "SourceThrottledError",
    "SourceTimeoutError",
    "SourceUnauthenticatedError",
    "SourceUnavailableError",
    "UnknownExportFormatError",
]

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
        # The builtin base's reduce gives what its __init__ needs: OSError keeps a filename
        # out of ``args`` and hands it back there.
        builtin_args = super().__reduce__()[1]
        extra = () if builtin_args == self.args else (builtin_args,)
        return (_rebuild, (type(self), self.args, *extra), self.__dict__)


def _rebuild(
    cls: type[_E], args: tuple[Any, ...], builtin_args: tuple[Any, ...] | None = None
) -> _E:
    """Recreate an error of ``cls`` with ``args`` and no ``__init__`` call (for pickle)."""
    init_args = args if builtin_args is None else builtin_args
    error = cls.__new__(cls, *init_args)
    # The builtin base's own state (ImportError.msg, OSError.errno) comes from its __init__.
    super(SecretsError, error).__init__(*init_args)
    error.args = args
    return error


class ConfigurationError(SecretsError, ValueError):
    """The chain's settings are wrong; the message says what to change."""


class UnknownExportFormatError(ConfigurationError, KeyError):
    """No export format is registered under that name; the message lists the known ones.

    A ``KeyError`` too, as looking the name up in the renderers always raised.
    """

    __str__ = BaseException.__str__  # the message as written, not KeyError's quoted repr


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


class AuditUnavailableError(ResolutionDeniedError):
    """Fail-closed audit: the resolution was denied because it could not be recorded."""


class JournalTamperedError(SecretsError, OSError):
    """The journal's sealed history was rewritten, cut or removed: the writer will not sign.

    An ``OSError`` as every failure to record is: the audit middleware counts it, and denies
    the resolution in block mode.
    """


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


class NotRegularFileError(OSError):
    """A path meant to name a file names a FIFO, a device, a socket or a folder."""


class FileTooLargeError(OSError):
    """A file is larger than its kind of file can be."""


class NotUTF8Error(OSError):
    """A text file is not UTF-8 (the bytes are not kept: they may be a key)."""


class AuditFailureWarning(UserWarning):
    """An audit sink failed to record an event, or an event was dropped before it."""


class InsecureFileWarning(UserWarning):
    """A key file that group or others can read was read because the policy says ``warn``."""


class FingerprintKeyWarning(UserWarning):
    """The installation's fingerprint key could not be stored; this process uses its own."""
