"""The collector distribution: built once and cached, exactly the components its configuration
uses, and a configuration the collector itself accepts."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from observability_stack import BUILD_ENVIRONMENT, COLLECTOR_CONFIG, COLLECTOR_DIR, build_collector

from abstractcore_secrets.testing.collector import CollectorProcess

pytestmark = pytest.mark.server

_KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")


@pytest.fixture(scope="module")
def binary():
    """The collector binary (built on first use, then from the cache)."""
    return build_collector()


def _configured(kind: str) -> set[str]:
    config = yaml.safe_load(COLLECTOR_CONFIG.read_text())
    return {name.split("/")[0] for name in config.get(kind) or {}}


class TestBuild:
    """instrumentation/collector/build.sh."""

    def test_second_build_is_the_cached_binary(self, binary):
        """A second run prints the same path at once and leaves the binary untouched."""
        before = binary.stat().st_mtime_ns
        again = subprocess.run(
            ["bash", str(COLLECTOR_DIR / "build.sh")],
            capture_output=True,
            text=True,
            check=True,
            env=BUILD_ENVIRONMENT,
            timeout=60,
        )
        assert again.stdout.strip() == str(binary)
        assert again.stderr == ""
        assert binary.stat().st_mtime_ns == before

    def test_cache_folder_is_keyed_by_the_manifest(self, binary):
        """The binary sits in a folder named by a 16-hex-digit hash of what built it."""
        key = binary.parent.name
        assert len(key) == 16
        assert int(key, 16) >= 0

    def test_components_are_exactly_those_configured(self, binary):
        """The distribution has exactly the components collector.yaml uses, no more."""
        listed = yaml.safe_load(
            subprocess.run(
                [str(binary), "components"], capture_output=True, text=True, check=True
            ).stdout
        )
        for kind in _KINDS:
            assert {c["name"] for c in listed[kind]} == _configured(kind), kind

    def test_one_collector_release(self, binary):
        """Every collector module of the manifest is at one release."""
        manifest = yaml.safe_load((COLLECTOR_DIR / "builder-config.yaml").read_text())
        versions = {
            entry["gomod"].split()[1]
            for kind in (*_KINDS, "providers")
            for entry in manifest[kind]
            if "path" not in entry
        }
        assert versions <= {"v0.161.0", "v1.67.0"}
        assert manifest["telemetry"]["gomod"].endswith("v0.161.0")


class TestConfiguration:
    """instrumentation/collector/collector.yaml."""

    def test_validate_passes(self, binary):
        """``otelcol-abstractcore validate`` accepts the shipped configuration."""
        collector = CollectorProcess(binary, COLLECTOR_CONFIG)
        try:
            done = collector.validate()
        finally:
            collector.cleanup()
        assert done.returncode == 0, done.stderr

    def test_validate_names_a_broken_setting(self, binary):
        """A bad value in an environment variable fails validation, naming the component."""
        collector = CollectorProcess(
            binary, COLLECTOR_CONFIG, {"ABSTRACTCORE_COLLECTOR_DOWNSTREAM_INSECURE": "maybe"}
        )
        try:
            done = collector.validate()
        finally:
            collector.cleanup()
        assert done.returncode != 0
        assert "otlp_grpc/downstream" in done.stderr

    def test_receivers_listen_on_loopback_by_default(self):
        """Without settings, every endpoint is on 127.0.0.1: exposure is a decision."""
        text = COLLECTOR_CONFIG.read_text()
        config = yaml.safe_load(text)
        endpoints = [
            config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
            config["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
            config["extensions"]["health_check"]["endpoint"],
        ]
        assert all(":-127.0.0.1:" in endpoint for endpoint in endpoints)

    def test_every_pipeline_redacts_before_it_exports(self):
        """Each pipeline runs a redaction processor, after the memory limiter."""
        config = yaml.safe_load(COLLECTOR_CONFIG.read_text())
        for name, pipeline in config["service"]["pipelines"].items():
            processors = pipeline["processors"]
            assert processors[0] == "memory_limiter", name
            assert any(p.startswith("redaction/") for p in processors), name

    def test_journal_checkpoints_follow_the_archive(self):
        """The journal pipeline holds nothing in memory and writes nowhere that could fail apart.

        Its receiver moves its checkpoint once the pipeline returned: a batch processor would
        return before the archive is written, and a second exporter with a queue could fail
        after the archive was written and have the batch shipped twice.
        """
        config = yaml.safe_load(COLLECTOR_CONFIG.read_text())
        journal = config["service"]["pipelines"]["logs/journal"]
        assert "batch" not in journal["processors"]
        assert journal["exporters"] == ["file/journal", "count/journal"]
        others = [p for n, p in config["service"]["pipelines"].items() if n != "logs/journal"]
        assert all(p["processors"][-1] == "batch" for p in others)

    def test_names_scrubbed_for_every_format(self):
        """transform/names masks each format redaction masks in status descriptions and names."""
        config = yaml.safe_load(COLLECTOR_CONFIG.read_text())
        blocked = config["processors"]["redaction/signals"]["blocked_values"]
        groups = config["processors"]["transform/names"]["trace_statements"]
        ottl = [value.replace("\\", "\\\\").replace('"', '\\"') for value in blocked]

        def statements(field: str) -> list[str]:
            return [f'replace_pattern({field}, "{regex}", "****")' for regex in ottl]

        assert groups == [
            {
                "context": "span",
                "statements": statements("span.status.message") + statements("span.name"),
            },
            {"context": "spanevent", "statements": statements("spanevent.name")},
        ]
        assert config["processors"]["redaction/metrics"]["blocked_values"] == blocked
