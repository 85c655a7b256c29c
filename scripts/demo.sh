#!/usr/bin/env bash
# Set up the package and run the demo: the resolver chain on an embedded, offline setup.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[journal]'
exec .venv/bin/abstractcore-secrets demo "$@"
