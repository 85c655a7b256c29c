#!/usr/bin/env bash
# Set up the package and run the demo: the resolver chain on an embedded, offline setup.
# The package, with the extras the demo shows (the journal, OTLP, Vault, httpx), is installed
# into .venv on the first run, and again only when pyproject.toml or this script changed
# (the install is editable: the code itself is read from the clone).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

stamp=.venv/.demo-installed
wanted="$(cat pyproject.toml scripts/demo.sh | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        -e '.[journal,otlp,vault,httpx]'
    echo "$wanted" > "$stamp"
fi
exec .venv/bin/abstractcore-secrets demo "$@"
