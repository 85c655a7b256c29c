"""The audit events' processors: plain callables ``event -> event | None``, run in order.

The middleware runs ``[Pseudonymise(...), Scrub(...)]`` by default (the principal is
replaced before anything else sees it; the free-form fields are scrubbed before any sink
does); a filter or an aggregation is one more callable in that list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._fingerprint import Fingerprinter
    from ..redaction import RedactionPolicy
    from ._types import AuditEvent

FREE_FORM = ("error.message", "user", "locator", "source_request_id", "attempts")
"""The fields that can carry text from outside (a message, a principal, a path); the others
are built by the middleware from ids, hashes, numbers and fixed words."""


class Scrub:
    """Mask what the redaction policy knows or recognises in the free-form fields.

    Args:
        policy: The redaction policy every signal consults.
    """

    def __init__(self, policy: RedactionPolicy) -> None:
        self.policy = policy

    def __call__(self, event: AuditEvent) -> AuditEvent:
        """Return a scrubbed copy of ``event``."""
        present = {key: event[key] for key in FREE_FORM if key in event}
        return {**event, **self.policy.scrub(present)}


class Pseudonymise:
    """Replace the principal (``user.id``) by a keyed, stable pseudonym (``user.pseudo_id``).

    Args:
        fingerprinter: Keys the pseudonyms (HMAC), so that they cannot be reversed by
            hashing guessed names.
    """

    def __init__(self, fingerprinter: Fingerprinter) -> None:
        self.fingerprinter = fingerprinter

    def __call__(self, event: AuditEvent) -> AuditEvent:
        """Return ``event`` with its principal pseudonymised (unchanged without one)."""
        user = event.get("user")
        if not isinstance(user, dict) or user.get("id") is None:
            return event
        pseudo = self.fingerprinter.fingerprint(f"principal:{user['id']}")
        return {
            **event,
            "user": {"pseudo_id": pseudo.split(":", 1)[1][:32], "os_user": user.get("os_user")},
        }
