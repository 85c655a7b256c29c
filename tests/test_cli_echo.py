"""A key typed on the command line by mistake is never echoed back by a usage error."""

from __future__ import annotations

import re

import click
import pytest
from clirun import run_cli
from hypothesis import example, given, settings
from hypothesis import strategies as st

from abstractcore_secrets.cli import usage
from abstractcore_secrets.cli._console import Exit
from abstractcore_secrets.cli._source_flags import FLAGS
from abstractcore_secrets.cli.main import cli
from abstractcore_secrets.testing.canary import canary, find_leaks

KEY_SHAPES = {
    "openai-project": lambda: canary("sk-proj"),
    "plain-hex": lambda: canary().rpartition("-")[2],
    "fireworks": lambda: "fw_" + canary("").lstrip("-"),
    "vault-token": lambda: canary("hvs."),
    "aws-secret": lambda: canary("wJalr/K7MDENG+bPx"),
}

# {key} is the canary; {file} an existing file, so that only the key is wrong.
STRAY_ARGUMENT = {
    "get": ("get", "openai", "{key}"),
    "set-key": ("set-key", "openai", "{key}"),
    "demo": ("demo", "{key}"),
    "audit public-key": ("audit", "public-key", "{key}"),
    "audit verify": ("audit", "verify", "--key", "{file}", "{file}", "{key}"),
    "audit export": ("audit", "export", "{file}", "{key}"),
    "audit find-key": ("audit", "find-key", "{file}", "{key}"),
    "audit report": ("audit", "report", "-o", "{file}", "{file}", "{key}"),
}
KEY_AS_COMMAND = {
    "top level": ("{key}",),
    "after --status": ("--status", "{key}"),
    "audit subcommand": ("audit", "{key}"),
}
KEY_AS_OPTION_VALUE = {
    "export --format (choice)": ("audit", "export", "--format", "{key}", "{file}"),
    "export --outcome (choice)": ("audit", "export", "--outcome", "{key}", "{file}"),
    "--set-secrets-provider (choice)": ("--set-secrets-provider", "{key}"),
    "verify --key (path)": ("audit", "verify", "--key", "{key}", "{file}"),
    "verify paths (path)": ("audit", "verify", "--key", "{file}", "{key}"),
    "export --key= (path)": ("audit", "export", "--key={key}", "{file}"),
    "--vault-kv-version (choice)": (
        "--set-secrets-provider",
        "vault",
        "--vault-kv-version",
        "{key}",
    ),
    "--vault-auth (choice)": ("--set-secrets-provider", "vault", "--vault-auth", "{key}"),
    "doctor --timeout (number)": ("doctor", "--timeout", "{key}"),
}
KEY_AFTER_DOUBLE_DASH = {
    "top level": ("--", "{key}"),
    "get": ("get", "openai", "--", "{key}"),
    "audit verify": ("audit", "verify", "--key", "{file}", "--", "{key}"),
}
KEY_AS_UNKNOWN_OPTION = {
    "top level": ("--{key}",),
    "get": ("get", "openai", "--{key}"),
    "audit export": ("audit", "export", "--{key}", "{file}"),
    "with a value": ("status", "--{key}=value"),
}
CASES = {
    f"{group}: {name}": arguments
    for group, table in (
        ("stray argument", STRAY_ARGUMENT),
        ("key as command", KEY_AS_COMMAND),
        ("key as option value", KEY_AS_OPTION_VALUE),
        ("key after --", KEY_AFTER_DOUBLE_DASH),
        ("key as unknown option", KEY_AS_UNKNOWN_OPTION),
    )
    for name, arguments in table.items()
}


class TestUsageErrorsNeverEchoAKey:
    @pytest.mark.parametrize("shape", list(KEY_SHAPES), ids=list(KEY_SHAPES))
    @pytest.mark.parametrize("arguments", list(CASES.values()), ids=list(CASES))
    def test_the_key_is_in_neither_output_and_the_exit_code_is_usage(
        self, tmp_path, arguments, shape
    ):
        """Each misuse exits 2, says that an argument was not echoed, and prints no key."""
        key = KEY_SHAPES[shape]()
        existing = tmp_path / "journal.jsonl"
        existing.write_text("")
        result = run_cli(*(a.format(key=key, file=existing) for a in arguments))
        assert find_leaks([result.stdout, result.stderr], [key]) == []
        assert result.returncode == Exit.USAGE, result.stderr
        assert usage.NOT_ECHOED in result.stderr
        assert result.stdout == ""

    def test_names_the_way_to_give_a_key(self):
        """The message says where a key goes instead: set-key or find-key, on stdin."""
        result = run_cli("get", "openai", canary("sk-proj"))
        assert result.stderr.splitlines()[-1] == (
            f"Error: Got unexpected extra arguments ({usage.NOT_ECHOED}). {usage.FIX}."
        )

    def test_a_key_given_to_a_flag_names_the_flag_alone(self):
        """A value after a flag's '=' is refused by naming the flag, never the value."""
        key = canary("sk-proj")
        result = run_cli("get", "openai", f"--json={key}")
        assert (result.returncode, result.stdout) == (Exit.USAGE, "")
        assert result.stderr == "Error: Option '--json' does not take a value.\n"


# Every --set-secrets-provider flag that takes a value; {key} is the canary given to it.
SOURCE_FLAG_VALUES = {
    flag.flag: ("--set-secrets-provider", flag.source, flag.flag, "{key}", "--no-verify")
    for flag in FLAGS
    if flag.kind not in ("choice", "stdin")
}


