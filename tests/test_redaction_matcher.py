"""How the policy finds secrets: learnt values through one automaton, fields of SDK bodies.

Learnt values are matched leftmost, then longest, without overlaps, as the alternation of
their forms (longest first) that the automaton replaced did. Fields name what an SDK logs
before anything could learn it: a JSON secret escaped twice inside a bytes repr, temporary
AWS credentials in STS, SSO and web-identity answers, the signed request's token header.
"""

from __future__ import annotations

import json
import re
import threading

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from abstractcore_secrets.redaction import RedactionPolicy, encodings
from abstractcore_secrets.redaction._policy import MASK

# Few letters, so that values overlap and nest; quotes, slashes, "%" and "+" so that their
# encodings differ from them; none of the mask's characters.
ALPHABET = "abc01/+=%\"\\'é😀"
VALUES = st.lists(st.text(ALPHABET, min_size=6, max_size=24), min_size=1, max_size=8)


def _forms(value: str) -> set[str]:
    return {form for form in encodings(value) if len(form) >= 6}


def _alternation(values: list[str], text: str) -> str:
    """Mask as the policy did before the automaton: one regex, forms longest first."""
    needles = {form for value in values for form in _forms(value)}
    pattern = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    return pattern.sub(MASK, text)


@st.composite
def texts_with(draw: st.DrawFn) -> tuple[list[str], str]:
    """Draw values, and a text holding some of them and of their forms between fillers."""
    values = draw(VALUES)
    pieces = []
    for _ in range(draw(st.integers(1, 8))):
        pieces.append(draw(st.text(ALPHABET, max_size=10)))
        value = draw(st.sampled_from(values))
        pieces.append(draw(st.sampled_from(sorted(_forms(value)))))
    pieces.append(draw(st.text(ALPHABET, max_size=10)))
    return values, "".join(pieces)


