"""The LLM providers AbstractCore knows, and the environment variables that hold their keys."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType

from .errors import ConfigurationError

# First name of each tuple is the canonical one; the rest are aliases tried in order.
KNOWN_ENV_VARS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "openai": ("OPENAI_API_KEY",),
        "anthropic": ("ANTHROPIC_API_KEY",),
        "huggingface": ("HUGGINGFACE_TOKEN", "HF_TOKEN", "HUGGINGFACE_API_KEY"),
        "lmstudio": ("LMSTUDIO_API_KEY",),
        "openrouter": ("OPENROUTER_API_KEY",),
        "portkey": ("PORTKEY_API_KEY",),
        "vllm": ("VLLM_API_KEY",),
        "google": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
        "openai-compatible": ("OPENAI_COMPATIBLE_API_KEY",),
        "ollama": ("OLLAMA_API_KEY",),
        "mlx": ("MLX_API_KEY",),
        "mistral": ("MISTRAL_API_KEY",),
        "groq": ("GROQ_API_KEY",),
    }
)

_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
# Shapes of API keys and tokens: a key passed where a provider name belongs must not
# travel on into locators, telemetry and messages.
_KEY_SHAPED = re.compile(r"^(sk-|sk_|hf_|gh[pousr]_|github_pat_|hvs\.|hvb\.|akia|asia|aiza|xox)")


@functools.lru_cache(maxsize=1024)
def validate_provider(provider: str) -> str:
    """Return ``provider`` normalised to lower case.

    Provider names end up in env var names, file keys, paths and telemetry, so they are
    kept to letters, digits, ``.``, ``_`` and ``-``.

    Raises:
        ConfigurationError: (a ``ValueError``) the name breaks that rule.
    """
    normalised = provider.strip().lower()
    if _KEY_SHAPED.match(normalised):
        raise ConfigurationError(
            "an API key was given where a provider name belongs (e.g. 'openai'); "
            "pass the key as api_key= instead"
        )
    if not _PROVIDER_NAME.match(normalised):
        # The name is not echoed: what was passed may be a key of a shape we do not know.
        raise ConfigurationError(
            f"not a provider name ({len(provider)} characters): use 1-32 letters, digits, "
            "'.', '_' or '-', starting with a letter or digit (e.g. 'openai')"
        )
    return normalised


def env_var_names(provider: str) -> tuple[str, ...]:
    """Return the environment variables that may hold ``provider``'s key, in order.

    Known providers have their own names; any other follows ``<PROVIDER>_API_KEY``.
    """
    known = KNOWN_ENV_VARS.get(provider)
    if known is not None:
        return known
    return (re.sub(r"[^A-Z0-9]", "_", provider.upper()) + "_API_KEY",)
