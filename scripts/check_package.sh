#!/usr/bin/env bash
# Check the package as users get it: build the sdist and the wheel, check them (twine,
# check-wheel-contents, no virtual environment or cache in the sdist), then install the wheel
# into fresh virtual environments, with no extras and with each extra its METADATA declares,
# and there run `--version`, `status` (with an empty home), an import that must load no cloud
# or OTel SDK, and the demo. Measures the wheel and the installed sizes, and writes a
# CycloneDX SBOM of the wheel with its dependencies (the `all` environment).
#
# Usage: scripts/check_package.sh [OUT]
#   OUT (default dist/) receives the sdist, the wheel, abstractcore-secrets.cdx.json (the SBOM)
#   and check-package.json (what was checked, sizes, each environment's results).
#        scripts/check_package.sh --wheel WHEEL...
#   Only check-wheel-contents, as the full check runs it, on the wheels given.
# Its tools (build, twine, check-wheel-contents, cyclonedx-bom) go into a virtual environment
# of their own; everything but OUT lives in a temporary folder removed at exit. PYTHON
# chooses the interpreter (python3 by default). If an interpreter of the oldest Python the
# package declares is found, the wheel is installed and run there too (no extras).
set -euo pipefail
wheels=()
if [ "${1:-}" = --wheel ]; then
    shift
    if [ "$#" -eq 0 ]; then
        echo "usage: scripts/check_package.sh --wheel WHEEL..." >&2
        exit 2
    fi
    for given in "$@"; do
        wheels+=("$(readlink -f "$given")")
    done
fi
cd "$(dirname "$(readlink -f "$0")")/.."
python="${PYTHON:-python3}"
started=$SECONDS

work="$(mktemp -d "${TMPDIR:-/tmp}/check-package.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/dist" "$work/logs" "$work/wheelhouse"

step() { printf '\n== %s (%ss)\n' "$1" "$((SECONDS - started))"; }

tools="$work/tools"
"$python" -m venv "$tools"
tool() { "$tools/bin/python" "$@"; }
tool -m pip install --quiet --disable-pip-version-check 'check-wheel-contents==0.6.3'

# The wheel holds the package's tree, and only it: --package compares the wheel with the
# source tree (a module missing from the wheel is W101, a file the tree lacks W102), and
# --toplevel allows no other top-level name (W201, W202); empty wheels are W007 and W008.
check_wheel_contents() {
    "$tools/bin/check-wheel-contents" --toplevel abstractcore_secrets \
        --package abstractcore_secrets "$@"
}
if [ "${#wheels[@]}" -gt 0 ]; then
    check_wheel_contents "${wheels[@]}"
    exit
fi

out="${1:-dist}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# Extras with no environment of their own, and why. The proposal's secrets-* names are not
# installed either: the report checks in METADATA that each requires exactly what its
# namesake (secrets-vault: vault) requires.
declare -A skipped=(
    [dev]="the test suite's tools, not a user's install: scripts/test.sh installs it"
    [abstractcore]="AbstractCore's whole dependency tree (document, speech and media stacks):
scripts/test.sh installs AbstractCore without it and tests the integration"
)

step "tools: build, twine, cyclonedx-bom"
tool -m pip install --quiet --disable-pip-version-check \
    'build==1.6.1' 'twine==7.0.0' 'cyclonedx-bom==7.5.0'

step "build: sdist, then the wheel from the sdist"
tool -m build --outdir "$work/dist" . >"$work/logs/build.txt" 2>&1 || {
    cat "$work/logs/build.txt" >&2
    exit 1
}
sdist="$(echo "$work"/dist/*.tar.gz)"
wheel="$(echo "$work"/dist/*.whl)"
for built in "$sdist" "$wheel"; do
    printf '%s: %s bytes\n' "${built##*/}" "$(stat -c %s "$built")"
done

# A check that fails is reported at the end, with the others: one run shows every problem.
checked_by() {
    local name=$1 rc=0
    shift
    "$@" >"$work/logs/$name.txt" 2>&1 || rc=$?
    echo "$rc" >"$work/logs/$name.rc"
    cat "$work/logs/$name.txt"
}

