"""Build each named source from its options in the config file's ``secrets.sources``.

Nothing here lists the sources by hand: each source module declares its
:class:`~abstractcore_secrets.sources.spec.SourceSpec` (name, class, extra, options read
from its constructor, builder), and the names, option schemas and builders below are read
from those specs. A third party's source is added with :func:`register_source`, or by an
entry point of the group ``abstractcore_secrets.sources`` naming its spec, loaded only
when settings name a source not registered yet.

Options are checked before anything is built: an unknown option (a typo) or a value of
the wrong type is a ``ConfigurationError`` naming the file, the option and what it takes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ._files import InsecureFilePolicy
from .errors import ConfigurationError
from .sources import aws, azure, config, environment, vault
from .sources.spec import (
    ENTRY_POINT_GROUP,
    SourceContext,
    SourceSpec,
    checked_options,
    shown,
)

if TYPE_CHECKING:
    from .sources.base import SecretProvider

__all__ = [
    "BUILTIN_SOURCES",
    "MANAGED_SOURCES",
    "SOURCE_FACTORIES",
    "SourceSettings",
    "build_source",
    "checked_options",
    "find_source",
    "managed_sources",
    "register_source",
    "shown",
    "source_names",
    "unregister_source",
]


class SourceSettings(Protocol):
    """What building a source reads of the chain settings (``config.ChainSettings`` has it).

    A protocol rather than the settings class, so that this module stays below ``config``,
    which checks its options with it.
    """

    @property
    def config_path(self) -> Path:
        """The config file."""

    @property
    def sources(self) -> Mapping[str, Mapping[str, Any]]:
        """``secrets.sources``: each source's options."""

    @property
    def insecure_files(self) -> InsecureFilePolicy:
        """What to do with key files that others can read."""


BUILTIN_SOURCES: tuple[SourceSpec, ...] = (
    environment.SPEC,
    vault.SPEC,
    aws.SPEC,
    azure.SPEC,
    config.SPEC,
)
"""The sources that ship with the package, in the order messages list them."""

MANAGED_SOURCES = tuple(spec.name for spec in BUILTIN_SOURCES if spec.managed)
"""Sources enabled by default where ``secrets.sources`` configures them, in this order."""

_lock = threading.Lock()
_registry: dict[str, SourceSpec] = {spec.name: spec for spec in BUILTIN_SOURCES}


def register_source(spec: SourceSpec, *, replace: bool = False) -> None:
    """Make ``spec`` a source settings can name (``secrets.chain``, ``secrets.sources``).

    Raises:
        ConfigurationError: A different source is registered under that name already, and
            ``replace`` is false.
    """
    with _lock:
        known = _registry.get(spec.name)
        if known is not None and known != spec and not replace:
            raise ConfigurationError(
                f"a source named {shown(spec.name)} is registered already "
                f"({known.source_class.__name__}); pass replace=True to replace it"
            )
        _registry[spec.name] = spec


def unregister_source(name: str) -> None:
    """Forget the source registered as ``name`` (a built-in one comes back as it shipped)."""
    builtin = {spec.name: spec for spec in BUILTIN_SOURCES}
    with _lock:
        if name in builtin:
            _registry[name] = builtin[name]
        else:
            _registry.pop(name, None)


def source_names() -> tuple[str, ...]:
    """Return the names of the sources registered now (plugins not yet loaded are not)."""
    with _lock:
        return tuple(_registry)


def find_source(name: str) -> SourceSpec | None:
    """Return the spec registered as ``name``, loading a plugin's entry point if need be.

    Raises:
        ConfigurationError: An entry point of that name cannot be loaded, or does not
            name a ``SourceSpec`` of that name.
    """
    with _lock:
        spec = _registry.get(name)
    return spec if spec is not None else _load_entry_point(name)


def _load_entry_point(name: str) -> SourceSpec | None:
    from importlib import metadata  # here: ~11 ms that only plugin lookups need

    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name != name:
            continue
        problem = None
        loaded: object = None
        try:
            loaded = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is a configuration error
            # Only the type: the plugin's message may hold anything.
            problem = f"it cannot be loaded ({type(exc).__name__})"
        if problem is None and not (isinstance(loaded, SourceSpec) and loaded.name == name):
            problem = f"it does not name a SourceSpec called {shown(name)}"
        if problem is not None:
            raise ConfigurationError(
                f"the {ENTRY_POINT_GROUP} entry point {shown(name)} "
                f"({entry_point.value}): {problem}; fix or uninstall its package"
            )
        assert isinstance(loaded, SourceSpec)  # noqa: S101 - checked just above, for mypy
        register_source(loaded)
        return loaded
    return None


def managed_sources(configured: Iterable[str]) -> tuple[str, ...]:
    """Return the managed sources among ``configured``: the built-in ones first, in order.

    Other names (registered or plugins) follow in the order given; a name that is no
    source is left out, as it always was.
    """
    configured = list(configured)
    managed = [name for name in MANAGED_SOURCES if name in configured]
    for name in configured:
        if name in MANAGED_SOURCES or name in {s.name for s in BUILTIN_SOURCES}:
            continue
        spec = find_source(name)
        if spec is not None and spec.managed:
            managed.append(name)
    return tuple(managed)


def build_source(name: str, settings: SourceSettings) -> SecretProvider:
    """Build the source ``name`` from its options in ``settings``.

    Raises:
        ConfigurationError: ``name`` is no source, or its options are wrong.
    """
    spec = find_source(name)
    if spec is None:
        raise ConfigurationError(
            f"{shown(name)} is not a source; known: {', '.join(source_names())}"
        )
    where = f"{settings.config_path} secrets.sources.{name}"
    raw = settings.sources.get(name, {})
    options = {} if spec.options is None else checked_options(raw, spec.options, where)
    context = SourceContext(settings.config_path, settings.insecure_files, where)
    return spec.build(options, context)


class _Factories(Mapping[str, Callable[[SourceSettings], "SecretProvider"]]):
    """The registry seen as name -> builder, as ``SOURCE_FACTORIES`` always was."""

    def __getitem__(self, name: str) -> Callable[[SourceSettings], SecretProvider]:
        if find_source(name) is None:
            raise KeyError(name)
        return partial(build_source, name)

    def __iter__(self) -> Iterator[str]:
        return iter(source_names())

    def __len__(self) -> int:
        return len(source_names())


SOURCE_FACTORIES: Mapping[str, Callable[[SourceSettings], SecretProvider]] = _Factories()
"""Every source name a chain may use, with how to build it (read from the registry)."""
