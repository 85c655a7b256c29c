"""Keys from the ``api_keys`` section of AbstractCore's config file."""

from __future__ import annotations

from pathlib import Path

from .. import envvars
from .._config_file import ConfigFile
from .._files import InsecureFilePolicy
from .._resolution import SecretRecord
from .._secret import Secret
from .._watch import Watcher, environment_watcher, file_identity
from ..llm_providers import former_names
from .base import SecretProvider
from .spec import SourceContext, source_spec


class ConfigFileSecretProvider(SecretProvider):
    """Get keys from ``~/.abstractcore/config/abstractcore.json`` (``api_keys.<provider>``).

    The names are AbstractCore's (``openai_compatible``); a file written with a former
    spelling (``openai-compatible``) is read too, the current name first.

    A cached value is served only while the file is unchanged, so edits show at once. A
    file that group or others can read is refused (or read with a warning, by setting).

    Args:
        path: The file; default ``$ABSTRACTCORE_CONFIG_FILE`` or AbstractCore's location.
        insecure_files: ``refuse`` or ``warn``; default from
            ``ABSTRACTCORE_SECRETS_INSECURE_FILES``, else refuse.
    """

    name = "config"
    cacheable = False

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        insecure_files: InsecureFilePolicy | None = None,
    ) -> None:
        self.file = ConfigFile(path)
        self._insecure_files = insecure_files

    def fetch(self, key: str) -> SecretRecord | None:
        """Return ``api_keys[key]`` from the file (or a former spelling's), or ``None``."""
        policy = self._insecure_files or InsecureFilePolicy.from_environment()
        found = self.file.find_api_key((key, *former_names(key)), policy)
        if found is None:
            return None
        name, value = found
        return SecretRecord(Secret(value), locator=self.locator(name))

    def watch(self, key: str) -> Watcher:  # noqa: ARG002 - one file holds every key
        """Watch the file's identity (inode, size, times): an edit shows on the next call.

        And the environment's policy for files others can read, when it is the one used.
        """
        path = self.file.path
        if self._insecure_files is not None:
            return lambda: file_identity(path)
        policy = environment_watcher(None, [envvars.INSECURE_FILES])
        return lambda: (file_identity(path), policy())

    def locator(self, key: str) -> str:
        """Return the file and the entry looked up."""
        return f"{self.file.path}#api_keys.{key}"


def _build(options: dict[str, object], context: SourceContext) -> SecretProvider:  # noqa: ARG001 - it reads no options
    return ConfigFileSecretProvider(context.config_path, insecure_files=context.insecure_files)


SPEC = source_spec(ConfigFileSecretProvider, build=_build, reads_options=False)
"""The ``config`` source: the ``api_keys`` of the file the settings came from."""
