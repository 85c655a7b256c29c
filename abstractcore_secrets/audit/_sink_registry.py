"""The audit sinks settings can name (``secrets.audit.sinks``), and how each is built.

A sink is registered under a name with a factory taking a :class:`SinkContext`; the
assembly builds the named ones and batches them (a slow logger never delays a key). The
journal is not among them: it is durable, has its own settings (``secrets.audit.journal``)
and is written synchronously. A third party's sink registers itself
(:func:`register_sink`) or names its factory in an entry point of the group
:data:`ENTRY_POINT_GROUP`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..llm_providers import looks_like_key
from ..sources.spec import shown
from ._sinks import LoggingSink, OTelLogSink

if TYPE_CHECKING:
    from ._types import AuditSink, NamedSink

ENTRY_POINT_GROUP = "abstractcore_secrets.audit_sinks"
"""The entry point group a plugin names its sink factory in (the entry point's name is the
sink's name in settings)."""

DEFAULT_SINKS = ("log", "otel")
"""The sinks used when ``secrets.audit.sinks`` is not set."""


@dataclass(frozen=True)
class SinkContext:
    """What a sink factory may use of the application's telemetry.

    Attributes:
        logger_provider: The OTel logger provider ``configure_telemetry`` set up, if any.
        meter_provider: The OTel meter provider, if any.
        service_name: ``service.name`` of the events, if known.
    """

    logger_provider: Any = None
    meter_provider: Any = None
    service_name: str | None = None


SinkFactory = Callable[[SinkContext], "AuditSink | NamedSink"]
"""Makes one sink for a manager."""

_FACTORIES: dict[str, SinkFactory] = {
    "log": lambda context: LoggingSink(),  # noqa: ARG005 - the application's logger needs nothing
    "otel": lambda context: OTelLogSink(context.logger_provider),
}
_lock = threading.Lock()
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")


def register_sink(name: str, factory: SinkFactory, *, replace: bool = False) -> None:
    """Make ``name`` usable in ``secrets.audit.sinks``.

    Raises:
        ConfigurationError: ``name`` is taken (pass ``replace=True`` to replace it), or is
            ``journal`` (configured by ``secrets.audit.journal``).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or looks_like_key(name):
        raise ConfigurationError(
            f"an audit sink's name is 1-32 lowercase letters, digits, '.', '_' or '-' and "
            f"not shaped like a key; got {shown(name)}"
        )
    if name == "journal":
        raise ConfigurationError(
            "'journal' is configured by secrets.audit.journal, not registered as a sink"
        )
    with _lock:
        if name in _FACTORIES and not replace:
            raise ConfigurationError(
                f"an audit sink named {shown(name)} is already registered; pick another name "
                "or pass replace=True"
            )
        _FACTORIES[name] = factory


def unregister_sink(name: str) -> None:
    """Forget the sink ``name`` (a plugin's is found again in its entry point)."""
    with _lock:
        _FACTORIES.pop(name, None)


def find_sink(name: str) -> SinkFactory | None:
    """Return the factory of the sink ``name``, looking in entry points after the registry."""
    factory = _FACTORIES.get(name)
    if factory is not None:
        return factory
    from importlib.metadata import entry_points  # here: only plugin lookups need it

    for entry_point in entry_points(group=ENTRY_POINT_GROUP, name=name):
        loaded: object = None
        problem = None
        try:
            loaded = entry_point.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is named, whatever it raised
            problem = type(exc).__name__
        # Raised here, outside the handler: the plugin's exception (its text could quote a
        # credential) must not ride along as the error's context.
        if problem is not None:
            raise ConfigurationError(
                f"the audit sink plugin {shown(name)} ({entry_point.value}) cannot be loaded "
                f"({problem}); fix or uninstall its package"
            )
        if not callable(loaded):
            raise ConfigurationError(
                f"the audit sink plugin {shown(name)} ({entry_point.value}) is not a factory"
            )
        register_sink(name, loaded, replace=True)
        return loaded
    return None


def sink_names() -> tuple[str, ...]:
    """Every sink name known now: the registered ones and the installed plugins'."""
    from importlib.metadata import entry_points

    plugins = {entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)}
    return tuple(sorted(set(_FACTORIES) | plugins))


def build_sinks(names: tuple[str, ...], context: SinkContext) -> list[AuditSink | NamedSink]:
    """Build the sinks ``names``, in order.

    Raises:
        ConfigurationError: A name is no sink.
    """
    sinks = []
    for name in names:
        factory = find_sink(name)
        if factory is None:
            raise ConfigurationError(unknown_sink_message(name))
        sink, problem = None, None
        try:
            sink = factory(context)
        except Exception as exc:  # noqa: BLE001 - a plugin's factory may raise anything
            problem = type(exc).__name__
        if sink is None:
            # Outside the handler, naming the type only: the text could quote a credential.
            raise ConfigurationError(
                f"the audit sink {shown(name)} could not be built "
                f"({problem or 'its factory returned None'}); fix its configuration, or take "
                "it out of secrets.audit.sinks"
            )
        sinks.append(sink)
    return sinks


def unknown_sink_message(name: object) -> str:
    """The error for a name that is no sink (a key pasted there is not repeated)."""
    return (
        f"secrets.audit.sinks names {shown(name)}, which is no audit sink; known: "
        f"{', '.join(sink_names())} (the journal is set by secrets.audit.journal)"
    )
