"""One provider's key as the chain gives it, and the rule the integrations apply to a 401.

The rule: a request refused with 401 had a key the LLM service no longer accepts, most
likely rotated at its source. Drop the cached key, resolve again, and retry the request
once with the new key. When the chain gives the same key back (same fingerprint), or no key,
the 401 is returned as it is: the key is revoked, not rotated, and asking again would loop.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable

from .._manager import SecretsManager
from .._resolution import Resolution
from .._secret import Secret
from ..assembly import get_secrets_manager
from ..errors import AuthenticationError, InvalidSourceError
from ..llm_providers import validate_provider

RECHECK_INTERVAL = 5.0
"""Seconds during which a key confirmed refused is not re-checked at its source on each 401
(as the cache's ``stale_retry`` re-asks a failed source): a revoked key would otherwise cost a
source read per request."""

_REMEMBERED = 64  # refused fingerprints kept, at most
_LOG = logging.getLogger("abstractcore_secrets.integrations")

RotationHook = Callable[[Resolution], None]
"""Called with the new resolution after a 401 brought a different key."""


class KeyRefresher:
    """Resolve one provider's key, and decide what a 401 calls for.

    Args:
        provider: The LLM provider (``openai``, ...); a former spelling is normalised.
        manager: The chain; default the process-wide one, looked up at each call (so
            :func:`~abstractcore_secrets.set_secrets_manager` applies).
        recheck_interval: See :data:`RECHECK_INTERVAL`.
        on_rotate: Called after a 401 brought a different key; a hook that raises is
            logged (its type only) and ignored.
        clock: Monotonic clock (tests).

    Raises:
        ConfigurationError: ``provider`` is not a provider name.
    """

    def __init__(
        self,
        provider: str,
        manager: SecretsManager | None = None,
        *,
        recheck_interval: float = RECHECK_INTERVAL,
        on_rotate: RotationHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = validate_provider(provider)
        self._manager = manager
        self._recheck_interval = recheck_interval
        self._on_rotate = on_rotate
        self._clock = clock
        self._lock = threading.Lock()
        self._refused: dict[str, float] = {}  # fingerprint -> when its source confirmed it

    @property
    def manager(self) -> SecretsManager:
        """Return the chain this key comes from."""
        return self._manager if self._manager is not None else get_secrets_manager()

    def current(self) -> Resolution:
        """Resolve the key (a cache hit, usually) and return the resolution, which holds it.

        Raises:
            AuthenticationError: No source has the key.
            ResolutionDeniedError: A managed source refused (the chain failed closed).
            ResolutionError: Sources failed and no cached value could be served.
        """
        return _found(self.manager.resolve(self.provider))

    def after_refusal(self, refused: str | None) -> Resolution | None:
        """Apply the 401 rule: return the resolution of a different key to retry with once,
        or ``None`` to return the 401 as it is.

        Args:
            refused: The key the refused request carried (``None``: it carried none).
        """
        manager = self.manager
        with self._lock:
            # Another request refused with the same key may have re-resolved already.
            current = manager.resolve(self.provider)
            if _differs(current, refused):
                return self._rotated(current)
            if self._recently_refused(current):
                return None
            manager.invalidate(self.provider)
            fresh = manager.resolve(self.provider)
            if fresh.value is None:
                return None  # not found, denied or failed: its own audit event says which
            if not _differs(fresh, refused):
                self._remember_refused(fresh)
                return None
            return self._rotated(fresh)

    def _rotated(self, resolution: Resolution) -> Resolution:
        if self._on_rotate is not None:
            try:
                self._on_rotate(resolution)
            except Exception as exc:  # noqa: BLE001 - a broken hook never breaks a request
                # Its type only: the exception's text could quote anything.
                _LOG.warning("on_rotate hook failed (%s)", type(exc).__name__)
        return resolution

    def _recently_refused(self, resolution: Resolution) -> bool:
        fingerprint = resolution.fingerprint
        if fingerprint is None:
            return False
        confirmed = self._refused.get(fingerprint)
        return confirmed is not None and self._clock() - confirmed < self._recheck_interval

    def _remember_refused(self, resolution: Resolution) -> None:
        if resolution.fingerprint is None:
            return
        now = self._clock()
        self._refused = {
            fingerprint: when
            for fingerprint, when in self._refused.items()
            if now - when < self._recheck_interval
        }
        if len(self._refused) >= _REMEMBERED:
            self._refused.pop(next(iter(self._refused)))
        self._refused[resolution.fingerprint] = now

    def __repr__(self) -> str:
        # Safe on an object whose __init__ failed (a traceback printer may show it).
        return f"{type(self).__name__}(provider={getattr(self, 'provider', None)!r})"


def key_of(resolution: Resolution) -> Secret:
    """Return the key of a resolution that found one, fit for an HTTP header.

    Raises:
        InvalidSourceError: The key holds a character beyond ASCII. HTTP clients refuse to
            put one in a header, with an error whose ``repr`` quotes the whole value; this
            message names where the key is, never the key.
    """
    if resolution.value is None:
        raise ValueError("this resolution holds no key")  # current() never returns one
    if not resolution.value.reveal().isascii():
        raise InvalidSourceError(
            f"the {resolution.provider} key at {resolution.locator} holds characters beyond "
            "ASCII, which no HTTP header can carry: check it at its source (a paste from a "
            "rich-text editor turns quotes and dashes into others)",
            source=resolution.source,
            locator=resolution.locator,
        )
    return resolution.value


def _found(resolution: Resolution) -> Resolution:
    if resolution.value is not None:
        return resolution
    if resolution.error is not None:
        raise resolution.error
    where = ", ".join(a.locator or a.source for a in resolution.attempts) or "no source"
    raise AuthenticationError(
        resolution.provider,
        f"no API key found (looked in: {where}); put one in one of them, e.g. with: "
        f"abstractcore-secrets set-key {resolution.provider}",
    )


def _differs(resolution: Resolution, refused: str | None) -> bool:
    """Whether ``resolution`` holds a key, and not the refused one."""
    if resolution.value is None:
        return False
    if refused is None:
        return True
    # Compared as bytes: compare_digest refuses str holding characters beyond ASCII.
    return not hmac.compare_digest(resolution.value.reveal().encode(), refused.encode())