step "twine check --strict"
checked_by twine "$tools/bin/twine" check --strict "$sdist" "$wheel"

step "check-wheel-contents: the wheel holds the package's tree, and only it"
checked_by check-wheel-contents check_wheel_contents "$wheel"

step "the sdist holds no virtual environment, cache or bytecode"
checked_by sdist-contents tool - "$sdist" <<'PYTHON'
import re
import sys
import tarfile

unwanted = re.compile(r"(^|/)(pyvenv\.cfg|__pycache__|\.venv[^/]*|\.[^/]*cache|[^/]*\.py[co])(/|$)")
with tarfile.open(sys.argv[1]) as sdist:
    names = sdist.getnames()
found = sorted({match.group(2) for name in names if (match := unwanted.search(name))})
if found:
    sys.exit(f"the sdist holds {', '.join(found)}: set [tool.hatch.build.targets.sdist] include")
print(f"{len(names)} members")
PYTHON

step "plan: extras from the wheel's METADATA"
skipped_lines="$(for name in "${!skipped[@]}"; do
    printf '%s\t%s\n' "$name" "${skipped[$name]//$'\n'/ }"
done)"
tool - "$wheel" "$work/plan.json" "$skipped_lines" <<'PYTHON'
import json
import os
import re
import sys
import zipfile
from email.parser import HeaderParser

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

wheel, plan_path, skipped_lines = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
    metadata = HeaderParser().parsestr(archive.read(name).decode())
extras = metadata.get_all("Provides-Extra") or []
requirements = [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]


def needs(extra):
    return sorted(
        canonicalize_name(r.name)
        for r in requirements
        if r.marker is not None and r.marker.evaluate({"extra": extra})
    )


skipped = dict(line.split("\t", 1) for line in skipped_lines.splitlines() if line)
aliases = {e: e.removeprefix("secrets-") for e in extras if e.startswith("secrets-")}
plan = {
    "name": metadata["Name"],
    "version": metadata["Version"],
    "requires_python": metadata["Requires-Python"],
    "extras": {e: needs(e) for e in extras},
    "aliases": aliases,
    "skipped": {e: reason for e, reason in skipped.items() if e in extras},
    "checked": [e for e in extras if e not in skipped and e not in aliases],
}
with open(plan_path, "w") as file:
    json.dump(plan, file, indent=2)
folder = os.path.dirname(plan_path)
with open(os.path.join(folder, "checked.txt"), "w") as file:
    file.writelines(extra + "\n" for extra in plan["checked"])
with open(os.path.join(folder, "oldest.txt"), "w") as file:
    file.write(re.search(r">=\s*(\d+\.\d+)", plan["requires_python"]).group(1) + "\n")
print(f"{plan['name']} {plan['version']}: environments for no extras and {plan['checked']}")
print(f"aliases checked in METADATA: {aliases}; skipped: {sorted(plan['skipped'])}")
PYTHON
mapfile -t checked <"$work/checked.txt"
oldest="$(cat "$work/oldest.txt")"

step "wheelhouse: one download for every environment"
# The tests' pinned versions when the lock is there (TEST_UNLOCKED=1: the newest, as test.sh).
constraints=()
if [ -f requirements/test.lock ] && [ "${TEST_UNLOCKED:-}" != 1 ]; then
    constraints=(--constraint requirements/test.lock)
fi
all_extras="$(IFS=,; echo "${checked[*]}")"
tool -m pip download --quiet --disable-pip-version-check --dest "$work/wheelhouse" \
    "${constraints[@]}" "$wheel${all_extras:+[$all_extras]}"
echo "$(find "$work/wheelhouse" -name '*.whl' | wc -l) wheels"

# Run a command in an environment as a user would: its bin first on PATH, an empty home, a
# working directory outside the clone (so that `import` finds the installed package), and
# nothing else of the caller's environment (no key, no config, no PYTHONPATH).
in_env() {
    local venv=$1 home=$2
    shift 2
    (cd "$home" && env -i PATH="$venv/bin:/usr/bin:/bin" HOME="$home" LANG=C.UTF-8 "$@")
}

