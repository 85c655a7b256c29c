"""The ``Secret`` value type, which never shows itself, and ``mask_secret``."""

from __future__ import annotations

import hmac
from typing import Any, NoReturn, final

MASK = "**********"


@final
class Secret:
    """A secret value that masks itself in every representation.

    ``repr``, ``str``, ``format`` and f-strings show ``**********``; pickling and copying
    to another process raise; ``json.dumps`` refuses it (and shows the mask with
    ``default=str``). The one way to the value is :meth:`reveal`.

    Args:
        value: The secret. Must be a non-empty ``str``.

    Raises:
        TypeError: ``value`` is not a ``str``.
        ValueError: ``value`` is empty.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret takes a str, not {type(value).__name__}")
        if not value:
            raise ValueError("Secret takes a non-empty str; an empty value means 'not set'")
        object.__setattr__(self, "_value", value)

    @classmethod
    def wrap(cls, value: str | Secret) -> Secret:
        """Return ``value`` as a ``Secret``, wrapping a ``str`` and passing a ``Secret`` on."""
        return value if isinstance(value, Secret) else cls(value)

    def reveal(self) -> str:
        """Return the secret value itself. Call it only where the value is used."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        return MASK

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError(
            "a Secret cannot be pickled, so that it never lands on disk or a wire by accident; "
            "pass secret.reveal() explicitly where a value must cross a process boundary"
        )


def mask_secret(secret: str | Secret) -> str:
    """Mask a secret for display: ``sk-abc...wxyz`` style, ``***`` under 8 characters.

    At most a quarter of the value is shown (4 characters at each end from 32 characters
    on, fewer for shorter values), so a short key is never shown almost whole.

    Args:
        secret: The value to mask.

    Returns:
        The masked form.
    """
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if len(value) < 8:
        return "***"
    shown = min(4, len(value) // 8)
    return f"{value[:shown]}...{value[-shown:]}"
