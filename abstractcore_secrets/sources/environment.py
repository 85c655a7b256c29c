"""Keys from environment variables, and from files named by ``<VAR>_FILE``."""

from __future__ import annotations

import os
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


def _build(options: dict[str, object], context: SourceContext) -> SecretProvider:  # noqa: ARG001 - it reads no options
    return EnvironmentSecretProvider(insecure_files=context.insecure_files)


SPEC = source_spec(EnvironmentSecretProvider, build=_build, reads_options=False)
"""The ``env`` source: the environment, with the settings' policy for key files."""
