#!/usr/bin/env bash
# Refresh requirements/test.lock: the exact version of every package the tests install (the
# project's extras all and dev, and what they pull in), which scripts/test.sh installs as
# constraints. Run it on purpose, look at the diff, run the tests, commit both.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

tools=.venv-tools
if [ ! -x "$tools/bin/pip-compile" ]; then
    python3 -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check 'pip-tools==7.6.2'
fi
"$tools/bin/pip-compile" --quiet --strip-extras --allow-unsafe --no-emit-index-url \
    --no-emit-find-links --extra all --extra dev \
    --output-file requirements/test.lock pyproject.toml
# The project names itself (its extra "all" is made of its other extras): a line holding this
# clone's path, which no other machine has, and which test.sh installs from the clone anyway.
python3 - <<'PYTHON'
from pathlib import Path

lock = Path("requirements/test.lock")
lines = lock.read_text().splitlines(keepends=True)
kept, skipping = [], False
for line in lines:
    if line.startswith("abstractcore-secrets @ "):
        skipping = True
        continue
    if skipping and line.startswith("    "):
        continue
    skipping = False
    kept.append(line)
lock.write_text("".join(kept))
PYTHON
echo "requirements/test.lock refreshed: review the diff, run ./scripts/test.sh, commit both"
