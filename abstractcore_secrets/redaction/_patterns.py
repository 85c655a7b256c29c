"""Key names and key formats that are redacted wherever they appear.

The formats come from public secret scanners (gitleaks, GitHub secret scanning).
"""

from __future__ import annotations

import functools
import re

SENSITIVE_KEY_NAMES = frozenset(
    {
        "api_key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "secret",
        "secret_id",
        "client_secret",
        "password",
        "passwd",
        "authorization",
        "x_api_key",
        "cookie",
        "session",
        "private_key",
        "credentials",
        "x_vault_token",
        "vault_token",
        "secret_string",
        "secretstring",
        "aws_secret_access_key",
        "aws_session_token",
    }
)
"""Compared after lower-casing and turning ``-`` into ``_``."""

AWS_CREDENTIAL_FIELDS = (
    "SecretAccessKey",
    "secret_access_key",
    "SessionToken",
    "session_token",
    "aws_secret_access_key",
    "aws_session_token",
    "WebIdentityToken",
    "x-amz-security-token",
    "x-amz-sso_bearer_token",
)
"""Temporary AWS credentials, logged by botocore before anything could learn them: STS
answers (AssumeRole, AssumeRoleWithWebIdentity, in XML), SSO's (JSON, ``secretAccessKey``),
the signed request's headers (``X-Amz-Security-Token``, also in the canonical request)."""

SECRET_FIELDS = (
    "SecretString",
    "SecretBinary",
    "secret_string",
    "api_key",
    "apiKey",
    "client_secret",
    "clientSecret",
    "password",
    "access_token",
    "accessToken",
    "refresh_token",
    "refreshToken",
    "secret_id",
    *AWS_CREDENTIAL_FIELDS,
)
"""Fields whose value is masked wherever a body is logged; names compared in any case."""

_FIELD = "(?i:{})".format("|".join(SECRET_FIELDS))  # names of letters, "-" and "_" only
_AWS_FIELD = "(?i:{})".format("|".join(AWS_CREDENTIAL_FIELDS))
# A quoted value, as JSON or a Python repr prints it (a bytes repr too: b'...'). A run of
# backslashes and the character after it never ends the value, so that quotes escaped twice
# (a JSON document inside a JSON string inside a bytes repr: {\\"openai\\": ...}) stay inside;
# a value ending in an escaped backslash then masks on to the next bare quote: more, never
# less. No closing quote (a truncated body): masked to the end. Escapes before a quote are
# bounded (four layers of JSON take 15): an unbounded run, tried at each of its backslashes,
# would cost the square of its length.
_QUOTED_VALUE = r"""b?\\{0,16}(?:"(?:[^"\\]|\\+[^\\])*(?:"|\\*$)|'(?:[^'\\]|\\+[^\\])*(?:'|\\*$))"""

# Order matters: the more specific format first (Anthropic's sk-ant- before OpenAI's sk-).
KEY_PATTERNS: dict[str, re.Pattern[str]] = {
    "anthropic": re.compile(r"sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{20,}"),
    "openai": re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    "aws_access_key_id": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b"),
    "vault_token": re.compile(r"\b(?:hvs|hvb|hvr)\.[A-Za-z0-9_-]{20,}|\bs\.[A-Za-z0-9]{24}\b"),
    "huggingface": re.compile(r"\bhf_[A-Za-z]{34}\b"),
    "github": re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_\w{22,}"),
    # Not a trailing \b: a key may end in "-", after which no word boundary follows.
    "google": re.compile(r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    "private_key": re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
    ),
    # A secret field inside a logged body (botocore logs requests and answers at DEBUG before
    # any value could be learnt): the field and its value are masked together. As JSON or a
    # repr (quotes maybe escaped), as XML (STS answers), as a header line or a query parameter
    # (the canonical request botocore logs, a presigned URL).
    "secret_field": re.compile(
        rf"""\\{{0,16}}["']{_FIELD}\\{{0,16}}["']\s*:\s*{_QUOTED_VALUE}"""
        rf"|<{_FIELD}>[^<]*"
        rf"""|\b{_AWS_FIELD}(?:[ \t]*:|=)[ \t]*[^\s&'"<>,;]+"""
    ),
    "bearer": re.compile(r"\b[Bb][Ee][Aa][Rr][Ee][Rr]\s+[A-Za-z0-9._~+/=-]{8,}"),
}


@functools.lru_cache(maxsize=4096)
def is_sensitive_key(name: str) -> bool:
    """Return whether a field, header or attribute named ``name`` holds a secret."""
    normalised = name.lower().replace("-", "_")
    return normalised in SENSITIVE_KEY_NAMES or normalised.rsplit(".", 1)[-1] in SENSITIVE_KEY_NAMES


COMBINED_PATTERN = re.compile(
    "|".join(f"(?P<{name}>{pattern.pattern})" for name, pattern in KEY_PATTERNS.items()),
    re.S,
)
"""All formats in one alternation: one scan of a text instead of one per format."""

SHORTEST_MATCH = 15
"""No format matches a text shorter than this (``bearer`` and 8 characters is the least)."""
