"""Test doubles for users' tests and our own: in-memory and failing sources, real servers.

They are real sources (``SecretProvider`` subclasses), so a chain built with them runs the
same loop, cache and middleware as production. ``capture_audit_events()`` and
``capture_telemetry()`` record what a manager emits, in memory, in the test's own process.
"""

from __future__ import annotations

from .azure_keyvault import AzureKeyVaultEmulator, EmulatorCredential
from .capture import CapturedTelemetry, MemorySink, capture_audit_events, capture_telemetry
from .fake_llm import FakeLLMServer
from .faultproxy import FaultProxy
from .openbao import OpenBaoServer, free_port
from .sources import FailingSecretProvider, InMemorySecretProvider

__all__ = [
    "AzureKeyVaultEmulator",
    "CapturedTelemetry",
    "EmulatorCredential",
    "FailingSecretProvider",
    "FakeLLMServer",
    "FaultProxy",
    "InMemorySecretProvider",
    "MemorySink",
    "OpenBaoServer",
    "capture_audit_events",
    "capture_telemetry",
    "free_port",
]