check_env() {
    local label=$1 interpreter=$2 extras=$3 index=$4
    local venv="$work/env-$label" home="$work/home-$label" log="$work/logs/$label"
    local begun rc
    begun=$(date +%s%N)
    mkdir -p "$home" "$log"
    printf '%s' "$extras" >"$log/extras"
    "$interpreter" -m venv --without-pip "$venv"
    local sources=(--no-index --find-links "$work/wheelhouse")
    if [ "$index" = index ]; then
        sources=(--find-links "$work/wheelhouse")  # another Python: its own binary wheels
    fi
    rc=0
    tool -m pip --python "$venv/bin/python" install --quiet --disable-pip-version-check \
        "${sources[@]}" "$wheel${extras:+[$extras]}" >"$log/install.txt" 2>&1 || rc=$?
    echo "$rc" >"$log/install.rc"
    if [ "$rc" -ne 0 ]; then
        cat "$log/install.txt" >&2
        return 0
    fi
    du -sb "$venv"/lib/python*/site-packages | cut -f1 >"$log/site_packages_bytes"
    "$venv/bin/python" -c 'import platform; print(platform.python_version())' >"$log/python"
    for command in version status; do
        rc=0
        if [ "$command" = version ]; then
            in_env "$venv" "$home" abstractcore-secrets --version >"$log/$command.txt" 2>&1 || rc=$?
        else
            in_env "$venv" "$home" abstractcore-secrets status >"$log/$command.txt" 2>&1 || rc=$?
        fi
        echo "$rc" >"$log/$command.rc"
    done
    rc=0
    in_env "$venv" "$home" python -c '
import json, sys
import abstractcore_secrets

heavy = ("boto3", "botocore", "hvac", "azure", "opentelemetry.sdk")
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
import importlib.metadata, importlib.util, re
installed = [h for h in heavy if importlib.util.find_spec(h) is not None]
distributions = sorted(
    re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in importlib.metadata.distributions()
)
print(json.dumps({"file": abstractcore_secrets.__file__, "loaded": loaded,
                  "installed": installed, "distributions": distributions}))
' >"$log/import.json" 2>"$log/import.err" || rc=$?
    echo "$rc" >"$log/import.rc"
    rc=0
    in_env "$venv" "$home" abstractcore-secrets demo >"$log/demo.txt" 2>&1 || rc=$?
    echo "$rc" >"$log/demo.rc"
    echo $((($(date +%s%N) - begun) / 1000000)) >"$log/milliseconds"
    printf '%-14s installed %s bytes in %s ms\n' "$label" \
        "$(cat "$log/site_packages_bytes")" "$(cat "$log/milliseconds")"
}

step "environments: no extras, then each extra"
check_env none "$python" "" wheelhouse
for extra in "${checked[@]}"; do
    check_env "$extra" "$python" "$extra" wheelhouse
done

step "the oldest Python declared ($oldest)"
oldest_python="$(command -v "python$oldest" || true)"
# A pyenv shim is on PATH even when its version is not selected, and then fails: ask pyenv.
if ! "${oldest_python:-false}" -c '' >/dev/null 2>&1; then
    oldest_python=""
    if command -v pyenv >/dev/null 2>&1; then
        oldest_python="$(find "$(pyenv root)/versions" -maxdepth 3 \
            -path "*/versions/$oldest.*/bin/python$oldest" 2>/dev/null | sort -V | tail -n 1)"
    fi
fi
if [ -n "$oldest_python" ]; then
    check_env oldest "$oldest_python" "" index
else
    echo "no python$oldest found: the wheel is checked on $("$python" -V 2>&1) only"
fi

step "SBOM: the wheel and its dependencies (the all environment)"
sbom_env="$work/env-all"
[ -d "$sbom_env" ] || sbom_env="$work/env-none"
sbom="$work/dist/abstractcore-secrets.cdx.json"
rc=0
"$tools/bin/cyclonedx-py" environment --output-reproducible --validate --of JSON \
    -o "$sbom" "$sbom_env/bin/python" >"$work/logs/sbom.txt" 2>&1 || rc=$?
