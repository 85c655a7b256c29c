"""Sources of secrets. Managed sources import their SDK only when constructed."""

from __future__ import annotations

from .base import SecretProvider
from .config import ConfigFileSecretProvider
from .environment import EnvironmentSecretProvider

__all__ = ["ConfigFileSecretProvider", "EnvironmentSecretProvider", "SecretProvider"]
