"""Resolve LLM providers' API keys through a chain of secret sources.

>>> from abstractcore_secrets import get_secrets_manager
>>> key = get_secrets_manager().get_api_key("openai")          # doctest: +SKIP
>>> resolution = get_secrets_manager().resolve("openai")       # doctest: +SKIP
>>> resolution.source, resolution.locator                      # doctest: +SKIP
('env', 'env:OPENAI_API_KEY')
"""

from __future__ import annotations

from types import ModuleType

from . import _aliases  # noqa: F401 - makes the former module paths resolve to the moved ones
from ._aliases import former_submodule
from ._cache import ResolutionCache
from ._failure_policy import Action
from ._files import InsecureFilePolicy
from ._fingerprint import Fingerprinter
from ._manager import SecretsManager
from ._resolution import Attempt, Outcome, Resolution, SecretRecord
from ._secret import Secret, mask_secret
from ._version import __version__
from .assembly import build_secrets_manager, get_secrets_manager, set_secrets_manager
from .errors import (
    AuditFailureWarning,
    AuthenticationError,
    CircuitOpenError,
    ConfigurationError,
    ErrorCategory,
    FingerprintKeyWarning,
    InsecureFileError,
    InsecureFileWarning,
    InvalidSourceError,
    MissingDependencyError,
    ResolutionDeniedError,
    ResolutionError,
    SecretNotFoundError,
    SecretsError,
    SourceError,
    SourceForbiddenError,
    SourceThrottledError,
    SourceTimeoutError,
    SourceUnauthenticatedError,
    SourceUnavailableError,
)
from .middleware import AttemptMiddleware, AttemptRequest, Middleware, ResolveRequest
from .resilience import CircuitBreaker, CircuitState, Resilience, RetryPolicy
from .settings import ChainSettings, load_settings
from .source_factories import register_source
from .sources.aws import AWSSecretsProvider
from .sources.azure import AzureKeyVaultProvider
from .sources.base import SecretProvider
from .sources.config import ConfigFileSecretProvider
from .sources.environment import EnvironmentSecretProvider
from .sources.spec import SourceSpec, source_spec
from .sources.vault import VaultSecretProvider

__all__ = [
    "AWSSecretsProvider",
    "Action",
    "Attempt",
    "AttemptMiddleware",
    "AttemptRequest",
    "AuditFailureWarning",
    "AuthenticationError",
    "AzureKeyVaultProvider",
    "ChainSettings",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "ConfigFileSecretProvider",
    "ConfigurationError",
    "EnvironmentSecretProvider",
    "ErrorCategory",
    "FingerprintKeyWarning",
    "Fingerprinter",
    "InsecureFileError",
    "InsecureFilePolicy",
    "InsecureFileWarning",
    "InvalidSourceError",
    "Middleware",
    "MissingDependencyError",
    "Outcome",
    "Resilience",
    "Resolution",
    "ResolutionCache",
    "ResolutionDeniedError",
    "ResolutionError",
    "ResolveRequest",
    "RetryPolicy",
    "Secret",
    "SecretNotFoundError",
    "SecretProvider",
    "SecretRecord",
    "SecretsError",
    "SecretsManager",
    "SourceError",
    "SourceForbiddenError",
    "SourceSpec",
    "SourceThrottledError",
    "SourceTimeoutError",
    "SourceUnauthenticatedError",
    "SourceUnavailableError",
    "VaultSecretProvider",
    "__version__",
    "build_secrets_manager",
    "get_secrets_manager",
    "load_settings",
    "mask_secret",
    "register_source",
    "set_secrets_manager",
    "source_spec",
]


def __getattr__(name: str) -> ModuleType:
    # A former submodule's name (``abstractcore_secrets.<old name>``), moved: see _aliases.
    return former_submodule(__name__, name)
