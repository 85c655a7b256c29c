"""Errors and failed resolutions survive pickle and deepcopy; a found key never is pickled.

Every exception and warning the library gives its users is defined in ``errors.py``: the
round trips walk that module, and a walk of the whole package finds any defined elsewhere.
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.util
import inspect
import multiprocessing
import pickle
import pkgutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import abstractcore_secrets
from abstractcore_secrets import SecretsManager, errors
from abstractcore_secrets._files import (
    FileTooLargeError,
    InsecureFileWarning,
    NotRegularFileError,
    NotUTF8Error,
)
from abstractcore_secrets._fingerprint import FingerprintKeyWarning
from abstractcore_secrets._resolution import Attempt, Outcome, Resolution
from abstractcore_secrets.audit._middleware import (
    AuditFailureWarning,
    AuditMiddleware,
    AuditUnavailableError,
)
from abstractcore_secrets.audit.journal import JournalTamperedError
from abstractcore_secrets.errors import (
    InvalidSourceError,
    ResolutionDeniedError,
    ResolutionError,
    SecretsError,
    SourceError,
    SourceForbiddenError,
)
from abstractcore_secrets.testing import FailingSecretProvider, InMemorySecretProvider
from abstractcore_secrets.testing.canary import canary, exception_texts, find_leaks

PACKAGE = abstractcore_secrets.__name__

INTERNAL_SIGNALS = {
    # Vault's 429, raised by the session's response hook and translated by the Vault source
    # to a SourceThrottledError before anything leaves it; no user ever catches it.
    f"{PACKAGE}.sources._vault_session.VaultRateLimited",
    # doctor's bound on one check, raised by its timeout wrapper and turned into a failed
    # check by the probe that called it; it never leaves the command.
    f"{PACKAGE}.cli._checks.TimedOut",
}
"""Exception classes allowed outside errors.py: control flow inside one source, never raised."""

RUNS_ON_IMPORT = f"{PACKAGE}.__main__"


def _fail_on_import_error(name: str) -> None:
    # walk_packages' default swallows a package's ImportError: every extra is installed
    # here, so a module that does not import is a broken module, not a missing extra.
    raise ImportError(f"{name} could not be imported")


def _import_every_module() -> list[str]:
    """Import each module of the package (not ``__main__``, which runs the CLI); their names."""
    names = [PACKAGE]
    for module in pkgutil.walk_packages(
        abstractcore_secrets.__path__, PACKAGE + ".", onerror=_fail_on_import_error
    ):
        if module.name != RUNS_ON_IMPORT:
            importlib.import_module(module.name)
            names.append(module.name)
    return names


def _subclasses(root: type[BaseException]) -> Iterator[type[BaseException]]:
    yield root
    for child in root.__subclasses__():
        yield from _subclasses(child)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


MODULES = _import_every_module()
ERROR_CLASSES = sorted(
    (
        c
        for c in vars(errors).values()
        if inspect.isclass(c) and issubclass(c, BaseException) and c.__module__ == errors.__name__
    ),
    key=lambda c: c.__qualname__,
)
"""Every exception and warning class defined in errors.py, found by looking, not listed."""


class TestOneErrorModule:
    def test_no_exception_or_warning_is_defined_elsewhere(self) -> None:
        """Outside errors.py, the package defines no exception or warning but the internal ones."""
        elsewhere = sorted(
            _qualified(c)
            for c in set(_subclasses(BaseException))
            if c.__module__ in MODULES and c.__module__ != errors.__name__
        )
        strays = [name for name in elsewhere if name not in INTERNAL_SIGNALS]
        assert strays == [], "move to errors.py: " + ", ".join(strays)

    def test_internal_signals_still_exist(self) -> None:
        """Each allowed exception still exists where the allow-list says (no stale entry)."""
        found = {_qualified(c) for c in _subclasses(BaseException)}
        assert found >= INTERNAL_SIGNALS

    def test_main_defines_no_class(self) -> None:
        """``__main__`` is read, not imported (it runs the CLI): it defines no class at all."""
        spec = importlib.util.find_spec(RUNS_ON_IMPORT)
        assert spec is not None
        assert spec.origin is not None
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        assert [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)] == []

    def test_every_class_is_exported_and_drawn(self) -> None:
        """Each class of errors.py is in its ``__all__`` and has a line in the drawn tree."""
        assert errors.__doc__ is not None
        drawn = {
            line.strip().lstrip("│├└─ ").split()[0]
            for line in errors.__doc__.splitlines()
            if line.startswith("    ") and line.strip()
        }
        names = {c.__name__ for c in ERROR_CLASSES}
        assert sorted(names - set(errors.__all__)) == []
        assert sorted(names - drawn) == []

    @pytest.mark.parametrize(
        ("module", "name"),
        [
            ("audit", "AuditFailureWarning"),
            ("audit", "AuditUnavailableError"),
            ("audit._pipeline", "AuditFailureWarning"),
            ("audit.middleware", "AuditFailureWarning"),
            ("audit.middleware", "AuditUnavailableError"),
            ("audit.journal", "JournalTamperedError"),
            ("files", "InsecureFileWarning"),
            ("files", "NotRegularFileError"),
            ("files", "FileTooLargeError"),
            ("files", "NotUTF8Error"),
            ("fingerprint", "FingerprintKeyWarning"),
        ],
    )
    def test_old_import_paths_give_the_same_class(self, module: str, name: str) -> None:
        """A class moved into errors.py is still importable, the very same, where it was."""
        old = getattr(importlib.import_module(f"{PACKAGE}.{module}"), name)
        assert old is getattr(errors, name, None)


class _FullDisk:
    """A durable audit sink that cannot write, so that block mode denies a found key."""

    name = "full-disk"
    durable = True

    def __call__(self, event: dict[str, Any]) -> None:
        raise OSError(28, "No space left on device")


def _failed_resolution(error: SourceError | None = None) -> Resolution:
    failing = FailingSecretProvider(
        error or InvalidSourceError("corrupt value", source="failing", locator="failing:openai")
    )
    return SecretsManager([failing], cache=None).resolve("openai")


def _sample(name: str) -> object:
    samples: dict[str, object] = {
        "message": "what went wrong; how to fix it",
        "provider": "openai",
        "module": "hvac",
        "extra": "vault",
        "resolution": _failed_resolution(),
        "source": "vault",
        "locator": "secret/data/llm#openai",
        "request_id": "req-42",
        "retry_after": 2.5,
    }
    assert name in samples, f"no sample for parameter {name!r}: add one"
    return samples[name]


def _construct(cls: type[BaseException]) -> BaseException:
    """Build ``cls`` through its real signature, every parameter given."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except ValueError:  # no __init__ of its own: the builtin's (message)
        return cls(_sample("message"))
    positional = [
        _sample(p.name)
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.name not in ("args", "kwargs")
    ]
    keywords = {p.name: _sample(p.name) for p in parameters if p.kind is p.KEYWORD_ONLY}
    if not positional and not keywords:  # (*args, **kwargs): Exception's own signature
        positional = [_sample("message")]
    return cls(*positional, **keywords)


