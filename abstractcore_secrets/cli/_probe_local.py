"""Doctor's checks of the local sources: the environment and the config file.

Both are read as the resolver reads them; a value that the resolver would refuse, a
variable and its ``_FILE`` both set, a key file or config file that others can read, all
show as failures with their fix. The environment read is the one ``doctor`` runs in: the
application's may differ.
"""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING

from . import _checks as checks
from ._probe import ProbeContext, SourceReport, read_keys

if TYPE_CHECKING:
    from ..sources.base import SecretProvider


def probe_environment(source: SecretProvider, context: ProbeContext, report: SourceReport) -> None:
    """Read each provider's variables (and ``_FILE`` files) in this process's environment."""
    report.target = "the environment doctor runs in"
    report.checks += read_keys(source, context, expect_keys=False)


def probe_config_file(source: SecretProvider, context: ProbeContext, report: SourceReport) -> None:
    """Check the config file's presence and mode, then read its ``api_keys``."""
    from ..sources.config import ConfigFileSecretProvider

    assert isinstance(source, ConfigFileSecretProvider)  # noqa: S101 - the probe table says so
    path = source.file.path
    report.target = str(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        report.checks.append(
            checks.ok("file", "none yet: 'abstractcore-secrets set-key PROVIDER' creates it")
        )
        return
    except OSError as exc:
        report.checks.append(
            checks.failure(
                "file",
                f"{path} cannot be read ({type(exc).__name__})",
                "check the path and its permissions",
                checks.Problem.CONFIGURATION,
            )
        )
        return
    report.checks.append(checks.ok("file", f"mode {mode:04o}"))
    report.checks += read_keys(source, context, expect_keys=False)
