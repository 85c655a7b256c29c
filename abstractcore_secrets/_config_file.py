"""AbstractCore's JSON config file: its ``api_keys`` section and our ``secrets`` section.

The layout of ``api_keys`` is exactly what AbstractCore writes today, so existing files
keep working. Every other section is preserved on write.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._files import (
    CONFIG_FILE_LIMIT,
    InsecureFilePolicy,
    check_permissions,
    default_config_path,
    read_small_text,
    write_private,
)
from ._secret import Secret
from .errors import InvalidSourceError
from .llm_providers import former_names

API_KEYS = "api_keys"
SECRETS = "secrets"
_SOURCE = "config"


class ConfigFile:
    """One config file, read fresh on each call and written atomically (0600, folder 0700).

    Args:
        path: The file; default ``$ABSTRACTCORE_CONFIG_FILE`` or
            ``~/.abstractcore/config/abstractcore.json``.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_config_path()

    def load(self) -> dict[str, Any]:
        """Return the whole document, ``{}`` when the file does not exist.

        Raises:
            InvalidSourceError: The file is not a JSON object (or not JSON: malformed, not
                UTF-8, nested too deep, a number too long), or cannot be read.
        """
        # Errors are raised after their except blocks: a decode error keeps the whole text,
        # keys included (`.doc`, `.object`), and would ride along as `__context__`.
        problem = None
        try:
            text = read_small_text(self.path, limit=CONFIG_FILE_LIMIT)
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"cannot be read ({type(exc).__name__})"
        if problem is not None:
            raise self._invalid(problem)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"is not valid JSON (line {exc.lineno}, column {exc.colno})"
        except (ValueError, RecursionError):
            # An integer past Python's digit limit, or nesting past the recursion limit.
            problem = "is not JSON this reader accepts (a number too long, or nested too deep)"
        if problem is not None:
            raise self._invalid(problem)
        if not isinstance(document, dict):
            raise self._invalid("must hold a JSON object at the top level")
        return document

    def section(self, name: str) -> dict[str, Any]:
        """Return one top-level section, ``{}`` when absent.

        Raises:
            InvalidSourceError: The section exists but is not an object.
        """
        value = self.load().get(name, {})
        if not isinstance(value, dict):
            raise self._invalid(f"has a {name!r} section that is not a JSON object")
        return value

    def read_api_key(self, provider: str, policy: InsecureFilePolicy) -> str | None:
        """Return ``api_keys[provider]``, refusing a file others can read.

        Raises:
            InsecureFileError: The file is readable by group or others (policy refuse).
            InvalidSourceError: The file or its value is malformed.
        """
        found = self.find_api_key((provider,), policy)
        return None if found is None else found[1]

    def find_api_key(
        self, names: Sequence[str], policy: InsecureFilePolicy
    ) -> tuple[str, str] | None:
        """Return the first of ``api_keys[name]`` set, with its name; the file is read once.

        A provider's name and its former spellings (``openai_compatible``, then
        ``openai-compatible``): a file written before the rename keeps working.

        Raises:
            InsecureFileError: The file is readable by group or others (policy refuse).
            InvalidSourceError: The file or a value is malformed.
        """
        if not self.path.exists():
            return None
        check_permissions(self.path, policy, source=_SOURCE)
        keys = self.section(API_KEYS)
        for name in names:
            value = keys.get(name)
            if value is None or value == "":
                continue
            if not isinstance(value, str):
                raise self._invalid(f"has api_keys.{name} that is not a string")
            return name, value
        return None

    def write_api_key(self, provider: str, secret: Secret) -> None:
        """Set ``api_keys[provider]``, keeping every other entry and section.

        The provider's former spellings are removed, so the file holds one key per
        provider (``set-key openai-compatible`` replaces what that spelling held).
        """
        document = self.load()
        keys = document.setdefault(API_KEYS, {})
        if not isinstance(keys, dict):
            raise self._invalid("has an 'api_keys' section that is not a JSON object")
        for former in former_names(provider):
            keys.pop(former, None)
        keys[provider] = secret.reveal()
        self.write(document)

    def write(self, document: dict[str, Any]) -> None:
        """Replace the whole document atomically."""
        write_private(self.path, (json.dumps(document, indent=2) + "\n").encode())

    def _invalid(self, problem: str) -> InvalidSourceError:
        return InvalidSourceError(
            f"config file {self.path} {problem}; fix it, or move it aside to start afresh",
            source=_SOURCE,
            locator=str(self.path),
        )