def _state(value: object, seen: frozenset[int] = frozenset()) -> object:
    """A comparable picture of ``value``: errors by type, text and attributes, recursively."""
    if id(value) in seen:
        return "<cycle>"
    seen = seen | {id(value)}
    if isinstance(value, BaseException):
        attributes = {k: _state(v, seen) for k, v in sorted(vars(value).items())}
        # A builtin base keeps its own fields outside __dict__ (OSError.errno, ImportError.msg).
        for name in _BUILTIN_FIELDS.get(_builtin_base(type(value)), ()):
            attributes[name] = _state(getattr(value, name), seen)
        return (type(value), str(value), value.args, attributes)
    if isinstance(value, (Resolution, Attempt)):
        fields = {k: _state(getattr(value, k), seen) for k in type(value).__dataclass_fields__}
        return (type(value), fields)
    if isinstance(value, tuple):
        return tuple(_state(v, seen) for v in value)
    return value


_BUILTIN_FIELDS: dict[type[BaseException], tuple[str, ...]] = {
    OSError: ("errno", "strerror", "filename", "filename2"),
    ImportError: ("msg", "name", "path"),
}


def _builtin_base(cls: type[BaseException]) -> type[BaseException] | None:
    return next((base for base in _BUILTIN_FIELDS if issubclass(cls, base)), None)


