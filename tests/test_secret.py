"""Secret never shows its value; mask_secret shows little of it."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from abstractcore_secrets import Secret, mask_secret
from abstractcore_secrets._secret import MASK


def _representations(secret: Secret) -> list[str]:
    return [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>40}",
        "%s %r" % (secret, secret),  # noqa: UP031 - the old formatting path is checked too
        format(secret, "x"),
        json.dumps({"k": secret}, default=str),
        repr([secret]),
        repr({"k": secret}),
    ]


class TestSecret:
    def test_reveal_returns_the_value(self):
        """reveal() is the one way to the value."""
        assert Secret("sk-abc123xyz").reveal() == "sk-abc123xyz"

    def test_every_representation_is_masked(self):
        """repr, str, format, %-formatting and JSON with default=str show the mask only."""
        secret = Secret("sk-canary-value-1234")
        for text in _representations(secret):
            assert "canary" not in text
            assert MASK in text

    def test_json_refuses_without_a_default(self):
        """json.dumps refuses a Secret rather than guessing."""
        with pytest.raises(TypeError):
            json.dumps({"k": Secret("sk-canary")})

    def test_pickling_raises_without_the_value(self):
        """Pickling raises, and its message does not hold the value."""
        with pytest.raises(TypeError, match="cannot be pickled") as caught:
            pickle.dumps(Secret("sk-canary-pickle"))
        assert "sk-canary-pickle" not in str(caught.value)

    def test_copies_are_the_same_immutable_object(self):
        """copy and deepcopy return the object itself; attributes cannot be set."""
        secret = Secret("sk-a")
        assert copy.copy(secret) is secret
        assert copy.deepcopy(secret) is secret
        with pytest.raises(AttributeError):
            secret._value = "other"  # type: ignore[misc]

    def test_equality_compares_values_between_secrets_only(self):
        """Two Secrets with one value are equal and hash alike; a str is never equal."""
        assert Secret("v1") == Secret("v1")
        assert hash(Secret("v1")) == hash(Secret("v1"))
        assert Secret("v1") != Secret("v2")
        assert Secret("v1") != "v1"

    @pytest.mark.parametrize("bad", ["", None, b"bytes"], ids=["empty", "none", "bytes"])
    def test_rejects_what_is_not_a_non_empty_str(self, bad):
        """An empty value means 'not set'; other types are a caller bug."""
        with pytest.raises((TypeError, ValueError)):
            Secret(bad)

    def test_wrap_passes_a_secret_through(self):
        """wrap() wraps a str once and returns a Secret as it is."""
        secret = Secret("v")
        assert Secret.wrap(secret) is secret
        assert Secret.wrap("v") == secret

    @given(st.text(min_size=1))
    def test_no_representation_contains_the_value(self, value):
        """For any value, no representation contains it (unless it is part of the mask)."""
        assume(not any(value in text for text in _representations(Secret("x"))))
        secret = Secret(value)
        for text in _representations(secret):
            assert value not in text


class TestMaskSecret:
    @pytest.mark.parametrize(
        ("value", "masked"),
        [
            ("short", "***"),
            ("1234567", "***"),
            ("12345678", "1...8"),
            ("sk-abc123def456gh", "sk...gh"),
            ("sk-abcdefghijklmnopqrstuvwxyz0123456789", "sk-a...6789"),
        ],
        ids=["short", "seven", "eight", "seventeen", "long"],
    )
    def test_masks_by_length(self, value, masked):
        """Under 8 characters: ***; otherwise at most a quarter shows, 4 at each end at most."""
        assert mask_secret(value) == masked
        assert mask_secret(Secret(value)) == masked

    @given(st.text(min_size=8))
    def test_never_shows_more_than_a_quarter(self, value):
        """The shown characters never exceed a quarter of the value."""
        shown = len(mask_secret(value)) - len("...")
        assert shown <= len(value) // 4
