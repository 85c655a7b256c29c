"""What a source says about itself: its name, class, extra, options and how to build it.

Each source module ends with its :class:`SourceSpec`; ``source_factories`` reads the
specs, and nothing else lists the sources. A third party's source declares one too, and
registers it (``source_factories.register_source``) or names it in an entry point of the
group :data:`ENTRY_POINT_GROUP`.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .._files import InsecureFilePolicy
from ..errors import ConfigurationError
from ..llm_providers import looks_like_key
from .base import SecretProvider

ENTRY_POINT_GROUP = "abstractcore_secrets.sources"
"""The entry point group a plugin names its ``SourceSpec`` in (the entry point's name is the
source's name)."""

OptionSchema = Mapping[str, type]
"""Each option a source reads from ``secrets.sources.<name>``, with the type it takes
(``object``: any JSON value)."""


@dataclass(frozen=True)
class SourceContext:
    """What a builder may read of the settings besides the source's own options.

    Attributes:
        config_path: The config file the settings came from.
        insecure_files: What to do with key files that others can read.
        where: ``<config file> secrets.sources.<name>``, to name the setting in messages.
    """

    config_path: Path
    insecure_files: InsecureFilePolicy
    where: str


Builder = Callable[[dict[str, Any], SourceContext], SecretProvider]

OptionsCheck = Callable[[Mapping[str, Any], str], None]
"""Checks a source's options (already checked by name and type) given where they are set."""
"""Build a source from its checked options (a fresh dict the builder may consume)."""


@dataclass(frozen=True)
class SourceSpec:
    """A source, described: made by :func:`source_spec`, read by ``source_factories``.

    Attributes:
        name: The name settings use (``secrets.chain``, ``secrets.sources.<name>``).
        source_class: The class implementing it.
        build: Makes the source from its checked options and the settings' context.
        options: The options it reads from ``secrets.sources.<name>``; ``None`` when it
            reads none there (that section is then ignored).
        managed: A remote secrets manager: enabled by default where ``secrets.sources``
            configures it, between the environment and the config file.
        extra: The pip extra that installs its SDK, if any.
        check: Checks the options past their names and types (a nested object's own
            options), without building the source: the settings run it on every configured
            source, in the chain or not, in every profile. It raises ``ConfigurationError``.
    """

    name: str
    source_class: type[SecretProvider]
    build: Builder = field(repr=False)
    options: OptionSchema | None = None
    managed: bool = False
    extra: str | None = None
    check: OptionsCheck | None = field(default=None, repr=False)


def source_spec(
    source_class: type[SecretProvider],
    *,
    name: str | None = None,
    build: Builder | None = None,
    managed: bool = False,
    extra: str | None = None,
    exclude: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
    also: OptionSchema | None = None,
    reads_options: bool = True,
    check: OptionsCheck | None = None,
) -> SourceSpec:
    """Describe ``source_class``; its options are read from its constructor's signature.

    Every parameter of ``__init__`` is an option of the type its annotation names (``None``
    left out of a union; a union of several types, or ``Any``, takes any JSON value), except
    those in ``exclude`` (objects no JSON file can hold: a client, a clock).

    Args:
        source_class: The class.
        name: Its name in settings; default ``source_class.name``.
        build: Default: ``source_class(**options)``, options renamed back to parameters.
        managed: See :class:`SourceSpec`.
        extra: See :class:`SourceSpec`.
        exclude: Parameters that are not options.
        rename: Parameter name -> option name, where the file uses a shorter name.
        also: Options the builder reads that are not parameters, or that it converts
            (a parameter of the same name is replaced).
        reads_options: ``False`` for a source configured by the settings alone.
        check: See :class:`SourceSpec`.
    """
    rename = dict(rename or {})
    options: dict[str, type] | None = None
    if reads_options:
        options = {
            rename.get(parameter, parameter): kind
            for parameter, kind in parameter_types(source_class, exclude=exclude).items()
        }
        options.update(also or {})
    if build is None:
        parameters = {option: parameter for parameter, option in rename.items()}

        def construct(options: dict[str, Any], context: SourceContext) -> SecretProvider:  # noqa: ARG001 - the default needs only the options
            return source_class(**{parameters.get(k, k): v for k, v in options.items()})

        build = construct

    return SourceSpec(
        name=name or source_class.name,
        source_class=source_class,
        build=build,
        options=options,
        managed=managed,
        extra=extra,
        check=check,
    )


def parameter_types(source_class: type, *, exclude: Iterable[str] = ()) -> dict[str, type]:
    """Return each parameter of ``source_class.__init__`` with the JSON-checkable type it takes."""
    init = source_class.__init__  # type: ignore[misc]
    skipped = {"self", *exclude}
    names = [
        parameter.name
        for parameter in inspect.signature(init).parameters.values()
        if parameter.name not in skipped
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    ]
    # Only the options' annotations are evaluated: an excluded one may name a type that
    # exists for type checkers only.
    annotations = getattr(init, "__annotations__", {})
    holder = types.SimpleNamespace(
        __annotations__={name: annotations[name] for name in names if name in annotations}
    )
    hints = typing.get_type_hints(holder, globalns=getattr(init, "__globals__", None))
    return {name: _json_type(hints.get(name, object)) for name in names}


def _json_type(annotation: object) -> type:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = kinds[0] if len(kinds) == 1 else object
    annotation = typing.get_origin(annotation) or annotation
    return annotation if isinstance(annotation, type) else object


def checked_options(raw: Mapping[str, Any], schema: OptionSchema, where: str) -> dict[str, Any]:
    """Return ``raw`` with numbers converted, or raise naming the bad option.

    An unknown option's name is repeated only when it reads as a name (it may be a key
    pasted in the wrong place); a number must be finite and within a float's range.

    Raises:
        ConfigurationError: An option is unknown or of the wrong type.
    """
    unknown = sorted(set(raw) - set(schema), key=str)
    if unknown:
        raise ConfigurationError(
            f"{where} has unknown options [{', '.join(map(shown, unknown))}]"
            f"{nearest(unknown, schema)}; known: {sorted(schema)}"
        )
    options: dict[str, Any] = {}
    for name, value in raw.items():
        expected = schema[name]
        if (
            expected in (int, float)
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        ):
            if not _finite(value):
                raise ConfigurationError(f"{where}.{name} must be a finite number")
            if expected is int and not _whole(value):
                raise ConfigurationError(f"{where}.{name} must be a whole number")
            options[name] = expected(value)
        elif expected is object or (
            # JSON's true and false are no numbers, though Python's bool is an int.
            isinstance(value, expected) and not (isinstance(value, bool) and expected is not bool)
        ):
            options[name] = value
        else:
            raise ConfigurationError(
                f"{where}.{name} must be a {_KINDS.get(expected, expected.__name__)}, "
                f"not {type(value).__name__}"
            )
    return options


def _whole(value: float) -> bool:
    """An integer, or a float holding one exactly (within a float's exact integers)."""
    return isinstance(value, int) or (value.is_integer() and abs(value) <= _EXACT_INTEGERS)


_EXACT_INTEGERS = 2**53

_KINDS = {int: "whole number", bool: "true or false", dict: "JSON object"}
"""How messages name the types whose Python names mean little in a JSON file."""


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past a float's range
        return False


# What a message may repeat of a setting: a short name. Anything else may be a key.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,16}")


def shown(value: object) -> str:
    """Return ``value`` as a message may show it: a short name or number, else its kind.

    A key pasted into the wrong setting must not travel on into logs with the error.
    """
    if isinstance(value, str):
        return repr(value) if _NAME.fullmatch(value) else f"(a text of {len(value)} characters)"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**16 else "(a very large integer)"
    if isinstance(value, float):
        return repr(value)
    return f"(a JSON {'array' if isinstance(value, list) else type(value).__name__})"


def nearest(unknown: Iterable[object], known: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the first unknown name that is a typo of a known
    one, else ``""``. Only known names are shown: the unknown one may be a pasted key."""
    choices = list(known)
    for name in unknown:
        if isinstance(name, str) and (close := difflib.get_close_matches(name, choices, n=1)):
            return f" (did you mean {close[0]!r}?)"
    return ""


def shown_path(path: object) -> str:
    """Return a path as a message may show it: as is, unless a part of it is shaped like a
    key (pasted into a path setting by mistake), then only that it is such a path."""
    text = str(path)
    if any(looks_like_key(part) for part in Path(text).parts):
        return f"(a path of {len(text)} characters shaped like a key)"
    return text
