"""The redaction policy applied where it must be: structlog, stdlib logging, middleware.

The OpenTelemetry SDK's span and log processors live with the SDK setup
(:mod:`abstractcore_secrets.telemetry._setup`), the one module that imports the SDK.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from .._resolution import Attempt, Resolution
from ..middleware import AttemptHandler, AttemptRequest, Handler, ResolveRequest
from ._policy import RedactionPolicy

SDK_LOGGERS = (
    "hvac",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "requests",
    "azure",
    "msal",
    "stamina",
    "opentelemetry",
    "abstractcore_secrets",
)
"""Loggers whose records are scrubbed: the SDKs' debug logs carry headers and bodies."""


class StructlogRedactor:
    """A structlog processor: put it last before the renderer."""

    def __init__(self, policy: RedactionPolicy) -> None:
        self.policy = policy

    def __call__(
        self, _logger: object, _method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Return the event with secrets masked."""
        scrubbed = self.policy.scrub(dict(event_dict))
        return scrubbed if isinstance(scrubbed, dict) else {"event": self.policy.mask}


_RELEARNT_LIMIT = 256
"""Hit objects remembered at most (one per cached key, so rarely more than a handful)."""


class ValueLearner:
    """Middleware that teaches the policy every value resolved and every credential used.

    Use ``learner`` as resolution middleware and ``learner.attempt`` as attempt middleware,
    outermost, so that the policy knows a value before any other layer emits anything.
    """

    def __init__(self, policy: RedactionPolicy) -> None:
        self.policy = policy
        # Cache hits re-learnt, by id: each with the policy's generation at that time.
        self._relearnt: dict[int, tuple[Resolution, int]] = {}

    def __call__(self, request: ResolveRequest, call_next: Handler) -> Resolution:
        """Learn the caller's explicit key and the resolved key."""
        self.policy.add(request.explicit)
        resolution = call_next(request)
        self.policy.add(resolution.value)
        return resolution

    def on_hit(self, hit: Resolution) -> Resolution:
        """Learn a cache hit's key again: one in use is never the one forgotten.

        Once per hit object between two learnings: a value can only be forgotten when
        another is learnt, so until then the policy's memory of it is as fresh as needed.
        """
        generation = self.policy._generation  # its package's own attribute: no call
        seen = self._relearnt.get(id(hit))
        if seen is not None and seen[0] is hit and seen[1] == generation:
            return hit
        self.policy.add(hit.value)
        if len(self._relearnt) >= _RELEARNT_LIMIT:
            self._relearnt.clear()
        # The hit is kept with its id, so that the id cannot be reused meanwhile.
        self._relearnt[id(hit)] = (hit, self.policy._generation)
        return hit

    def attempt(self, request: AttemptRequest, call_next: AttemptHandler) -> Attempt:
        """Learn the source's credentials (a fresh Vault token after a login, ...) and value."""
        attempt = call_next(request)
        try:
            credentials = request.source.credentials()
        except Exception:  # noqa: BLE001 - learning must never fail a resolution
            credentials = ()  # (AWS refreshes expired credentials here, over the network)
        self.policy.add(*credentials)
        if attempt.record is not None:
            self.policy.add(attempt.record.secret)
        return attempt


_installed_lock = threading.Lock()
_installed: RedactionPolicy | None = None


def install_logging_redaction(
    policy: RedactionPolicy, prefixes: Iterable[str] = SDK_LOGGERS
) -> None:
    """Scrub every stdlib log record of ``prefixes`` loggers as it is created.

    A record factory, rather than a filter, because a filter on ``botocore`` does not see
    the records of ``botocore.parsers``. Installing again replaces the policy.
    """
    global _installed  # noqa: PLW0603 - one process-wide record factory
    wanted = tuple(prefixes)
    with _installed_lock:
        if _installed is None:
            logging.setLogRecordFactory(_scrubbing_factory(logging.getLogRecordFactory(), wanted))
        _installed = policy


def _scrubbing_factory(
    inner: Callable[..., logging.LogRecord], prefixes: tuple[str, ...]
) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:  # noqa: ANN401
        record = inner(*args, **kwargs)
        policy = _installed
        if policy is not None and record.name.startswith(prefixes):
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a malformed record is masked, not raised
                message = policy.mask
            record.msg, record.args = policy.scrub_text(message), None
            if record.exc_info:
                # Formatted now and scrubbed: a traceback's messages may quote a request.
                text = "".join(traceback.format_exception(*record.exc_info))
                record.exc_text, record.exc_info = policy.scrub_text(text), None
        return record

    return factory