class TestSourceFlagsNeverEchoAKey:
    @pytest.mark.parametrize("shape", list(KEY_SHAPES), ids=list(KEY_SHAPES))
    @pytest.mark.parametrize(
        "arguments", list(SOURCE_FLAG_VALUES.values()), ids=list(SOURCE_FLAG_VALUES)
    )
    def test_a_key_given_to_a_source_flag_is_refused_unechoed(self, config_path, arguments, shape):
        """A key pasted as a flag's value: exit 2, 'not echoed', nothing written or shown."""
        key = KEY_SHAPES[shape]()
        result = run_cli(*(a.format(key=key) for a in arguments))
        assert find_leaks([result.stdout, result.stderr], [key]) == []
        assert (result.returncode, result.stdout) == (Exit.USAGE, "")
        assert "not echoed" in result.stderr
        assert not config_path.exists()

    @pytest.mark.parametrize("shape", list(KEY_SHAPES), ids=list(KEY_SHAPES))
    @pytest.mark.parametrize("command", ["doctor", "status", "get", "set-key"])
    def test_a_key_given_as_provider_is_refused_unechoed(self, config_path, command, shape):
        """A key as PROVIDER, to any command taking one: exit 3, in the CLI's words."""
        key = KEY_SHAPES[shape]()
        result = run_cli(command, key, stdin="sk-never-stored-0001\n")
        assert find_leaks([result.stdout, result.stderr], [key, "sk-never-stored-0001"]) == []
        assert (result.returncode, result.stdout) == (Exit.CONFIGURATION, "")
        assert "PROVIDER" in result.stderr
        assert not config_path.exists()


class TestUsageErrorsStillHelp:
    def test_a_typo_of_a_command_is_echoed_with_a_suggestion(self):
        """A short word is no key: click's message and its suggestion are kept."""
        result = run_cli("stauts")
        assert result.returncode == Exit.USAGE
        assert "Error: No such command 'stauts'." in result.stderr
        assert "'status'" in result.stderr

    def test_the_usage_line_and_help_hint_name_the_command(self):
        """The usage line and the help hint stay, naming only the command that was found."""
        result = run_cli("get", "openai", canary("sk-proj"))
        lines = result.stderr.splitlines()
        assert lines[0].startswith("Usage: ")
        assert lines[0].endswith(" get [OPTIONS] PROVIDER")
        assert lines[1].startswith("Try '")
        assert lines[1].endswith(" get --help' for help.")

    def test_a_missing_short_path_is_echoed(self):
        """A short file name is named in the error, as click names it."""
        result = run_cli("audit", "export", "nope.jsonl")
        assert result.returncode == Exit.USAGE
        assert "Path 'nope.jsonl' does not exist." in result.stderr

    def test_a_defined_name_is_echoed_next_to_a_key(self):
        """An unknown option is named when short, and click's close matches are kept."""
        result = run_cli("audit", "export", "--formt", "csv", canary("sk-proj"))
        assert result.returncode == Exit.USAGE
        assert "No such option '--formt'. (Did you mean '--format'?)" in result.stderr


class TestMayEcho:
    @pytest.mark.parametrize(
        ("token", "expected"),
        [
            ("status", True),
            ("--set-secrets-provider", True),
            ("openai_compatible", True),
            ("--format=csv", True),
            ("--", True),
            ("-", True),
            ("audit.jsonl", True),
            ("x" * usage.SHORT, True),
            ("x" * (usage.SHORT + 1), False),
            ("--vault-addr=https://vault.example.com:8200", False),
            ("sk-proj-" + "a" * 40, False),
            ("key with spaces", False),
            ("a'b", False),
        ],
        ids=lambda value: str(value)[:24],
    )
    def test_only_defined_names_and_short_words(self, token, expected):
        """Defined names and words of at most SHORT safe characters may be printed."""
        assert usage.may_echo(token, usage.defined_names(cli)) is expected


_LONG_TOKENS = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=usage.SHORT + 1
).filter(lambda token: not token.startswith("-") and token not in usage.defined_names(cli))


@settings(max_examples=60, deadline=None)
@given(token=_LONG_TOKENS, where=st.sampled_from(["command", "extra", "choice", "option"]))
@example(token="0000000000000000=", where="option")
@example(token="000000000000000=0", where="option")
@example(token="=0000000000000000", where="option")  # "--=...": click quotes only "--"
def test_no_long_token_survives_any_usage_error(token, where):
    """Any long token that is not a defined name is left out of the message, in any form."""
    arguments = {
        "command": [token],
        "extra": ["get", "openai", token],
        "choice": ["--set-secrets-provider", token],
        "option": ["get", "openai", f"--{token}"],
    }[where]
    with pytest.raises(click.UsageError) as caught:
        cli.main(arguments, standalone_mode=False)
    message = usage.describe(caught.value, arguments, cli)
    assert find_leaks([message], [token]) == []
    # Quoted only what may be: "--<short word>=<short word>" is two short words, and "--"
    # (all click quotes of "--=<token>") is no word at all.
    names = usage.defined_names(cli)
    assert usage.NOT_ECHOED in message or all(
        usage.may_echo(quoted, names) for quoted in re.findall(r"'([^']*)'", message)
    )


@pytest.mark.parametrize("token", ["--0000000000000000=", "--deadbeefdeadbeef", "0123456789abcdef"])
def test_a_short_token_shaped_like_a_key_is_not_echoed(token):
    """Sixteen hex digits are short, and a key's shape: the message does not quote them."""
    arguments = ["get", "openai", token]
    with pytest.raises(click.UsageError) as caught:
        cli.main(arguments, standalone_mode=False)
    message = usage.describe(caught.value, arguments, cli)
    assert token.strip("-=") not in message
    assert usage.NOT_ECHOED in message
