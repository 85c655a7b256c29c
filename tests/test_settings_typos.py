"""A typo anywhere in the ``secrets`` section is refused, with the name it was meant to be.

Whichever profile is active: a profile used once a month must not fail only on that day, and
a source configured outside the chain must not be configured in vain. A key pasted where a
name belongs is never repeated, only described.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abstractcore_secrets.assembly import build_secrets_manager
from abstractcore_secrets.errors import ConfigurationError
from abstractcore_secrets.settings import load_settings

PASTED_KEY = "sk-proj-" + "Q7w2E9r4T1y6" * 4


def _write(path: Path, secrets_section: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.write_text(json.dumps({"secrets": secrets_section}))
    path.chmod(0o600)


def _refusal(config_path: Path, secrets_section: object) -> str:
    _write(config_path, secrets_section)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    return str(raised.value)


@pytest.mark.parametrize(
    ("section", "meant"),
    [
        ({"chian": ["env"]}, "chain"),
        ({"cahce": {"ttl": 5}}, "cache"),
        ({"resilence": {"attempts": 2}}, "resilience"),
        ({"profils": {}}, "profiles"),
        ({"insecure_file": "warn"}, "insecure_files"),
    ],
)
def test_a_misspelt_setting_is_refused_with_the_right_name(
    config_path: Path, section: dict[str, object], meant: str
) -> None:
    message = _refusal(config_path, section)
    assert "unknown settings" in message
    assert f"did you mean {meant!r}?" in message


def test_a_misspelt_source_is_refused_even_outside_the_chain(config_path: Path) -> None:
    message = _refusal(
        config_path, {"chain": ["env", "config"], "sources": {"valt": {"addr": "https://v:8200"}}}
    )
    assert "unknown source 'valt'" in message
    assert "did you mean 'vault'?" in message


def test_an_option_of_a_source_outside_the_chain_is_checked(config_path: Path) -> None:
    message = _refusal(
        config_path, {"chain": ["env", "config"], "sources": {"aws": {"regoin": "eu-west-1"}}}
    )
    assert "secrets.sources.aws has unknown options ['regoin']" in message
    assert "did you mean 'region'?" in message


def test_a_mistyped_option_of_a_source_outside_the_chain_is_checked(config_path: Path) -> None:
    message = _refusal(config_path, {"chain": ["env"], "sources": {"vault": {"timeout": "soon"}}})
    assert "secrets.sources.vault.timeout" in message


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"chain": ["env", "valt"]}, "did you mean 'vault'?"),
        ({"cache": {"tll": 3}}, "did you mean 'ttl'?"),
        ({"sources": {"azure": {"vault_ulr": "https://x.vault.azure.net"}}}, "'vault_url'"),
        ({"chian": ["env"]}, "did you mean 'chain'?"),
        ({"audit": {"hits": "sometimes"}}, "secrets.audit.hits"),
        ({"insecure_files": "maybe"}, "insecure_files"),
    ],
)
def test_an_inactive_profile_is_checked_as_if_active(
    config_path: Path, profile: dict[str, object], expected: str
) -> None:
    message = _refusal(
        config_path, {"chain": ["env", "config"], "profiles": {"prod": profile, "dev": {}}}
    )
    assert expected in message
    assert "(in profile 'prod')" in message or "secrets.profiles.'prod'" in message


def test_profile_only_settings_are_refused_inside_a_profile(config_path: Path) -> None:
    message = _refusal(config_path, {"profiles": {"dev": {"profiles": {}}}})
    assert "secrets.profiles.'dev' has unknown settings ['profiles']" in message


@pytest.mark.parametrize(
    "section",
    [
        {PASTED_KEY: True},
        {"sources": {PASTED_KEY: {}}},
        {"sources": {"vault": {PASTED_KEY: 1}}},
        {"profiles": {"dev": {PASTED_KEY: 1}}},
        {"profiles": {PASTED_KEY: {"chian": []}}},
        {"profiles": {"dev": {"sources": {"vault": {"token": 1}}}}, "chain": ["env"]},
    ],
)
def test_a_key_pasted_as_a_name_is_never_repeated(
    config_path: Path, section: dict[str, object]
) -> None:
    message = _refusal(config_path, section)
    assert PASTED_KEY not in message
    assert PASTED_KEY[8:20] not in message


def test_the_documented_example_with_profiles_still_loads(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = {
        "chain": ["env", "vault", "config"],
        "cache": {"ttl": 300, "negative_ttl": 30, "max_stale": 900},
        "insecure_files": "refuse",
        "sources": {
            "vault": {"addr": "https://vault.example.com:8200", "path": "secret/data/abstractcore"}
        },
        "resilience": {"attempts": 3, "failure_threshold": 5, "reset_timeout": 30},
        "audit": {"sinks": ["log"], "hits": "summary", "summary_window": 60},
        "telemetry": {"hits": "event"},
        "profile": "dev",
        "profiles": {
            "dev": {"chain": ["env", "config"], "cache": {"ttl": "60"}},
            "prod": {"sources": {"aws": {"region": "eu-west-1"}}, "audit": {"journal": None}},
        },
    }
    _write(config_path, section)
    settings = load_settings()
    assert settings.chain == ("env", "config")
    assert settings.cache.ttl == 60
    monkeypatch.setenv("ABSTRACTCORE_SECRETS_PROFILE", "prod")
    prod = load_settings()  # its chain is the base one: aws is configured, not chained
    assert prod.chain == ("env", "vault", "config")
    assert prod.sources["aws"] == {"region": "eu-west-1"}


def test_no_secrets_section_is_no_typo(config_path: Path) -> None:
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps({"api_keys": {"openai": "sk-test-000000000000"}}))
    config_path.chmod(0o600)
    assert load_settings().chain == ("env", "config")
    build_secrets_manager().close()


def test_a_misspelt_variable_is_refused_with_the_right_name(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABSTRACTCORE_SECRETS_CHIAN", "env,config")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert "did you mean 'ABSTRACTCORE_SECRETS_CHAIN'?" in str(raised.value)


def test_a_variable_named_like_a_key_is_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "ABSTRACTCORE_SECRETS_" + PASTED_KEY.upper().replace("-", "_")
    monkeypatch.setenv(name, "1")
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert PASTED_KEY.upper().replace("-", "_")[8:20] not in str(raised.value)


def test_every_variable_we_read_is_known() -> None:
    from abstractcore_secrets import envvars

    assert "ABSTRACTCORE_SECRETS_TELEMETRY_EXIT_TIMEOUT" in envvars.ours()
    assert "ABSTRACTCORE_SECRETS_AUDIT_QUEUE_SIZE" in envvars.ours()
    assert envvars.PREFIX not in envvars.ours()
