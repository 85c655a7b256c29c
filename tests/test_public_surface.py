"""The curated surface: what users import, the former paths that keep working, and nothing
public by accident."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import abstractcore_secrets
from abstractcore_secrets._aliases import MOVED, current_name

ARCHITECTURE = Path(__file__).parent.parent / "docs" / "architecture.md"

PROPOSAL_NAMES = [
    "SecretProvider",
    "EnvironmentSecretProvider",
    "VaultSecretProvider",
    "AWSSecretsProvider",
    "AzureKeyVaultProvider",
    "SecretsManager",
    "get_secrets_manager",
    "mask_secret",
    "AuthenticationError",
]


def _documented_public_modules() -> set[str]:
    """The modules listed under "Public surface" in docs/architecture.md."""
    text = ARCHITECTURE.read_text()
    section = text.split("## Public surface", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"`(abstractcore_secrets(?:\.[a-z_]+)*)`", section))


def _public_modules_on_disk() -> set[str]:
    names = {"abstractcore_secrets"}
    for module in pkgutil.walk_packages(abstractcore_secrets.__path__, "abstractcore_secrets."):
        if not any(part.startswith("_") for part in module.name.split(".")):
            names.add(module.name)
    return names


def test_every_public_module_is_documented_and_every_documented_one_exists():
    """A module without a leading underscore is public: it is listed, or it is renamed."""
    assert _public_modules_on_disk() == _documented_public_modules()


@pytest.mark.parametrize("name", PROPOSAL_NAMES)
def test_the_proposals_names_import_from_the_package(name):
    """The proposal's public names keep working where it put them."""
    assert name in abstractcore_secrets.__all__
    assert getattr(abstractcore_secrets, name) is not None


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("abstractcore_secrets.audit", ["AuditMiddleware", "AuditSink", "Journal", "principal"]),
        ("abstractcore_secrets.audit", ["register_sink", "register_export_format"]),
        ("abstractcore_secrets.telemetry", ["configure_telemetry", "Telemetry"]),
        ("abstractcore_secrets.redaction", ["RedactionPolicy"]),
        ("abstractcore_secrets.sources", ["SecretProvider", "VaultSecretProvider", "source_spec"]),
        ("abstractcore_secrets.testing", ["capture_audit_events", "capture_telemetry"]),
        ("abstractcore_secrets.settings", ["load_settings", "ChainSettings"]),
    ],
)
def test_each_subpackage_exports_what_users_need(module, names):
    """Each name is exported (in ``__all__``) and resolves."""
    imported = importlib.import_module(module)
    for name in names:
        assert name in imported.__all__, name
        assert getattr(imported, name) is not None


@pytest.mark.parametrize("module", ["abstractcore_secrets.audit", "abstractcore_secrets.sources"])
def test_every_exported_name_resolves(module):
    imported = importlib.import_module(module)
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_a_former_path_is_the_moved_module_itself(old, new):
    """Same object, so classes compare equal and patches apply to both names."""
    assert importlib.import_module(old) is importlib.import_module(new)


def test_former_submodule_paths_and_patches_reach_the_moved_module(monkeypatch):
    """``providers.vault`` is ``sources.vault``; patching through the old name patches it."""
    from abstractcore_secrets.providers.vault import VaultSecretProvider as Old

    from abstractcore_secrets.sources import vault

    assert Old is vault.VaultSecretProvider
    monkeypatch.setattr("abstractcore_secrets.providers.vault.RENEW_AT", 0.5)
    assert vault.RENEW_AT == 0.5


def test_a_fresh_process_imports_by_the_former_paths_first():
    """Nothing imported beforehand: the alias is the first import of the module, and the
    module keeps its own name and spec."""
    code = (
        "from abstractcore_secrets.providers.aws import AWSSecretsProvider\n"
        "from abstractcore_secrets.manager import SecretsManager\n"
        "from abstractcore_secrets.provider_names import validate_provider\n"
        "from abstractcore_secrets.telemetry.setup import configure_telemetry\n"
        "import abstractcore_secrets.sources.aws as aws, abstractcore_secrets._manager as m\n"
        "assert aws.AWSSecretsProvider is AWSSecretsProvider\n"
        "assert m.SecretsManager is SecretsManager\n"
        "assert aws.__name__ == aws.__spec__.name == 'abstractcore_secrets.sources.aws'\n"
        "assert validate_provider('OpenAI') == 'openai'\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


@pytest.mark.parametrize(
    "name",
    [
        "abstractcore_secrets.providersx",
        "abstractcore_secrets.sources.vault",
        "abstractcore_secrets.cache_extra",
        "abstractcore_secrets",
    ],
)
def test_the_finder_answers_for_moved_names_only(name):
    assert current_name(name) is None


def test_an_unknown_former_submodule_is_not_found():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("abstractcore_secrets.providers.keychain")


def test_importing_the_package_loads_no_sdk_and_nothing_only_some_callers_need():
    """No cloud SDK, no OTel SDK; asyncio, importlib.metadata and importlib.abc (about 60 ms
    together) load when an async call, a plugin lookup or a former path needs them."""
    code = (
        "import sys, abstractcore_secrets\n"
        "heavy = ('boto3', 'botocore', 'hvac', 'azure', 'opentelemetry.sdk', 'asyncio',\n"
        "         'importlib.metadata', 'importlib.abc', 'cryptography')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr
