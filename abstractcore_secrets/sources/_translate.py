"""Translating an SDK's exceptions into our errors: a table per source, the most specific wins.

Each remote source declares one :class:`ErrorTable`: rows of :class:`Rule`, each naming an
exception type, optionally a predicate on the exception (an HTTP status, an AWS error code),
and the :class:`~abstractcore_secrets.errors.SourceError` class and message to raise. The
lookup walks the raised exception's MRO, most derived class first; at each class, the rules
with a predicate are tried in the order declared, then the bare rule. The first that matches
wins. With none, the error is ``unavailable``, naming only the exception's type.

A message is a template (``{type}`` is the exception's type name; the caller may pass more
fields) or a callable building it from the exception. Either must name statuses, codes,
types or hosts, never what the exception's text holds unchecked: SDK messages may quote the
request, credentials included.

The error returned holds nothing of the exception. The callers keep the rule of raising it
outside their ``except`` blocks, so that it has neither ``__cause__`` nor ``__context__``:
SDK exceptions hold the signed request (a Vault token, AWS's session token, Azure's bearer
token) in their attributes and frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import SourceError, SourceUnavailableError

Message = str | Callable[[Any], str]
"""A message template (``{type}`` and the caller's fields), or a callable of the exception."""


@dataclass(frozen=True)
class Rule:
    """One row of a table: which exception becomes which error, with what message.

    Attributes:
        exception: The SDK's exception type; its subclasses match too, unless a rule of
            theirs is more specific.
        error: The ``SourceError`` class raised for it (its class sets the category).
        message: What went wrong and the fix; written after the locator and ``": "``.
        when: A predicate on the exception; a rule with one wins over the bare rule of the
            same type when it holds, and is skipped when it does not.
        retry_after: Reads the wait the server asked for from the exception.
        request_id: Reads the server's request id from the exception; default the one the
            caller passes.
    """

    exception: type[BaseException]
    error: type[SourceError]
    message: Message
    when: Callable[[Any], bool] | None = None
    retry_after: Callable[[Any], float | None] | None = None
    request_id: Callable[[Any], str | None] | None = None


class ErrorTable:
    """A source's translation table; see the module's docstring for the lookup's rules.

    Args:
        source: The source's name, set on every error.
        rules: The rows; order matters only among the rules of one type: the first that
            holds wins, predicate rules before bare ones.
        default: The ``unavailable`` message for an exception no rule matches; ``{type}``
            names its type, the only thing told about it.
    """

    def __init__(self, source: str, rules: Iterable[Rule], *, default: str) -> None:
        self.source = source
        self.rules = tuple(rules)
        self.default = default
        self._by_type: dict[type[BaseException], list[Rule]] = {}
        # Per type, the rules with a predicate first (in their order), then the bare ones.
        for rule in sorted(self.rules, key=lambda rule: rule.when is None):
            self._by_type.setdefault(rule.exception, []).append(rule)

    def extended(self, *rules: Rule) -> ErrorTable:
        """Return a table with ``rules`` added, tried before this table's own of the same type.

        For what one call means that the SDK's exception does not say (a 404 on a read is
        "not here"; a 403 on a login is the login's).
        """
        return ErrorTable(self.source, (*rules, *self.rules), default=self.default)

    def lookup(self, exc: BaseException) -> Rule | None:
        """Return the most specific rule matching ``exc``, or ``None`` for the default."""
        for cls in type(exc).__mro__:
            for rule in self._by_type.get(cls, ()):
                if rule.when is None or rule.when(exc):
                    return rule
        return None

    def translate(
        self,
        exc: BaseException,
        locator: str,
        *,
        request_id: str | None = None,
        **fields: str,
    ) -> SourceError:
        """Return the ``SourceError`` that ``exc`` means, to raise outside the except block.

        Args:
            exc: The SDK's exception.
            locator: Where the source looked; starts the message and is set on the error.
            request_id: The server's request id, when the caller knows it.
            fields: More fields for the message templates (``method``, ...).
        """
        rule = self.lookup(exc)
        where: dict[str, Any] = {"source": self.source, "locator": locator}
        if rule is None:
            problem = self.default.format(type=type(exc).__name__, **fields)
            return SourceUnavailableError(f"{locator}: {problem}", request_id=request_id, **where)
        if isinstance(rule.message, str):
            problem = rule.message.format(type=type(exc).__name__, **fields)
        else:
            problem = rule.message(exc)
        return rule.error(
            f"{locator}: {problem}",
            request_id=request_id if rule.request_id is None else rule.request_id(exc),
            retry_after=None if rule.retry_after is None else rule.retry_after(exc),
            **where,
        )