if [ "$rc" -eq 0 ]; then
    # The environment holds the wheel and what it pulled in: make the wheel the SBOM's subject
    # (metadata.component), name its file without this run's temporary path (its SHA-256 stays),
    # and validate the result against the CycloneDX schema again.
    tool - "$sbom" "$(basename "$wheel")" >>"$work/logs/sbom.txt" 2>&1 <<'PYTHON' || rc=$?
import json
import sys

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

path, wheel_name = sys.argv[1:]
with open(path) as file:
    document = json.load(file)
[subject] = [c for c in document["components"] if c["name"] == "abstractcore-secrets"]
document["components"].remove(subject)
for reference in subject.get("externalReferences", []):
    if reference.get("url", "").startswith("file:"):
        reference["url"] = wheel_name
document["metadata"]["component"] = subject
text = json.dumps(document, indent=2, sort_keys=True) + "\n"
validator = JsonStrictValidator(SchemaVersion.from_version(document["specVersion"]))
error = validator.validate_str(text)
if error is not None:
    sys.exit(f"the SBOM is not valid CycloneDX: {error}")
with open(path, "w") as file:
    file.write(text)
PYTHON
fi
echo "$rc" >"$work/logs/sbom.rc"

step "report"
cp "$sdist" "$wheel" "$out/"
if [ -f "$sbom" ]; then
    cp "$sbom" "$out/"
fi
tool - "$work" "$out" "$((SECONDS - started))" <<'PYTHON'
import json
import re
import sys
from pathlib import Path

work, out, seconds = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
plan = json.loads((work / "plan.json").read_text())
wheel = next((work / "dist").glob("*.whl"))
sdist = next((work / "dist").glob("*.tar.gz"))
problems = []
hint = re.compile(r"install '" + re.escape(plan["name"]) + r"\[([^\]]+)\]'")


def read(path, default=None):
    return path.read_text().strip() if path.exists() else default


def tail(path, lines=8):
    """The end of a log, indented under the problem it explains (the logs go at exit)."""
    kept = (read(path) or "").splitlines()[-lines:]
    return "".join(f"\n    {line}" for line in kept)


checks = {}
for name in ("twine", "check-wheel-contents", "sdist-contents"):
    checks[name] = int(read(work / "logs" / f"{name}.rc"))
    if checks[name] != 0:
        problems.append(f"{name} failed:{tail(work / 'logs' / f'{name}.txt')}")

environments = {}
for log in sorted((work / "logs").iterdir()):
    if not log.is_dir():
        continue
    label = log.name
    extras = [e for e in read(log / "extras", "").split(",") if e]
    env = {"extras": extras, "install_exit": int(read(log / "install.rc"))}
    environments[label] = env
    if env["install_exit"] != 0:
        problems.append(f"{label}: pip install failed{tail(log / 'install.txt')}")
        continue
    imported = json.loads(read(log / "import.json") or "{}")
    env.update(
        python=read(log / "python"),
        version_output=read(log / "version.txt"),
        version_exit=int(read(log / "version.rc")),
        status_exit=int(read(log / "status.rc")),
        import_exit=int(read(log / "import.rc")),
        imported_from=imported.get("file"),
        sdks_imported=imported.get("loaded"),
        sdks_installed=imported.get("installed"),
        distributions=imported.get("distributions", []),
        site_packages_bytes=int(read(log / "site_packages_bytes")),
        seconds=int(read(log / "milliseconds")) / 1000,
    )
    expected = f"{plan['name']}, version {plan['version']}"
    if (env["version_exit"], env["version_output"]) != (0, expected):
        problems.append(f"{label}: --version printed {env['version_output']!r}")
    if env["status_exit"] != 0:
        problems.append(
            f"{label}: status exited {env['status_exit']} with an empty home"
            + tail(log / "status.txt")
        )
    if env["import_exit"] != 0 or env["sdks_imported"]:
        problems.append(
            f"{label}: import loaded {env['sdks_imported']} (or failed)" + tail(log / "import.err")
        )
    if env["imported_from"] and f"env-{label}" not in env["imported_from"]:
        problems.append(f"{label}: imported the package from {env['imported_from']}")
    if (log / "demo.rc").exists():
        env["demo_exit"] = int(read(log / "demo.rc"))
        env["demo_install_hints"] = sorted(set(hint.findall(read(log / "demo.txt"))))
        if env["demo_exit"] != 0:
            problems.append(f"{label}: demo exited {env['demo_exit']}{tail(log / 'demo.txt')}")

