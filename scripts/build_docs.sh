#!/usr/bin/env bash
# Build the documentation site, strictly: a broken link, anchor or API reference fails.
#
#   scripts/build_docs.sh [SITE_DIR]    build into SITE_DIR (default: site, in the repository),
#                                       and print the time it took
#   scripts/build_docs.sh serve [ARGS]  serve it at http://127.0.0.1:8000, rebuilt on each
#                                       change (ARGS go to mkdocs serve)
#
# The tools live in a virtual environment of their own, .venv-docs, made again whenever
# docs/requirements.txt or the Python running it changes.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds_since() {
    local ms=$((($(date +%s%N) - $1) / 1000000))
    printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

venv=.venv-docs
requirements=docs/requirements.txt
wanted=$({ cat "$requirements"; python3 --version; } | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/mkdocs" ] || [ "$(cat "$venv/requirements.sha256" 2>/dev/null)" != "$wanted" ]; then
    echo "setting up the docs tools in $venv" >&2
    start=$(date +%s%N)
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" >"$venv/requirements.sha256"
    echo "docs tools set up in $(seconds_since "$start") s" >&2
fi

# Material's notice about its end of life, printed at every run.
export NO_MKDOCS_2_WARNING=1
if [ "${1:-}" = serve ]; then
    shift
    exec "$venv/bin/mkdocs" serve "$@"
fi

site_dir=${1:-site}
start=$(date +%s%N)
"$venv/bin/mkdocs" build --strict --site-dir "$site_dir"
echo "docs site built in $(seconds_since "$start") s: $site_dir"
