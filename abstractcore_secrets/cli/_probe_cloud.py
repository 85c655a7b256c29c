"""Doctor's checks of AWS Secrets Manager and Azure Key Vault.

Reachability and TLS of the endpoint the SDK client will call, the credentials its
default chain finds (never shown: only where they come from, and how long a token has
left), then reads. Each SDK's own error table has already told what a failed read means;
the fixes here name the CLI's flags and the cloud's permissions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ErrorCategory, SourceError
from . import _checks as checks
from . import _console as console
from . import _net
from ._checks import Check, Problem, Status
from ._probe import ProbeContext, SourceReport, read_keys
from ._usage import shown_value

if TYPE_CHECKING:
    from ..sources.base import SecretProvider

_KEY_VAULT_CLOUDS = (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net")


def probe_aws(source: SecretProvider, context: ProbeContext, report: SourceReport) -> None:
    """Check the AWS source: endpoint, TLS, credentials, then reads."""
    from ..sources.aws import AWSSecretsProvider

    assert isinstance(source, AWSSecretsProvider)  # noqa: S101 - the probe table says so
    url = str(source.client.meta.endpoint_url)
    report.target = f"{url} ({source.client.meta.region_name})"
    if context.configured("aws", "endpoint_url"):
        where = f"check the endpoint: --aws-endpoint-url (now {shown_value(url)})"
    else:
        where = "check the region (--aws-region, AWS_REGION) and the network path to AWS"
    endpoint = _net.endpoint_of(url)
    steps: list[Callable[[], Check | None]] = [
        lambda: _reach(endpoint, context, where),
        lambda: _tls(endpoint, context, ("AWS_CA_BUNDLE",), "set AWS_CA_BUNDLE to the CA bundle"),
        lambda: _aws_credentials(context),
    ]
    if not _run(steps, report):
        return
    template = source.secret_id_template.replace("{provider}", "*")

    def fix_for(error: SourceError) -> str | None:
        if error.category is ErrorCategory.FORBIDDEN:
            return (
                f"allow secretsmanager:GetSecretValue on the secrets {template} (and "
                "kms:Decrypt on their KMS key) to the identity"
            )
        if error.category is ErrorCategory.UNAUTHENTICATED:
            return "refresh the credentials: aws sso login, new access keys, or the role"
        return None

    report.checks += read_keys(source, context, expect_keys=True, fix_for=fix_for)


def probe_azure(source: SecretProvider, context: ProbeContext, report: SourceReport) -> None:
    """Check the Azure source: the vault's URL, TLS, a token from the credential, reads."""
    from ..sources.azure import AzureKeyVaultProvider

    assert isinstance(source, AzureKeyVaultProvider)  # noqa: S101 - the probe table says so
    report.target = source.vault_url
    endpoint = _net.endpoint_of(source.vault_url)
    fix = "check the vault's URL: --vault-url https://NAME.vault.azure.net"
    if endpoint is None or endpoint.scheme != "https":
        report.checks.append(
            checks.failure(
                "address",
                f"the vault URL {shown_value(source.vault_url)} is not an https:// URL",
                fix,
                Problem.CONFIGURATION,
            )
        )
        return
    steps: list[Callable[[], Check | None]] = [
        lambda: _reach(endpoint, context, fix),
        lambda: _tls(
            endpoint,
            context,
            _net.REQUESTS_CA_VARIABLES,
            "set REQUESTS_CA_BUNDLE to the CA bundle that signs it",
        ),
        lambda: _azure_token(endpoint, context),
    ]
    if not _run(steps, report):
        return

    def fix_for(error: SourceError) -> str | None:
        if error.category is ErrorCategory.FORBIDDEN:
            return (
                "grant the identity the 'Key Vault Secrets User' role on the vault (or a "
                "'get' secret access policy)"
            )
        return None

    report.checks += read_keys(source, context, expect_keys=True, fix_for=fix_for)


def _run(steps: list[Callable[[], Check | None]], report: SourceReport) -> bool:
    """Run checks in order until one fails; then mark the rest, and the reads, skipped."""
    names = ["reachable", "tls", "auth", "read"]
    for number, step in enumerate(steps):
        check: Check | None = step()
        if check is None:
            continue
        report.checks.append(check)
        if check.status is Status.FAIL:
            report.checks += checks.skipped(
                names[number + 1 :], f"not checked: {check.name} failed"
            )
            return False
    return True


def _reach(endpoint: _net.Endpoint | None, context: ProbeContext, fix: str) -> Check:
    if endpoint is None:
        return checks.failure(
            "reachable",
            "the endpoint is not an http:// or https:// URL",
            fix,
            Problem.CONFIGURATION,
        )
    return _net.reach(endpoint, context.timeout, fix)


def _tls(
    endpoint: _net.Endpoint | None,
    context: ProbeContext,
    variables: tuple[str, ...],
    fix_trust: str,
) -> Check | None:
    if endpoint is None or endpoint.scheme != "https":
        return None
    return _net.tls(endpoint, _net.default_ca_bundle(variables) or True, context.timeout, fix_trust)


def _aws_credentials(context: ProbeContext) -> Check:
    """Find the credentials boto3's default chain gives the source; name where they are from."""
    import boto3

    fix = (
        "give the application credentials: AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, or an IAM role where it runs"
    )
    try:
        found, took = checks.bounded(
            context.timeout, lambda: boto3.session.Session().get_credentials()
        )
    except checks.TimedOut:
        return checks.failure(
            "auth", f"no AWS credentials within {context.timeout:g} s", fix, Problem.FAILED
        )
    except Exception as exc:  # noqa: BLE001 - botocore's errors quote its config; only the type
        return checks.failure(
            "auth",
            f"the AWS credentials cannot be loaded ({type(exc).__name__})",
            fix,
            Problem.CONFIGURATION,
        )
    if found is None:
        return checks.failure("auth", "no AWS credentials found", fix, Problem.DENIED, took)
    method = getattr(found, "method", None)
    origin = shown_value(method).strip("'") if isinstance(method, str) else "the default chain"
    return checks.ok("auth", f"credentials from {origin} (checked by the reads below)", took)


def _azure_token(endpoint: _net.Endpoint, context: ProbeContext) -> Check:
    """Ask DefaultAzureCredential, as the source does, for a Key Vault token; say its life."""
    from azure.identity import DefaultAzureCredential

    suffix = next((s for s in _KEY_VAULT_CLOUDS if endpoint.host.endswith(s)), _KEY_VAULT_CLOUDS[0])
    scope = f"https://{suffix.lstrip('.')}/.default"
    fix = (
        "give the application an Azure identity: a managed identity, AZURE_CLIENT_ID, "
        "AZURE_TENANT_ID and AZURE_CLIENT_SECRET, or 'az login'"
    )
    credential = DefaultAzureCredential()
    try:
        token, took = checks.bounded(context.timeout, lambda: credential.get_token(scope))
    except checks.TimedOut:
        return checks.failure(
            "auth", f"no Azure token within {context.timeout:g} s", fix, Problem.FAILED
        )
    except Exception as exc:  # noqa: BLE001 - azure-identity's messages list every attempt
        return checks.failure(
            "auth",
            f"DefaultAzureCredential gave no token for Key Vault ({type(exc).__name__})",
            fix,
            Problem.DENIED,
        )
    finally:
        credential.close()
    console.learn(token.token)
    left = checks.time_left(token.expires_on - time.time())
    return checks.ok("auth", f"DefaultAzureCredential gave a Key Vault token, {left} left", took)