# The demo's hints: with no extras, at least one, each a declared extra; with extras, exactly
# those whose packages the environment lacks (a step that could run says "install" no more).
needs_of = plan["extras"]
demo_uses = environments.get("none", {}).get("demo_install_hints", [])
if "none" in environments and not demo_uses:
    problems.append("none: the demo named no extra to install")
for extra in demo_uses:
    if extra not in needs_of:
        problems.append(f"none: the demo names an extra that does not exist: {extra}")
for label, env in environments.items():
    if label == "none" or "demo_install_hints" not in env:
        continue
    have = set(env["distributions"])
    wanted = sorted(e for e in demo_uses if not set(needs_of.get(e, [])) <= have)
    if env["demo_install_hints"] != wanted:
        problems.append(f"{label}: the demo asked for {env['demo_install_hints']}, not {wanted}")

for alias, target in plan["aliases"].items():
    if needs_of.get(alias) != needs_of.get(target):
        problems.append(f"{alias} requires {needs_of.get(alias)}, {target} {needs_of.get(target)}")

sbom_path = work / "dist" / "abstractcore-secrets.cdx.json"
sbom = {"path": str(out / sbom_path.name), "exit": int(read(work / "logs" / "sbom.rc"))}
if sbom["exit"] != 0 or not sbom_path.exists():
    problems.append(f"SBOM: cyclonedx-py failed: {read(work / 'logs' / 'sbom.txt')}")
else:
    document = json.loads(sbom_path.read_text())
    main = document.get("metadata", {}).get("component", {})
    versions = {c["name"].lower(): c.get("version") for c in document.get("components", [])}
    sbom.update(
        spec_version=document.get("specVersion"),
        main_component=f"{main.get('name')} {main.get('version')}",
        components=len(versions),
        versions={n: versions.get(n) for n in ("hvac", "boto3", "azure-identity", "click")},
    )
    if (main.get("name"), main.get("version")) != (plan["name"], plan["version"]):
        problems.append(f"SBOM: the main component is {sbom['main_component']}")
    wanted = {"click"} | ({"hvac", "boto3", "azure-identity"} if "all" in environments else set())
    missing = sorted(n for n in wanted if not versions.get(n))
    if missing:
        problems.append(f"SBOM: no version for {missing}")

installed = {k: v.get("site_packages_bytes") for k, v in environments.items()}
report = {
    "package": plan["name"],
    "version": plan["version"],
    "requires_python": plan["requires_python"],
    "seconds": int(seconds),
    "wheel": {"path": str(out / wheel.name), "bytes": wheel.stat().st_size},
    "sdist": {"path": str(out / sdist.name), "bytes": sdist.stat().st_size},
    "checks": checks,
    "installed_bytes": installed,
    "environments": environments,
    "aliases": plan["aliases"],
    "skipped": plan["skipped"],
    "sbom": sbom,
    "problems": problems,
    "ok": not problems,
}
(out / "check-package.json").write_text(json.dumps(report, indent=2) + "\n")


def mib(size):
    return "-" if size is None else f"{size / 2**20:.1f} MiB"


print(f"wheel {wheel.name}: {wheel.stat().st_size} bytes ({mib(wheel.stat().st_size)})")
print(
    f"installed (site-packages): no extras {mib(installed.get('none'))}, "
    f"all {mib(installed.get('all'))}"
)
if "components" in sbom:
    print(f"SBOM {sbom['path']}: {sbom['components']} components, CycloneDX {sbom['spec_version']}")
print(f"report {out / 'check-package.json'}; {seconds} s")
for problem in problems:
    print(f"FAILED: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PYTHON
