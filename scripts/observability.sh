#!/usr/bin/env bash
# Run the observability stack on loopback with a workload: OpenBao, our collector (built on
# first use, then cached), Prometheus with our rules and Alertmanager with our routing.
# Prints where to look; Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "needs Debian's ${missing[*]}: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import abstractcore_secrets, hvac, opentelemetry.sdk' 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[all,dev]'
fi
binary="$(instrumentation/collector/build.sh)"
exec .venv/bin/python scripts/observability_stack.py "$binary"