def _pickled(value: object) -> Any:
    return pickle.loads(pickle.dumps(value))  # noqa: S301 - bytes this test just made


def _raise_from_sdk_error(cls: type[BaseException]) -> None:
    try:
        _sdk_call()
    except OSError as cause:
        raise _construct(cls) from cause


def _sdk_call() -> None:
    raise OSError("sdk detail")


def _raise_in_worker(kind: str, value: str) -> str:
    """Run in a worker process: raise what a real chain raises, or return on ``ok``."""
    if kind == "ok":
        return "ok"
    if kind == "failed":
        manager = SecretsManager(
            [
                FailingSecretProvider(
                    InvalidSourceError("corrupt value", source="failing", locator="vault:openai")
                ),
                InMemorySecretProvider({"openai": value}),
            ],
            cache=None,
        )
    else:
        manager = SecretsManager(
            [InMemorySecretProvider({"openai": value})],
            middleware=[AuditMiddleware([_FullDisk()], failure_mode="block")],
            cache=None,
        )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AuditFailureWarning)
        manager.get_api_key("openai")
    return "no error"


class TestErrorPickling:
    def test_every_class_is_walked(self) -> None:
        """The walk finds the whole tree: the errors and the warnings users catch or filter."""
        assert {
            SecretsError,
            SourceForbiddenError,
            ResolutionDeniedError,
            AuditUnavailableError,
            JournalTamperedError,
            NotRegularFileError,
            FileTooLargeError,
            NotUTF8Error,
            AuditFailureWarning,
            InsecureFileWarning,
            FingerprintKeyWarning,
        } <= set(ERROR_CLASSES)

    @pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
    @pytest.mark.parametrize("how", [_pickled, copy.deepcopy], ids=["pickle", "deepcopy"])
    def test_round_trips(self, cls: type[BaseException], how: Any) -> None:
        """Each class, built with its real signature, comes back equal in text and fields."""
        error = _construct(cls)
        back = how(error)
        assert type(back) is cls
        assert str(back) == str(error)
        assert _state(back) == _state(error)

    @pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
    def test_round_trips_once_raised(self, cls: type[BaseException]) -> None:
        """A raised error, with a traceback and a cause, pickles; the cause stays behind."""
        with pytest.raises(cls) as raised:
            _raise_from_sdk_error(cls)
        back = _pickled(raised.value)
        assert _state(back) == _state(raised.value)
        assert back.__cause__ is None

    @pytest.mark.parametrize(
        "cls",
        [c for c in ERROR_CLASSES if issubclass(c, OSError) and c.__init__ is OSError.__init__],
        ids=lambda c: c.__name__,
    )
    def test_os_errors_keep_errno_and_filename(self, cls: type[OSError]) -> None:
        """An OSError built the OS way, ``(errno, strerror, filename)``, keeps all three."""
        error = cls(28, "No space left on device", "audit.jsonl")
        back = _pickled(error)
        assert type(back) is cls
        assert (back.errno, back.strerror, back.filename) == (28, error.strerror, "audit.jsonl")
        assert _state(back) == _state(error)


