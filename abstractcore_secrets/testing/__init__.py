"""Test doubles for users' tests and our own: in-memory and failing sources, real servers.

They are real sources (``SecretProvider`` subclasses), so a chain built with them runs the
same loop, cache and middleware as production.
"""

from __future__ import annotations

from .azure_keyvault import AzureKeyVaultEmulator, EmulatorCredential
from .faultproxy import FaultProxy
from .openbao import OpenBaoServer, free_port
from .sources import FailingSecretProvider, InMemorySecretProvider

__all__ = [
    "AzureKeyVaultEmulator",
    "EmulatorCredential",
    "FailingSecretProvider",
    "FaultProxy",
    "InMemorySecretProvider",
    "OpenBaoServer",
    "free_port",
]
