"""Keys from environment variables, and from files named by ``<VAR>_FILE``.

AbstractCore, when imported, copies the ``api_keys`` of its config file into ``os.environ``
(overwriting what was there). Such a copy is not the environment: it is the config file,
the last tier. This source recognises it and reads what the environment held before.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from .. import envvars
from .._files import KEY_FILE_LIMIT, InsecureFilePolicy, read_small_text
from .._resolution import SecretRecord
from .._secret import Secret
from .._watch import Watcher, environment_watcher
from ..errors import InvalidSourceError
from ..llm_providers import KNOWN_ENV_VARS, env_var_names
from .base import SecretProvider
from .spec import SourceContext, source_spec


class EnvironmentSecretProvider(SecretProvider):
    """Get keys from environment variables (the original proposal's source).

    For ``openai`` it reads ``OPENAI_API_KEY``, or the file that ``OPENAI_API_KEY_FILE``
    names (Docker and Kubernetes secrets). Known providers have their own names and
    aliases (``HUGGINGFACE_TOKEN``, then ``HF_TOKEN``); any other provider follows
    ``<PROVIDER>_API_KEY``.

    Args:
        environ: The mapping to read; default ``os.environ``. A cached value is served only
            while the variables it was read from are unchanged (:meth:`watch`).
        insecure_files: What to do with a ``_FILE`` that others can read; default from
            ``ABSTRACTCORE_SECRETS_INSECURE_FILES``, else refuse.
    """

    name = "env"
    # Kept by the cache only while the variables (and files) it read are unchanged.
    cacheable = False
    _KEY_MAPPING: ClassVar[Mapping[str, str]] = {
        provider: names[0] for provider, names in KNOWN_ENV_VARS.items()
    }

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        insecure_files: InsecureFilePolicy | None = None,
    ) -> None:
        self._environ = environ
        self._insecure_files = insecure_files

    def locator(self, key: str) -> str:
        """Return the canonical variable name for ``key``."""
        return f"env:{env_var_names(key)[0]}"

    def watch(self, key: str) -> Watcher:
        """Watch the variables ``key`` is read from, and ``_FILE`` files named at the start."""
        names = [name for variable in env_var_names(key) for name in (variable, f"{variable}_FILE")]
        if self._insecure_files is not None:
            return environment_watcher(self._environ, names)
        # The policy a key file is read under comes from the process environment.
        if self._environ is None:
            return environment_watcher(None, [*names, envvars.INSECURE_FILES])
        variables = environment_watcher(self._environ, names)
        policy = environment_watcher(None, [envvars.INSECURE_FILES])
        return lambda: (variables(), policy())

    def fetch(self, key: str) -> SecretRecord | None:
        """Return the first variable (or ``_FILE``) that holds the key, with its name."""
        environ = os.environ if self._environ is None else self._environ
        for variable in env_var_names(key):
            direct = environ.get(variable) or None
            if direct and self._environ is None:
                direct = _set_by_environment(variable, direct)
            file_name = environ.get(f"{variable}_FILE") or None
            if direct and file_name:
                raise InvalidSourceError(
                    f"both {variable} and {variable}_FILE are set; unset one of them",
                    source=self.name,
                    locator=f"env:{variable}",
                )
            if direct:
                locator = f"env:{variable}"
                return SecretRecord(Secret(direct), locator=locator)
            if file_name:
                return self._read_file(variable, Path(file_name))
        return None

    def _read_file(self, variable: str, path: Path) -> SecretRecord:
        # The variable's content is not put in the locator or messages: it is meant to be a
        # path, but a key pasted there by mistake would travel on into telemetry.
        locator = f"env:{variable}_FILE"
        failure = None
        try:
            text = read_small_text(
                path, limit=KEY_FILE_LIMIT, policy=self._policy(), source=self.name
            )
        except (OSError, UnicodeDecodeError) as exc:
            # Raised below, outside this block: a decode error holds the file's bytes.
            failure = type(exc).__name__
        if failure is not None:
            raise InvalidSourceError(
                f"{variable}_FILE names a file that cannot be read ({failure}); "
                "point it at a readable file holding the key",
                source=self.name,
                locator=locator,
            )
        value = text.rstrip("\r\n")
        if not value:
            raise InvalidSourceError(
                f"{variable}_FILE names an empty file; write the key into it",
                source=self.name,
                locator=locator,
            )
        return SecretRecord(Secret(value), locator=locator)

    def _policy(self) -> InsecureFilePolicy:
        return self._insecure_files or InsecureFilePolicy.from_environment()


def _set_by_environment(variable: str, value: str) -> str | None:
    """Return what the environment set ``variable`` to, when ``value`` is AbstractCore's copy.

    AbstractCore 2.30 keeps a ledger of the variables it exported from its config file and
    of the value each held before (its global ``ConfigurationManager``'s
    ``_exported_api_key_env``: variable -> (before, exported)). While ``variable`` still
    holds the exported value, that copy belongs to the config tier, and the value before it
    (or nothing) to the environment. The ledger is exact whatever the import order (a
    snapshot of ``os.environ`` taken after AbstractCore's import would already hold the
    copy), tells a real variable that happens to equal the file's key from a copy, and
    follows AbstractCore when it undoes an export. Without a ledger (another version of
    AbstractCore), a value equal to a key of its loaded config is taken as its copy: the
    file's key then comes from the config tier, but a real value it overwrote is lost.
    Nothing is imported: without AbstractCore loaded, this is one dictionary look-up.
    """
    module = sys.modules.get("abstractcore.config.manager")
    manager = getattr(module, "_config_manager", None) if module is not None else None
    if manager is None:
        return value
    ledger = getattr(manager, "_exported_api_key_env", None)
    if isinstance(ledger, dict):
        entry = ledger.get(variable)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[1] == value:
            before = entry[0]
            return before if isinstance(before, str) and before else None
        return value
    api_keys = getattr(getattr(manager, "config", None), "api_keys", None)
    configured = vars(api_keys).values() if hasattr(api_keys, "__dict__") else ()
    return None if value in configured else value


def _build(options: dict[str, object], context: SourceContext) -> SecretProvider:  # noqa: ARG001 - it reads no options
    return EnvironmentSecretProvider(insecure_files=context.insecure_files)


SPEC = source_spec(EnvironmentSecretProvider, build=_build, reads_options=False)
"""The ``env`` source: the environment, with the settings' policy for key files."""
