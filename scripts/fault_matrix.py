"""Regenerate docs/reliability.md: run the fault matrix against real servers, times included.

Usage: python scripts/fault_matrix.py [--check]

With --check, write nothing: exit 1 if an outcome differs from the committed page.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"


def main() -> int:
    """Run every cell, then write (or check) the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare outcomes, write nothing")
    arguments = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    matrix = importlib.import_module("fault_matrix")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as folder:
        text = matrix.generate(Path(folder), progress=lambda line: print(line, file=sys.stderr))
    print(f"ran the matrix in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    if arguments.check:
        differences = matrix.differences(text)
        for difference in differences:
            print(difference, file=sys.stderr)
        return 1 if differences else 0
    matrix.DOC.write_text(text, encoding="utf-8")
    print(f"wrote {matrix.DOC.relative_to(TESTS.parent)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
