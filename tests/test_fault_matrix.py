"""The fault matrix in docs/reliability.md holds: every cell, run again, gives the same outcome.

Each remote source (vault, aws, azure) meets each fault on its real server through a fault
proxy, cold and warm; the whole-process faults (collector down, the journal's disk full) run
in a child process. Times are not compared, only bounded: a cell past the liveness bound is a
hang. A changed outcome fails with the command that regenerates the page; whether a cell keeps
the failure policy is the page's "rule kept" column, compared like every other outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_matrix import (
    DOC,
    FAULTS,
    LIVENESS,
    PROCESS_COLUMNS,
    PROCESS_FAULTS,
    REGENERATE,
    SOURCE_COLUMNS,
    SOURCES,
    OtherHost,
    Row,
    Servers,
    backend,
    committed_rows,
    difference,
    parse,
    render,
    run_cell,
    run_process_cell,
    write_config,
)

from abstractcore_secrets.testing import AzureKeyVaultEmulator

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def committed() -> dict[str, Row]:
    """The rows of the committed page, by key (``vault/hanging``, ``process/...``)."""
    return committed_rows()


@pytest.fixture(scope="module")
def other_host() -> Iterator[OtherHost]:
    """The plain-http host the Vault and AWS redirects point at."""
    host = OtherHost()
    yield host
    host.close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[AzureKeyVaultEmulator]:
    with AzureKeyVaultEmulator() as keyvault:
        yield keyvault


@pytest.fixture
def servers(openbao, moto_server, aws_admin, emulator, other_host) -> Servers:
    """Every real server, with moto's credentials in the environment (``aws_admin``)."""
    return Servers(openbao, moto_server, aws_admin, emulator, other_host)


def seconds_of(row: Row) -> list[float]:
    columns = PROCESS_COLUMNS if row.key.startswith("process/") else SOURCE_COLUMNS
    return [float(cell) for cell, column in zip(row.cells, columns, strict=True) if column.timed]


class TestSourceCells:
    @pytest.mark.parametrize("fault", FAULTS, ids=[fault.id for fault in FAULTS])
    @pytest.mark.parametrize("source", SOURCES)
    def test_outcome_is_the_page(self, servers, committed, tmp_path: Path, source, fault):
        """The source meets the fault, cold and warm, as the page says, and never hangs."""
        with backend(source, servers, tmp_path) as under_test:
            row = run_cell(under_test, fault, write_config(tmp_path))
        assert "hung" not in row.cells, f"{row.key} ran past {LIVENESS:g} s: {row.cells}"
        assert max(seconds_of(row)) < LIVENESS
        assert (problem := difference(row, committed)) is None, problem


class TestProcessCells:
    @pytest.mark.parametrize("fault", PROCESS_FAULTS, ids=[fault.id for fault in PROCESS_FAULTS])
    def test_outcome_is_the_page(self, openbao, committed, tmp_path: Path, fault):
        """A whole application meets the fault as the page says, within the liveness bound."""
        row = run_process_cell(fault, openbao, tmp_path)
        assert "hung" not in row.cells, f"{row.key} ran past {LIVENESS:g} s: {row.cells}"
        assert sum(seconds_of(row)) < LIVENESS
        assert (problem := difference(row, committed)) is None, problem


class TestPage:
    def test_lists_every_cell_of_the_matrix_once(self, committed):
        """The page has one row per source and fault, and one per whole-process fault."""
        expected = {f"{source}/{fault.id}" for source in SOURCES for fault in FAULTS}
        expected |= {f"process/{fault.id}" for fault in PROCESS_FAULTS}
        assert set(committed) == expected, f"regenerate {DOC.name} with: {REGENERATE}"

    def test_text_is_what_the_generator_writes(self):
        """Header, rules and tables are rendered from the generator's current text."""
        text = DOC.read_text(encoding="utf-8")
        source_rows, process_rows = parse(text)
        assert render(source_rows, process_rows) == text, (
            f"{DOC.name} was edited by hand or is out of date; regenerate it with: {REGENERATE}"
        )
