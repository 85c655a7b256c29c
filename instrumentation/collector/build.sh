#!/usr/bin/env bash
# Build otelcol-abstractcore from builder-config.yaml with the collector's own builder (ocb)
# at the manifest's release, and print the binary's path on stdout.
#
# The binary is cached in a folder keyed by a hash of everything that goes into it (the
# manifest, the journal receiver's sources, the Go version): a second run prints the cached
# path at once. Cache root: $ABSTRACTCORE_COLLECTOR_CACHE, default ~/.cache/abstractcore-secrets/otelcol.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
release="v0.161.0"

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh needs Go (1.24 or newer) and the Go module proxy" >&2
    exit 1
fi
cache_root="${ABSTRACTCORE_COLLECTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/abstractcore-secrets/otelcol}"
key="$(
    cd "$here"
    {
        cat builder-config.yaml
        find journalreceiver -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) \
            | LC_ALL=C sort | while read -r file; do echo "$file"; cat "$file"; done
        go version
    } | sha256sum | cut -c1-16
)"
binary="$cache_root/$key/otelcol-abstractcore"
if [ -x "$binary" ]; then
    echo "$binary"
    exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
flock 9  # one build at a time; a concurrent run waits, then finds the binary
if [ -x "$binary" ]; then
    echo "$binary"
    exit 0
fi
work="$(mktemp -d "$cache_root/.build-XXXXXX")"
trap 'rm -rf "$work"' EXIT

started=$SECONDS
echo "building otelcol-abstractcore $release (first time for this manifest; a few minutes)" >&2
GOBIN="$cache_root/builder-$release" go install "go.opentelemetry.io/collector/cmd/builder@$release" >&2
sed -e "s#^  version: .*#&\n  output_path: $work/src#" \
    -e "s#path: \./journalreceiver#path: $here/journalreceiver#" \
    "$here/builder-config.yaml" >"$work/manifest.yaml"
if ! "$cache_root/builder-$release/builder" --config "$work/manifest.yaml" >"$work/build.log" 2>&1; then
    grep -v '^go: downloading' "$work/build.log" | tail -40 >&2
    echo "collector build failed (full log above, last 40 lines)" >&2
    exit 1
fi
mkdir -p "$(dirname "$binary")"
mv "$work/src/otelcol-abstractcore" "$binary.partial"
mv "$binary.partial" "$binary"
echo "built in $((SECONDS - started)) s: $binary" >&2
# Keep the three newest builds (about 50 MB each).
find "$cache_root" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9a-f]{16}' \
    -printf '%T@ %p\n' | sort -rn | tail -n +4 | cut -d' ' -f2- | xargs -r rm -rf
echo "$binary"
