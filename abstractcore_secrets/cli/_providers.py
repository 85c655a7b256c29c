"""The PROVIDER argument: checked in the CLI's words, and a typo met with a suggestion."""

from __future__ import annotations

import difflib

from ..errors import ConfigurationError
from ..llm_providers import KNOWN_ENV_VARS, looks_like_key, validate_provider
from . import _console as console

NOT_A_NAME = (
    "PROVIDER looks like an API key, not a provider name (not echoed: it could be a key). "
    "Keys are never taken as arguments: 'abstractcore-secrets set-key PROVIDER' reads one "
    "from stdin or a hidden prompt"
)


def provider_argument(text: str) -> str:
    """Return ``text`` as a provider name (lower case), or exit 3 saying what a name is.

    A name shaped like a key is refused without being echoed; exit 3, as the library
    treats it (a configuration error), so scripts see one code for it everywhere.
    """
    if looks_like_key(text.strip()):
        console.fail(NOT_A_NAME, console.Exit.CONFIGURATION)
    try:
        return validate_provider(text)
    except ConfigurationError:
        # The library's message speaks of api_key=; the CLI's names the argument.
        console.fail(
            f"PROVIDER is not a provider name ({len(text)} characters, not echoed): use "
            "1-32 letters, digits, '.', '_' or '-', starting with a letter or digit, "
            "e.g. 'openai'",
            console.Exit.CONFIGURATION,
        )


def _aliases() -> dict[str, str]:
    """Every word a user may type for a known provider: its name and its variables' stems.

    ``gemini`` (``GEMINI_API_KEY``) is Google's, ``hf`` (``HF_TOKEN``) Hugging Face's.
    """
    words = {name: name for name in KNOWN_ENV_VARS}
    for name, variables in KNOWN_ENV_VARS.items():
        for variable in variables:
            stem = variable.lower().removesuffix("_api_key").removesuffix("_token")
            for word in (stem, stem.replace("_", "-")):
                words.setdefault(word, name)
    return words


def suggestion(name: str) -> str | None:
    """Return the known provider ``name`` is most likely a typo or an alias of, or ``None``.

    ``None`` for a known provider itself, and for a name close to none of them.
    """
    if name in KNOWN_ENV_VARS:
        return None
    words = _aliases()
    if name in words:
        return words[name]
    close = difflib.get_close_matches(name, list(words), n=1, cutoff=0.75)
    return words[close[0]] if close else None


def hint_unknown(name: str) -> None:
    """Warn that ``name`` is no known provider, naming the likely one; silent if known."""
    likely = suggestion(name)
    if likely is not None:
        console.warn(f"'{name}' is not a known provider; did you mean '{likely}'?")
