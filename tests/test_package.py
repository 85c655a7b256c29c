"""The package as users get it: scripts/check_package.sh builds the sdist and the wheel, checks
them, installs the wheel into fresh environments (no extras, each extra) and runs it there;
these tests hold its report to what the script promises. The code also parses as the oldest
Python the package declares.

The script takes a minute or two and needs the package index: its tests are marked
``package``. scripts/test.sh runs the script first and passes its report in
``TEST_PACKAGE_REPORT``; without it (or when a source file is newer than the report) the
module runs the script once itself.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomllib

import abstractcore_secrets

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_package.sh"
PACKAGE = ROOT / "abstractcore_secrets"
REPORT_VARIABLE = "TEST_PACKAGE_REPORT"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# "The core stays light" (pyproject.toml), as a number: the installed size with no extras is
# about 5 MiB today (the package, click, structlog, the OTel API, pyahocorasick).
CORE_BUDGET = 10 * 2**20
SDKS = {"boto3", "botocore", "hvac", "azure", "opentelemetry.sdk"}

slow = [pytest.mark.package, pytest.mark.timeout(1500)]


def _fresh(report: Path) -> bool:
    """Whether ``report`` was written after every file that goes into the wheel changed."""
    if not report.is_file():
        return False
    sources = [*PACKAGE.rglob("*.py"), PACKAGE / "py.typed", ROOT / "pyproject.toml", SCRIPT]
    return report.stat().st_mtime >= max(path.stat().st_mtime for path in sources)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The script's report (and, when run here, its exit code and output): one run a module."""
    given = os.environ.get(REPORT_VARIABLE)
    if given and _fresh(Path(given)):
        found = json.loads(Path(given).read_text())
        return {"report": found, "exit": 0 if found["ok"] else 1, "output": ""}
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        ["bash", str(SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    output = done.stdout + done.stderr
    report_path = out / "check-package.json"
    assert report_path.exists(), f"the script stopped before its report:\n{output[-4000:]}"
    return {
        "report": json.loads(report_path.read_text()),
        "exit": done.returncode,
        "output": output,
    }


@pytest.fixture(scope="module")
def report(run: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = run["report"]
    return found


@pytest.fixture(scope="module")
def environments(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = report["environments"]
    return found


class TestCheckPackage:
    """scripts/check_package.sh: the built package, installed and run as users would."""

    pytestmark = slow

    def test_it_passes_with_no_problem(self, run):
        """The script exits 0 and its report lists no problem."""
        assert (run["exit"], run["report"]["problems"]) == (0, []), run["output"][-4000:]

    def test_the_built_files_pass_their_checks(self, report):
        """twine check --strict, check-wheel-contents and the sdist's contents: all exit 0."""
        assert report["checks"] == {"twine": 0, "check-wheel-contents": 0, "sdist-contents": 0}

    def test_it_reports_this_version(self, report):
        """The report is about this package at this version."""
        assert (report["package"], report["version"]) == (
            PROJECT["name"],
            abstractcore_secrets.__version__,
        )

    def test_every_declared_extra_is_installed_or_accounted_for(self, report, environments):
        """Each extra of pyproject.toml has an environment, or is an alias, or says why not."""
        extras = set(PROJECT["optional-dependencies"])
        covered = set(environments) - {"none", "oldest"}
        assert covered | set(report["aliases"]) | set(report["skipped"]) == extras
        assert covered.isdisjoint(report["skipped"])
        assert {"vault", "aws", "azure", "otlp", "journal", "all"} <= covered
        assert all(len(reason) > 20 for reason in report["skipped"].values())

    def test_aliases_name_extras_of_the_proposal(self, report):
        """Each secrets-* extra stands for the extra of the same name without the prefix."""
        assert report["aliases"] == {
            f"secrets-{name}": name for name in ("vault", "aws", "azure", "all")
        }

    def test_every_environment_prints_the_version_and_a_status(self, environments):
        """--version prints this version, and status exits 0 with an empty home, everywhere."""
        expected = f"abstractcore-secrets, version {abstractcore_secrets.__version__}"
        assert {
            label: (env["install_exit"], env["version_output"], env["status_exit"])
            for label, env in environments.items()
        } == dict.fromkeys(environments, (0, expected, 0))

    def test_the_installed_package_is_imported_not_the_clone(self, environments):
        """Each environment imports the package from its own site-packages."""
        for label, env in environments.items():
            assert f"/env-{label}/lib/" in env["imported_from"], label
            assert "site-packages" in env["imported_from"], label

    def test_no_sdk_is_imported_even_where_installed(self, environments):
        """Importing the package loads no cloud SDK and no OTel SDK, with all of them there."""
        assert set(environments["all"]["sdks_installed"]) == SDKS
        assert environments["none"]["sdks_installed"] == []
        loaded = {label: env["sdks_imported"] for label, env in environments.items()}
        assert {label: sdks for label, sdks in loaded.items() if sdks} == {}

    def test_the_demo_runs_everywhere(self, environments):
        """The demo exits 0 with no extras, with each extra, and on the oldest Python."""
        exits = {label: env["demo_exit"] for label, env in environments.items()}
        assert exits == dict.fromkeys(environments, 0)

    def test_the_demo_without_extras_names_what_to_install(self, environments):
        """With no extras, the steps that need one say which (each a declared extra)."""
        hints = environments["none"]["demo_install_hints"]
        assert {"vault", "journal", "otlp"} <= set(hints)
        assert set(hints) <= set(PROJECT["optional-dependencies"])

    def test_the_demo_with_an_extra_no_longer_asks_for_it(self, environments):
        """Where an extra is installed, the demo runs its step instead of naming it."""
        for extra in ("vault", "journal", "otlp"):
            assert extra not in environments[extra]["demo_install_hints"], extra
            assert extra not in environments["all"]["demo_install_hints"], extra

    def test_sizes_are_measured_and_the_core_stays_light(self, report):
        """The wheel's bytes and the installed sizes: no extras under budget, all above it."""
        installed = report["installed_bytes"]
        assert 0 < report["wheel"]["bytes"] < 2**20
        assert report["wheel"]["bytes"] < installed["none"] < CORE_BUDGET
        extras = {
            label: size for label, size in installed.items() if label not in {"none", "oldest"}
        }
        assert installed["none"] < min(extras.values())
        assert installed["all"] > CORE_BUDGET

    def test_the_sbom_lists_the_wheel_and_its_dependencies(self, report):
        """The SBOM is CycloneDX JSON about this wheel, with each dependency and its version."""
        text = Path(report["sbom"]["path"]).read_text()
        sbom = json.loads(text)
        subject = sbom["metadata"]["component"]
        assert (sbom["bomFormat"], subject["name"], subject["version"]) == (
            "CycloneDX",
            "abstractcore-secrets",
            abstractcore_secrets.__version__,
        )
        versions = {c["name"].lower(): c.get("version") for c in sbom["components"]}
        for name in ("hvac", "boto3", "azure-identity", "opentelemetry-sdk", "cryptography"):
            assert versions.get(name), name
        assert len(versions) == report["sbom"]["components"]

    def test_the_sbom_names_the_wheel_by_its_file_and_hash(self, report):
        """The wheel's reference is its file name and SHA-256, never this run's folder."""
        text = Path(report["sbom"]["path"]).read_text()
        reference = json.loads(text)["metadata"]["component"]["externalReferences"][0]
        assert reference["url"] == Path(report["wheel"]["path"]).name
        assert reference["hashes"][0]["alg"] == "SHA-256"
        assert "file:" not in text
        assert "check-package." not in text


class TestOldestPython:
    """The code parses as the oldest Python declared, and runs there when one is at hand."""

    @staticmethod
    def oldest() -> tuple[int, int]:
        found = re.fullmatch(r">=\s*3\.(\d+)", PROJECT["requires-python"])
        assert found, PROJECT["requires-python"]
        return (3, int(found.group(1)))

    def test_every_module_parses_as_the_oldest_python_declared(self):
        """ast.parse with feature_version set to requires-python's floor accepts every module."""
        failures = {}
        for path in sorted(PACKAGE.rglob("*.py")):
            try:
                ast.parse(path.read_text(), str(path), feature_version=self.oldest())
            except SyntaxError as error:
                failures[str(path.relative_to(ROOT))] = f"line {error.lineno}: {error.msg}"
        assert failures == {}

    def test_the_parse_check_would_catch_newer_syntax(self):
        """The same check refuses syntax newer than the floor (except*, from 3.11)."""
        if self.oldest() >= (3, 11):
            pytest.skip("the floor already has except*")
        newer = "try:\n    pass\nexcept* ValueError:\n    pass\n"
        with pytest.raises(SyntaxError):
            ast.parse(newer, feature_version=self.oldest())

    @pytest.mark.package
    @pytest.mark.timeout(1500)
    def test_the_wheel_runs_on_the_oldest_python(self, environments):
        """Where that Python is found, the wheel installs, imports and runs its CLI there."""
        if "oldest" not in environments:
            pytest.skip(f"no Python {'.'.join(map(str, self.oldest()))} on this machine")
        env = environments["oldest"]
        assert tuple(map(int, env["python"].split(".")[:2])) == self.oldest()
        assert (env["install_exit"], env["status_exit"], env["sdks_imported"]) == (0, 0, [])
        assert env["demo_exit"] == 0


def _rewrite(source: Path, target: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """Copy the wheel ``source`` to ``target`` with ``change`` applied to its files (name to
    bytes), the RECORD rewritten to match, as a misconfigured build would have made it."""
    with zipfile.ZipFile(source) as wheel:
        files = {name: wheel.read(name) for name in wheel.namelist()}
    change(files)
    [record] = [name for name in files if name.endswith(".dist-info/RECORD")]
    files[record] = "".join(f"{name},,\n" for name in files).encode()
    target.parent.mkdir(parents=True)
    with zipfile.ZipFile(target, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
    return target


def _drop_module(files: dict[str, bytes]) -> None:
    del files["abstractcore_secrets/_cache.py"]


def _drop_package(files: dict[str, bytes]) -> None:
    for name in [n for n in files if not n.split("/")[0].endswith(".dist-info")]:
        del files[name]


def _add_stray_module(files: dict[str, bytes]) -> None:
    files["abstractcore_secrets/leftover.py"] = b"value = 1\n"


def _add_top_level_tests(files: dict[str, bytes]) -> None:
    files["tests/__init__.py"] = b""


HOSTILE = {
    "a module missing": (_drop_module, "W101", "abstractcore_secrets/_cache.py"),
    "an empty package": (_drop_package, "W008", "Wheel is empty"),
    "a file the tree lacks": (_add_stray_module, "W102", "abstractcore_secrets/leftover.py"),
    "another top-level package": (_add_top_level_tests, "W202", "tests"),
}


@pytest.fixture(scope="module")
def wheel_checks(report, tmp_path_factory) -> dict[str, Any]:
    """check-wheel-contents, as the script runs it, on the built wheel and on broken copies."""
    built = Path(report["wheel"]["path"])
    folder = tmp_path_factory.mktemp("wheels")
    wheels = {"the built wheel": built}
    for case, (change, _, _) in HOSTILE.items():
        wheels[case] = _rewrite(built, folder / case.replace(" ", "-") / built.name, change)
    done = subprocess.run(
        ["bash", str(SCRIPT), "--wheel", *map(str, wheels.values())],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    said = done.stdout + done.stderr
    # Each finding starts with the wheel's path; the files it names follow, indented.
    blocks = re.split(r"\n(?=\S)", said)
    return {
        "exit": done.returncode,
        "output": said,
        "found": {
            case: "\n".join(block for block in blocks if block.startswith(f"{path}:"))
            for case, path in wheels.items()
        },
    }


class TestWheelContentsCheck:
    """check-wheel-contents as the script configures it: the wheel is the package's tree."""

    pytestmark = slow

    def test_the_built_wheel_passes(self, wheel_checks):
        """The wheel that was built holds the package's tree and only it."""
        assert wheel_checks["found"]["the built wheel"].endswith(": OK"), wheel_checks["output"]

    @pytest.mark.parametrize("case", list(HOSTILE), ids=str)
    def test_a_broken_wheel_is_refused(self, wheel_checks, case):
        """A module missing, an empty wheel, a stray file or another top-level name fails."""
        _, code, detail = HOSTILE[case]
        said = wheel_checks["found"][case]
        assert f": {code}: " in said, said
        assert detail in said, said

    def test_the_check_exits_non_zero_on_a_broken_wheel(self, wheel_checks):
        """Any broken wheel among those given makes the check fail."""
        assert wheel_checks["exit"] == 1, wheel_checks["output"]
