"""Texts found clean are not scanned again, and never outlive what made them clean.

The policy remembers the texts in which it found nothing to mask (a locator, a principal,
a provider's name come back on every resolution). What is remembered must never let a value
through: a value learnt since, the key formats turned back on, a string subclass that lies
about its equality, a text that was masked. Each case below is one of those.
"""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from abstractcore_secrets.redaction import RedactionPolicy
from abstractcore_secrets.redaction._policy import MASK, _CleanTexts

CANARY = "canary-value-7f3a9c1e5b"
LOCATOR = "/srv/app/config/abstractcore.json#api_keys.openai"


def test_a_text_found_clean_is_masked_once_the_value_in_it_is_learnt() -> None:
    policy = RedactionPolicy()
    text = f"error reading {CANARY} from the source"
    assert policy.scrub_text(text) == text  # nothing known yet: clean, and remembered
    policy.add(CANARY)
    scrubbed = policy.scrub_text(text)
    assert CANARY not in scrubbed
    assert MASK in scrubbed


def test_an_encoding_of_a_value_learnt_later_is_masked_in_a_remembered_text() -> None:
    import base64

    policy = RedactionPolicy()
    encoded = base64.b64encode(CANARY.encode()).decode()
    text = f"Authorization: Basic {encoded}"
    policy.scrub_text(text)
    policy.add(CANARY)
    assert encoded[2:-4] not in policy.scrub_text(text)


def test_key_formats_turned_back_on_rescan_remembered_texts() -> None:
    policy = RedactionPolicy(patterns=False)
    key = "sk-proj-" + "A1b2C3d4" * 6
    text = f"upstream said {key}"
    assert policy.scrub_text(text) == text  # formats off: clean, remembered as such
    policy.patterns = True
    assert key not in policy.scrub_text(text)


def test_a_masked_text_is_counted_on_every_scrub() -> None:
    counted: list[str] = []
    policy = RedactionPolicy(on_redact=counted.append)
    policy.add(CANARY)
    for _ in range(3):
        assert policy.scrub_text(f"x {CANARY} y") == f"x {MASK} y"
    assert counted == ["value"] * 3


class _Liar(str):
    """Equal to every string, hashed as the clean text it imitates."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash(LOCATOR)


def test_a_string_subclass_claiming_equality_is_still_scanned() -> None:
    policy = RedactionPolicy()
    policy.add(CANARY)
    assert policy.scrub_text(LOCATOR) == LOCATOR  # remembered as clean
    liar = _Liar(f"{LOCATOR} {CANARY}")
    assert CANARY not in policy.scrub_text(liar)
    # Nor is a liar remembered, to vouch for other texts later.
    assert CANARY not in policy.scrub_text(f"{LOCATOR} {CANARY}")


def test_the_remembered_texts_are_bounded() -> None:
    policy = RedactionPolicy()
    for number in range(_CleanTexts.LIMIT * 2 + 7):
        policy.scrub_text(f"text {number}")
    assert len(policy._clean.texts) <= _CleanTexts.LIMIT
    long_text = "a" * (_CleanTexts.LONGEST + 1)
    policy.scrub_text(long_text)
    assert long_text not in policy._clean.texts


def test_a_value_learnt_while_other_threads_scrub_is_never_missed_afterwards() -> None:
    policy = RedactionPolicy()
    texts = [f"{LOCATOR} {number} {CANARY}" for number in range(50)]
    stop = threading.Event()

    def scrub_forever() -> None:
        while not stop.is_set():
            for text in texts:
                policy.scrub_text(text)

    threads = [threading.Thread(target=scrub_forever) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        policy.add(CANARY)
        # Once add() has returned, no scrub may return the value, whatever was remembered.
        for _ in range(20):
            for text in texts:
                assert CANARY not in policy.scrub_text(text)
    finally:
        stop.set()
        for thread in threads:
            thread.join()


@given(prefix=st.text(max_size=30), suffix=st.text(max_size=30))
def test_remembering_never_changes_what_a_scrub_returns(prefix: str, suffix: str) -> None:
    remembering = RedactionPolicy()
    remembering.add(CANARY)
    text = f"{prefix}{CANARY}{suffix}"
    first = remembering.scrub_text(text)
    fresh = RedactionPolicy()
    fresh.add(CANARY)
    assert remembering.scrub_text(text) == first == fresh.scrub_text(text)
    assert remembering.scrub_text(prefix) == fresh.scrub_text(prefix)
    assert remembering.scrub_text(prefix) == fresh.scrub_text(prefix)
