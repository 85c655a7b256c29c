"""The docs' examples are tests (see the root conftest.py): what keeps that promise true.

Every fenced block is of a language that runs or is declared as shown only, so that a block
written as ```sh or ```py does not silently escape; every skip gives its reason, and the
skips are the ones listed here, so that a new one is a decision, not a way round a failure.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
RUN = {"python", "bash", "console", "json", "toml"}
SHOWN = {"text", "hcl"}
FENCE = re.compile(r"^```(\S*)", re.MULTILINE)
SKIP = re.compile(r"<!--\s*skip:\s*(\w+)\s*(.*?)\s*-->", re.DOTALL)

ALLOWED_SKIPS = {
    ("README.md", "the test script itself"),
    ("README.md", "installs into your environment; the test script"),
    ("README.md", "builds into dist/"),
    ("docs/observability.md", "a collector that runs until stopped"),
    ("docs/compliance.md", "a collector that runs until stopped"),
    ("docs/sources/aws.md", "the AWS CLI is not installed here"),
    ("docs/sources/azure.md", "the Azure CLI is not installed here"),
}


def _name(document: Path) -> str:
    return document.relative_to(ROOT).as_posix()


def test_the_documents_are_found() -> None:
    names = {_name(document) for document in DOCUMENTS}
    assert {"README.md", "docs/configuration.md", "docs/sources/vault.md"} <= names


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_every_block_runs_or_is_declared_shown(document: Path) -> None:
    text = document.read_text()
    opening = FENCE.findall(text)[::2]  # fences alternate: opening, closing
    assert all(language in RUN | SHOWN for language in opening), (
        f"{_name(document)}: blocks of languages {sorted(set(opening) - RUN - SHOWN)} "
        f"are neither run ({sorted(RUN)}) nor declared shown ({sorted(SHOWN)})"
    )


def test_every_skip_is_listed_with_its_reason() -> None:
    found = set()
    for document in DOCUMENTS:
        for action, reason in SKIP.findall(document.read_text()):
            assert action == "next", f"{_name(document)}: skip only the next example"
            assert reason.startswith('"'), f"{_name(document)}: a skip says why, in quotes"
            assert len(reason) > 20, f"{_name(document)}: a skip says why: {reason!r}"
            listed = [
                allowed
                for allowed in ALLOWED_SKIPS
                if allowed[0] == _name(document) and allowed[1] in reason
            ]
            assert listed, f"{_name(document)}: skip {reason} is not in ALLOWED_SKIPS"
            found.add(listed[0])
    assert found == ALLOWED_SKIPS, f"listed skips no longer in the docs: {ALLOWED_SKIPS - found}"