class TestLearntValues:
    @given(texts_with())
    def test_no_learnt_value_survives_a_scrub(self, drawn):
        """Property: whatever values are learnt and however a text mixes them, none is left."""
        values, text = drawn
        for form in (form for value in values for form in _forms(value)):
            assume(form not in MASK)
        policy = RedactionPolicy(patterns=False)
        policy.add(*values)
        scrubbed = policy.scrub_text(text)
        assert [form for value in values for form in _forms(value) if form in scrubbed] == []

    @given(texts_with(), st.text(ALPHABET, max_size=30))
    def test_masks_what_the_alternation_masked(self, drawn, noise):
        """Property: the same text out as the longest-first alternation it replaced."""
        values, text = drawn
        policy = RedactionPolicy(patterns=False)
        policy.add(*values)
        for sample in (text, noise, noise + text + noise):
            assert policy.scrub_text(sample) == _alternation(values, sample)

    @pytest.mark.parametrize(
        ("learnt", "text", "scrubbed"),
        [
            (["abcdef12", "cdef1234"], "xabcdef1234y", f"x{MASK}34y"),
            (["abcdef", "abcdefgh"], "abcdefghij", f"{MASK}ij"),
            (["bcdefg", "abcdefgh"], "abcdefgh bcdefg", f"{MASK} {MASK}"),
            (["aaaaaa"], "aaaaaaaaaaaaa", f"{MASK}{MASK}a"),
        ],
        ids=["overlap", "prefix", "nested", "repeated"],
    )
    def test_leftmost_then_longest_without_overlaps(self, learnt, text, scrubbed):
        """The leftmost occurrence wins, then the longest starting there; none overlap."""
        policy = RedactionPolicy(patterns=False)
        policy.add(*learnt)
        assert policy.scrub_text(text) == scrubbed

    def test_a_forgotten_value_shares_no_form_with_a_kept_one(self):
        """Forgetting a value keeps the forms of the values still learnt."""
        policy = RedactionPolicy(patterns=False, max_values=2)
        policy.add("shared-prefix-one", "kept-value-two")
        policy.add("kept-value-two", "newest-value-3")  # refreshes two; forgets one
        assert policy.scrub_text("shared-prefix-one") == "shared-prefix-one"
        assert policy.scrub_text("kept-value-two newest-value-3") == f"{MASK} {MASK}"

    def test_every_value_is_masked_once_its_learning_returns(self):
        """Threads learning at once: each value is masked as soon as its add() returns."""
        policy = RedactionPolicy(patterns=False, max_values=10_000)
        failures: list[str] = []

        def learn(thread: int) -> None:
            for number in range(60):
                value = f"thread-{thread}-value-{number}"
                policy.add(value)
                if policy.scrub_text(f"<{value}>") != f"<{MASK}>":
                    failures.append(value)
                policy.add(f"thread-{thread}-value-0")  # a cache hit re-learning its key

        threads = [threading.Thread(target=learn, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        everything = " ".join(f"thread-{t}-value-{n}" for t in range(8) for n in range(60))
        assert set(policy.scrub_text(everything).split()) == {MASK}


SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN/bmV4dCB0b2tlbg+c2Vzc2lvbg=="
LLM_KEY = "mistral-key-never-resolved-0042"


def _bytes_repr(body: str) -> str:
    return f"Response body:\n{body.encode()!r}"


BODIES = {
    "sts-assume-role-xml": _bytes_repr(
        "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
        f"<AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>{SECRET}</SecretAccessKey>"
        f"<SessionToken>{TOKEN}</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>"
        "</Credentials></AssumeRoleResult></AssumeRoleResponse>"
    ),
    "sts-web-identity-xml": _bytes_repr(
        "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
        f"<SessionToken>{TOKEN}</SessionToken><SecretAccessKey>{SECRET}</SecretAccessKey>"
        "</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
    ),
    "sts-web-identity-request": (
        "Making request for OperationModel(name=AssumeRoleWithWebIdentity) with params: "
        + repr({"body": {"Action": "AssumeRoleWithWebIdentity", "WebIdentityToken": TOKEN}})
    ),
    "sso-role-credentials-json": _bytes_repr(
        json.dumps(
            {
                "roleCredentials": {
                    "accessKeyId": "ASIAEXAMPLE",
                    "secretAccessKey": SECRET,
                    "sessionToken": TOKEN,
                    "expiration": 1900000000000,
                }
            }
        )
    ),
    "sso-oidc-token-json": _bytes_repr(
        json.dumps({"accessToken": TOKEN, "refreshToken": SECRET, "expiresIn": 3600})
    ),
    "pascal-case-json": json.dumps(
        {"Credentials": {"SecretAccessKey": SECRET, "SessionToken": TOKEN}}
    ),
    "signed-request-headers": (
        "Sending http request: <AWSPreparedRequest stream_output=False, method=POST, "
        "headers={'X-Amz-Date': b'20300101T000000Z', "
        f"'X-Amz-Security-Token': b'{TOKEN}', 'x-amz-sso_bearer_token': b'{SECRET}', "
        "'Content-Length': '35'}>"
    ),
    "canonical-request": (
        "CanonicalRequest:\nPOST\n/\n\nhost:127.0.0.1\nx-amz-date:20300101T000000Z\n"
        f"x-amz-security-token:{TOKEN}\nx-amz-target:secretsmanager.GetSecretValue\n\n"
        "host;x-amz-date;x-amz-security-token;x-amz-target\n"
    ),
    "presigned-url": (
        "https://bucket.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Security-Token={TOKEN.replace('/', '%2F')}&X-Amz-Signature=abc"
    ),
    "environment-repr": repr({"AWS_SESSION_TOKEN": TOKEN, "aws_secret_access_key": SECRET}),
}
"""What botocore logs with temporary credentials in it; SECRET and TOKEN must not survive."""

JSON_SECRET = json.dumps({"openai": "sk-resolved", "mistral": LLM_KEY, "note": 'it\'s "x"'})
ESCAPED = {
    "bytes-repr": _bytes_repr(json.dumps({"ARN": "arn:x", "SecretString": JSON_SECRET})),
    "json-log-line": json.dumps(
        {"event": _bytes_repr(json.dumps({"SecretString": JSON_SECRET, "Name": "n"}))}
    ),
    "dict-repr": repr({"SecretString": JSON_SECRET, "Name": "n"}),
    "truncated": _bytes_repr(json.dumps({"SecretString": JSON_SECRET}))[:-20],
}
"""A key/value secret as logged: its document escaped once, twice, in a repr; cut short."""


class TestSecretFields:
    @pytest.mark.parametrize("body", list(BODIES))
    def test_temporary_credentials_in_sdk_bodies_are_masked(self, body):
        """STS, SSO and web-identity answers and signed headers: key and token masked."""
        scrubbed = RedactionPolicy().scrub_text(BODIES[body])
        assert SECRET not in scrubbed
        assert TOKEN not in scrubbed
        assert TOKEN.replace("/", "%2F") not in scrubbed
        assert MASK in scrubbed

    def test_what_is_not_a_credential_stays(self):
        """The expiration, the signed header names and the secret's id stay readable."""
        policy = RedactionPolicy()
        scrubbed = policy.scrub_text(BODIES["sts-assume-role-xml"])
        assert "<Expiration>2030-01-01T00:00:00Z</Expiration>" in scrubbed
        scrubbed = policy.scrub_text(BODIES["canonical-request"])
        assert "host;x-amz-date;x-amz-security-token;x-amz-target" in scrubbed
        assert "x-amz-target:secretsmanager.GetSecretValue" in scrubbed
        text = """Making request with params: {'body': b'{"SecretId": "abstractcore/openai"}'}"""
        assert policy.scrub_text(text) == text

    @pytest.mark.parametrize("logged", list(ESCAPED))
    def test_a_key_value_secret_is_masked_whole(self, logged):
        """Every field of a JSON secret is masked, its quotes escaped once, twice or cut."""
        scrubbed = RedactionPolicy().scrub_text(ESCAPED[logged])
        assert LLM_KEY not in scrubbed
        assert "sk-resolved" not in scrubbed
        assert "it\\" not in scrubbed
        assert MASK in scrubbed

    def test_fields_around_the_secret_stay(self):
        """The masking ends where the SecretString's value ends: the ARN and name stay."""
        scrubbed = RedactionPolicy().scrub_text(ESCAPED["bytes-repr"])
        assert '"ARN": "arn:x"' in scrubbed
        scrubbed = RedactionPolicy().scrub_text(ESCAPED["dict-repr"])
        assert scrubbed.endswith("'Name': 'n'}")
