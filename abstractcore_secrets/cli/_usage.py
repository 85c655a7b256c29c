"""Click's usage errors, told without echoing an argument that could be a key.

Click quotes what it could not use: ``No such command 'sk-...'``, ``Got unexpected extra
argument (sk-...)``, ``Path 'sk-...' does not exist``. A key typed or pasted on the
command line by mistake must not come back on the terminal, in a CI log or a screen share.

The rule: a token of the command line may be echoed when it is a name this CLI defines
(a command, an option, a choice, a known provider) or a short word: at most
:data:`SHORT` letters, digits, ``.``, ``_``, ``-`` and ``/``, which no provider's key is.
When every token may be echoed, click's own message is shown as it is, since it can only
quote those tokens. Otherwise the message is rebuilt from the error's structure (its kind,
the parameter, the names click suggests) and quotes no token of the command line at all.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence

import click

from ..llm_providers import looks_like_key

SHORT = 16
"""The longest token echoed that is not a defined name; API keys are longer."""

_WORD = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._/-]{{0,{SHORT - 1}}}")
NOT_ECHOED = "not echoed: it could be a key"
FIX = (
    "Keys are never taken as arguments: 'set-key PROVIDER' and 'audit find-key' "
    "read them from stdin or a hidden prompt"
)


def defined_names(command: click.Command) -> frozenset[str]:
    """Return every command, option and choice name under ``command``, and the providers'."""
    from ..llm_providers import KNOWN_ENV_VARS

    return frozenset(_names(command)) | frozenset(KNOWN_ENV_VARS)


def may_echo(token: str, names: Collection[str]) -> bool:
    """Return whether ``token`` may be printed: a defined name or a short word.

    An option written ``--name=value`` may be printed when both halves may.
    """
    if token in names:
        return True
    if token.startswith("-") and "=" in token:
        name, _, value = token.partition("=")
        return may_echo(name, names) and may_echo(value, names)
    word = token.lstrip("-")
    # Short is not enough: 16 hex digits are short and shaped like a key.
    return not word or (_WORD.fullmatch(word) is not None and not looks_like_key(word))


def shown_value(text: str) -> str:
    """Return a value of the command line as a message may quote it.

    Quoted when it reads as a name, an address or a path: printable, at most 200
    characters, and no part of it (between ``:``, ``/``, ``@``, ``?``, ``#``, ``=``, ``&``)
    shaped like a key. Otherwise only its length, with :data:`NOT_ECHOED`.
    """
    parts = [part for part in _VALUE_PARTS.split(text) if part]
    if 0 < len(text) <= 200 and text.isprintable() and not any(map(looks_like_key, parts)):
        return repr(text)
    return f"(a value of {len(text)} characters, {NOT_ECHOED})"


_VALUE_PARTS = re.compile(r"[:/@?#=&,;\s]+")


def describe(error: click.ClickException, argv: Sequence[str], root: click.Command) -> str:
    """Return ``error``'s message for the command line ``argv`` run against ``root``.

    Click's message when every token of ``argv`` may be echoed; otherwise one built from
    the error's structure that quotes none of them.
    """
    names = defined_names(root)
    if all(may_echo(token, names) for token in argv) or _quotes_no_value(error, names):
        return error.format_message()
    if isinstance(error, click.exceptions.NoSuchCommand):
        return _unknown("No such command", error.command_name, error.possibilities, names)
    if isinstance(error, click.NoSuchOption):
        return _unknown("No such option", error.option_name, error.possibilities, names)
    if isinstance(error, click.BadParameter):
        return _bad_parameter(error)
    if error.message.startswith("Got unexpected extra argument"):
        return f"Got unexpected extra arguments ({NOT_ECHOED}). {FIX}."
    return f"This command line cannot be used; what is wrong is {NOT_ECHOED}. {FIX}."


def _quotes_no_value(error: click.ClickException, names: Collection[str]) -> bool:
    # A missing parameter is told from its declaration; a misused option is one click
    # matched against the declared ones, and its message names only that option.
    if isinstance(error, click.MissingParameter):
        return True
    return isinstance(error, click.BadOptionUsage) and may_echo(error.option_name, names)


def _unknown(
    kind: str, token: str, possibilities: Sequence[str] | None, names: Collection[str]
) -> str:
    echoed = may_echo(token, names)
    message = f"{kind} {token!r}." if echoed else f"{kind} ({NOT_ECHOED}). {FIX}."
    close = [p for p in possibilities or () if may_echo(p, names)]
    if close:
        message += f" (Did you mean {' or '.join(repr(p) for p in sorted(close))}?)"
    return message


def _bad_parameter(error: click.BadParameter) -> str:
    param = error.param
    hint = "a parameter" if param is None else param.get_error_hint(error.ctx)
    if param is not None and isinstance(param.type, click.Choice):
        choices = ", ".join(repr(str(c)) for c in param.type.choices)
        problem = f"the value given ({NOT_ECHOED}) is not one of {choices}"
    elif param is not None and isinstance(param.type, click.Path):
        problem = f"a path given ({NOT_ECHOED}) does not exist or cannot be used"
    else:
        problem = f"the value given ({NOT_ECHOED}) is not valid"
    return f"Invalid value for {hint}: {problem}. {FIX}."


def _names(command: click.Command) -> Iterator[str]:
    if command.name is not None:
        yield command.name
    for param in command.params:
        yield from param.opts
        yield from param.secondary_opts
        if isinstance(param.type, click.Choice):
            yield from (str(choice) for choice in param.type.choices)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield name
            yield from _names(sub)
