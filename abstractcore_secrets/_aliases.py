"""Former import paths of moved modules, kept working: the same module objects, not copies.

``import abstractcore_secrets.providers.vault`` gives the module
``abstractcore_secrets.sources.vault`` itself, so its classes, its globals and whatever a
test patches in it are one and the same under both names. Importing this module (the
package does, first) puts the finder first on ``sys.meta_path``; it answers for the names
in :data:`MOVED` and every module under them, and for nothing else. Type checkers see the
current paths only.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

MOVED = {
    f"abstractcore_secrets.{old}": f"abstractcore_secrets.{new}"
    for old, new in {
        # Renamed so that names explain themselves.
        "providers": "sources",
        "provider_names": "llm_providers",
        "policy": "_failure_policy",
        # Implementation modules, made private: their names are exported by the package.
        "cache": "_cache",
        "config_file": "_config_file",
        "files": "_files",
        "fingerprint": "_fingerprint",
        "manager": "_manager",
        "resolution": "_resolution",
        "secret": "_secret",
        "audit.middleware": "audit._middleware",
        "cli.audit": "cli._audit",
        "cli.console": "cli._console",
        "cli.demo": "cli._demo",
        "cli.keys": "cli._keys",
        "cli.set_provider": "cli._set_provider",
        "cli.status": "cli._status",
        "cli.usage": "cli._usage",
        "audit.sinks": "audit._sinks",
        "redaction.patterns": "redaction._patterns",
        "redaction.policy": "redaction._policy",
        "redaction.processors": "redaction._processors",
        "sources.values": "sources._values",
        "telemetry.metrics": "telemetry._metrics",
        "telemetry.setup": "telemetry._setup",
        "telemetry.tracing": "telemetry._tracing",
    }.items()
}
"""Former name -> current name; a former package's modules move with it."""


def current_name(name: str) -> str | None:
    """Return where the module formerly named ``name`` lives now, or ``None``."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return None


# Plain classes, not importlib.abc's: importing that module costs ~18 ms (it pulls in
# importlib.resources) at every start of every application. The import system needs only
# the methods.
class _Alias:
    """Loads a former name as the module under its current name."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:  # noqa: ARG002 - the target is known
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def load_module(self, fullname: str) -> ModuleType:
        """The legacy loader call, for callers that still make it."""
        module = importlib.import_module(self.target)
        sys.modules[fullname] = module
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system gave the module the alias's spec: its own name stays its spec's.
        module.__spec__ = self._spec


class _AliasFinder:
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,  # noqa: ARG002 - aliases do not depend on it
        target: ModuleType | None = None,  # noqa: ARG002
    ) -> importlib.machinery.ModuleSpec | None:
        new = current_name(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def former_submodule(package: str, name: str) -> ModuleType:
    """Return the module formerly at ``package.name``, for the package's ``__getattr__``.

    A package that imported a submodule had it as an attribute (``audit.sinks``); the moved
    module is bound under its new name only, so the old attribute is found here.

    Raises:
        AttributeError: No module was ever at ``package.name``.
    """
    former = f"{package}.{name}"
    if current_name(former) is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return importlib.import_module(former)


def install() -> None:
    """Put the finder first on ``sys.meta_path``, once."""
    if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


install()
