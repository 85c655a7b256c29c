"""Sources of secrets, one module each, and what a new one declares (:mod:`.spec`).

Managed sources import their SDK only when constructed.
"""

from __future__ import annotations

from types import ModuleType

from .._aliases import former_submodule
from .aws import AWSSecretsProvider
from .azure import AzureKeyVaultProvider
from .base import SecretProvider
from .config import ConfigFileSecretProvider
from .environment import EnvironmentSecretProvider
from .spec import SourceContext, SourceSpec, source_spec
from .vault import VaultSecretProvider

__all__ = [
    "AWSSecretsProvider",
    "AzureKeyVaultProvider",
    "ConfigFileSecretProvider",
    "EnvironmentSecretProvider",
    "SecretProvider",
    "SourceContext",
    "SourceSpec",
    "VaultSecretProvider",
    "source_spec",
]


def __getattr__(name: str) -> ModuleType:
    # A former submodule's name (``sources.<old name>``), moved: see _aliases.
    return former_submodule(__name__, name)