class TestResolutionPickling:
    @pytest.mark.parametrize(
        "error",
        [
            InvalidSourceError("corrupt value", source="failing", locator="vault:openai"),
            SourceForbiddenError("revoked", source="failing", locator="vault:openai"),
        ],
        ids=["error", "denied"],
    )
    @pytest.mark.parametrize("how", [_pickled, copy.deepcopy], ids=["pickle", "deepcopy"])
    def test_failed_resolution_round_trips(self, error: SourceError, how: Any) -> None:
        """A failed resolution keeps its outcome, attempts and errors (message, source, locator)."""
        resolution = _failed_resolution(error)
        back = how(resolution)
        assert _state(back) == _state(resolution)
        assert back.error is not None
        assert back.attempts[0].error is not None
        attempt = back.attempts[0]
        assert (attempt.source, attempt.locator, attempt.error_type) == (
            "failing",
            "vault:openai",
            error.category.value,
        )
        assert (attempt.error.source, attempt.error.locator, str(attempt.error)) == (
            error.source,
            error.locator,
            str(error),
        )

    def test_found_resolution_refuses_pickling(self) -> None:
        """Pickling a found resolution raises a TypeError that says why, without the value."""
        value = canary()
        resolution = SecretsManager([InMemorySecretProvider({"openai": value})]).resolve("openai")
        with pytest.raises(TypeError, match="found Resolution cannot be pickled") as raised:
            pickle.dumps(resolution)
        # Frame locals would show this test's own copy of the value.
        assert find_leaks(exception_texts(raised.value, frame_locals=False), [value]) == []

    def test_found_resolution_deep_copies_within_the_process(self) -> None:
        """deepcopy stays in the process, so a found resolution copies with its value."""
        value = canary()
        resolution = SecretsManager([InMemorySecretProvider({"openai": value})]).resolve("openai")
        duplicate = copy.deepcopy(resolution)
        assert duplicate == resolution
        assert duplicate.value is not None
        assert duplicate.value.reveal() == value

    def test_attempt_is_pickled_without_its_value(self) -> None:
        """A found attempt pickles as its provenance; the record holding the value stays."""
        value = canary()
        resolution = SecretsManager([InMemorySecretProvider({"openai": value})]).resolve("openai")
        attempt = resolution.attempts[0]
        data = pickle.dumps(attempt)
        assert find_leaks([data], [value]) == []
        back = pickle.loads(data)  # noqa: S301 - bytes this test just made
        assert back == Attempt("memory", Outcome.FOUND, attempt.duration, "memory:openai")

    def test_audit_denial_round_trips_without_the_value(self) -> None:
        """A key denied because the audit failed: its error (a cycle) pickles, the key does not."""
        value = canary()
        manager = SecretsManager(
            [InMemorySecretProvider({"openai": value})],
            middleware=[AuditMiddleware([_FullDisk()], failure_mode="block")],
            cache=None,
        )
        with pytest.warns(AuditFailureWarning):
            resolution = manager.resolve("openai")
        error = resolution.error
        assert isinstance(error, AuditUnavailableError)
        data = pickle.dumps(error)
        assert find_leaks([data], [value]) == []
        back = pickle.loads(data)  # noqa: S301 - bytes this test just made
        assert back.resolution.error is back
        assert back.resolution.outcome is Outcome.DENIED
        assert back.resolution.attempts[0].record is None
        copied = copy.deepcopy(error)
        assert copied.resolution.error is copied


class TestProcessPool:
    @pytest.mark.parametrize(
        ("kind", "expected"),
        [("failed", ResolutionError), ("audit-denied", AuditUnavailableError)],
    )
    def test_error_from_a_worker_arrives_intact(self, kind: str, expected: type) -> None:
        """A worker's failed resolution reaches the parent whole; the pool keeps working."""
        value = canary()
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            with pytest.raises(expected) as raised:
                pool.submit(_raise_in_worker, kind, value).result(timeout=60)
            assert pool.submit(_raise_in_worker, "ok", value).result(timeout=60) == "ok"
        error = raised.value
        assert isinstance(error, ResolutionError)
        assert error.resolution.provider == "openai"
        # Frame locals would show this test's own copy of the value.
        assert find_leaks(exception_texts(error, frame_locals=False), [value]) == []
        assert find_leaks([pickle.dumps(error)], [value]) == []
        if kind == "failed":
            attempt = error.resolution.attempts[0]
            assert error.resolution.outcome is Outcome.ERROR
            assert (attempt.source, attempt.locator, attempt.error_type) == (
                "failing",
                "vault:openai",
                "invalid",
            )
            assert isinstance(attempt.error, InvalidSourceError)
            assert str(attempt.error) == "corrupt value"
        else:
            assert error.resolution.error is error
            assert error.resolution.outcome is Outcome.DENIED
