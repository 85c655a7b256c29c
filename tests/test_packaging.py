"""Packaging: a light import, extras that name the fix, the public surface."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import abstractcore_secrets

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_import_pulls_no_cloud_or_telemetry_sdk():
    """import abstractcore_secrets imports no hvac, boto3, azure, requests, OTel SDK or grpc."""
    result = _python(
        "import sys, abstractcore_secrets, abstractcore_secrets.cli.main;"
        "heavy = ('hvac', 'boto3', 'botocore', 'azure', 'requests', 'opentelemetry.sdk',"
        " 'grpc');"
        "print(sorted(h for h in heavy"
        " if any(m == h or m.startswith(h + '.') for m in sys.modules)))"
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_missing_extra_names_the_pip_command():
    """Without hvac, constructing the Vault source says which extra to install."""
    result = _python(
        "import sys; sys.modules['hvac'] = None\n"
        "from abstractcore_secrets import VaultSecretProvider, MissingDependencyError\n"
        "try:\n    VaultSecretProvider('http://127.0.0.1:1', 't')\n"
        "except MissingDependencyError as e:\n    print(e)"
    )
    assert result.stdout.strip() == (
        "hvac is not installed; run: pip install 'abstractcore-secrets[vault]'"
    ), result.stderr


def test_extras_include_the_proposals_names():
    """Extras: ours and the proposal's secrets-* names."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {
        "vault",
        "aws",
        "azure",
        "otlp",
        "all",
        "dev",
        "secrets-vault",
        "secrets-aws",
        "secrets-azure",
        "secrets-all",
    } <= set(extras)
    assert extras["secrets-vault"] == ["abstractcore-secrets[vault]"]
    assert project["dependencies"] == [
        "click>=8.1,<9",
        "opentelemetry-api>=1.30",
        "pyahocorasick>=2.1",  # redaction: matching costs the text's length, not the values'
        "structlog>=24.1",
    ]


def test_public_surface_is_curated():
    """__all__ names exist, and include the proposal's public names."""
    for name in abstractcore_secrets.__all__:
        assert hasattr(abstractcore_secrets, name), name
    proposal = {
        "SecretProvider",
        "EnvironmentSecretProvider",
        "VaultSecretProvider",
        "SecretsManager",
        "get_secrets_manager",
        "mask_secret",
        "AuthenticationError",
    }
    assert proposal <= set(abstractcore_secrets.__all__)


@pytest.mark.parametrize(
    "module", ["abstractcore_secrets", "abstractcore_secrets.testing"], ids=str
)
def test_typed_marker_ships(module):
    """py.typed ships with the package."""
    assert (ROOT / "abstractcore_secrets" / "py.typed").exists()
    assert _python(f"import {module}").returncode == 0
