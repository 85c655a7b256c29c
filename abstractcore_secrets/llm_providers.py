"""The LLM providers AbstractCore knows, and the environment variables that hold their keys.

Names and variables follow AbstractCore's: its config file's ``api_keys`` fields
(``openai_compatible``) and the variables its providers read (``OPENAI_API_KEY`` for an
OpenAI-compatible server too). A former spelling (``openai-compatible``) is accepted and
normalised, so one provider has one name in every cache key, locator, span and audit event.
"""

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
        # AbstractCore's OpenAI-compatible provider reads OPENAI_API_KEY; a variable of its
        # own comes first, so a local server need not be given the OpenAI key.
        "openai_compatible": ("OPENAI_COMPATIBLE_API_KEY", "OPENAI_API_KEY"),
        "ollama": ("OLLAMA_API_KEY",),
        "mlx": ("MLX_API_KEY",),
        "mistral": ("MISTRAL_API_KEY",),
        "groq": ("GROQ_API_KEY",),
    }
)

FORMER_NAMES: Mapping[str, str] = MappingProxyType({"openai-compatible": "openai_compatible"})
"""Former spellings of provider names -> the name used now (AbstractCore's)."""

_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
# Shapes of API keys and tokens: a key passed where a provider name belongs must not
# travel on into locators, telemetry and messages. Matched on the lower-cased name.
_KEY_PREFIX = re.compile(
    r"^(sk-|sk_|hf_|gh[pousr]_|github_pat_|glpat-|hvs\.|hvb\.|akia|asia|aiza|ya29\.|xox"
    r"|fw_|gsk_|pplx-|xai-|nvapi-|csk-|r8_|tgp_|jina_|pypi-|npm_|eyj)"
)
_SEPARATORS = re.compile(r"[._-]")
_HEX = re.compile(r"^[0-9a-f]+$")
_LETTER_DIGIT_SWITCH = re.compile(r"(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")


def looks_like_key(provider: str) -> bool:
    """Whether ``provider`` (stripped, case kept) has the shape of a key, not of a name.

    Names are short words (``openai``, ``lm-studio``, ``llama-3.1``); keys are long runs
    of letters and digits. A run is what lies between separators (``.``, ``_``, ``-``).
    Key-shaped: a known key prefix; a run of 24 or more characters; a run of 16 or more
    hex digits; a run of 12 or more that switches between letters and digits four times
    or more; a run of 16 or more mixing upper case, lower case and digits.
    """
    if _KEY_PREFIX.match(provider.lower()):
        return True
    for run in _SEPARATORS.split(provider):
        lowered = run.lower()
        if len(run) >= 24 or (len(run) >= 16 and _HEX.match(lowered)):
            return True
        if len(run) >= 12 and len(_LETTER_DIGIT_SWITCH.findall(lowered)) >= 4:
            return True
        mixed_case = run != lowered and run != run.upper()
        if len(run) >= 16 and mixed_case and any(c.isdigit() for c in run):
            return True
    return False


def validate_provider(provider: str) -> str:
    """Return ``provider`` normalised: lower case, a former spelling replaced by the name.

    Provider names end up in env var names, file keys, paths and telemetry, so they are
    kept to 1-32 letters, digits, ``.``, ``_`` and ``-``, and a name shaped like an API
    key or token is refused: it was most likely a key passed in the wrong place. The
    refused name is never echoed, in case it is one.

    Raises:
        ConfigurationError: (a ``ValueError``) the name breaks that rule.
    """
    if type(provider) is not str and isinstance(provider, str):
        # A subclass may lie in __eq__ and __hash__: it must not share another name's memo.
        provider = str.__str__(provider)
    return _validated(provider)


@functools.lru_cache(maxsize=1024)
def _validated(provider: str) -> str:
    """:func:`validate_provider`'s work, remembered per name (names repeat on every call)."""
    normalised = provider.strip().lower()
    if looks_like_key(provider.strip()):
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
    return FORMER_NAMES.get(normalised, normalised)


def former_names(provider: str) -> tuple[str, ...]:
    """Return the former spellings of ``provider`` (a normalised name), for files written
    before the rename: ``former_names("openai_compatible") == ("openai-compatible",)``."""
    return tuple(old for old, new in FORMER_NAMES.items() if new == provider)


def env_var_names(provider: str) -> tuple[str, ...]:
    """Return the environment variables that may hold ``provider``'s key, in order.

    Known providers have their own names; any other follows ``<PROVIDER>_API_KEY``.
    """
    known = KNOWN_ENV_VARS.get(FORMER_NAMES.get(provider, provider))
    if known is not None:
        return known
    return (re.sub(r"[^A-Z0-9]", "_", provider.upper()) + "_API_KEY",)
