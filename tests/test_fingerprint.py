"""Fingerprints: keyed, stable on one installation, and the key file is private."""

from __future__ import annotations

import multiprocessing
import stat

import pytest

from abstractcore_secrets import ConfigurationError, Fingerprinter, Secret
from abstractcore_secrets._fingerprint import FingerprintKeyWarning, default_key_path


def _fingerprint_in_child(queue, barrier) -> None:
    barrier.wait()  # all children reach the key file's creation together
    queue.put(Fingerprinter().fingerprint("same-value"))


class TestFingerprinter:
    def test_format_and_stability(self, fingerprinter):
        """hmac-sha256:<64 hex>, equal for equal values, different for different ones."""
        first = fingerprinter.fingerprint(Secret("sk-one"))
        assert first.startswith("hmac-sha256:")
        assert len(first) == len("hmac-sha256:") + 64
        assert first == fingerprinter.fingerprint("sk-one")
        assert first != fingerprinter.fingerprint("sk-two")

    def test_keyed_so_other_installations_differ(self):
        """Another key gives another fingerprint: it cannot be tested without the key."""
        assert Fingerprinter(b"key-a-0123456789").fingerprint("v") != Fingerprinter(
            b"key-b-0123456789"
        ).fingerprint("v")

    def test_installation_key_is_created_private_and_reused(self):
        """The first use creates the key file 0600 in a 0700 folder; later uses reuse it."""
        first = Fingerprinter().fingerprint("v")
        path = default_key_path()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert Fingerprinter().fingerprint("v") == first

    def test_processes_racing_to_create_the_key_agree(self):
        """Processes started together end with one key, so their fingerprints match."""
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        barrier = context.Barrier(6)
        children = [
            context.Process(target=_fingerprint_in_child, args=(queue, barrier)) for _ in range(6)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join(timeout=30)
        results = {queue.get(timeout=5) for _ in children}
        assert results == {Fingerprinter().fingerprint("same-value")}

    def test_key_from_environment(self, monkeypatch):
        """ABSTRACTCORE_SECRETS_FINGERPRINT_KEY makes hosts agree; no file is written."""
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_FINGERPRINT_KEY", "shared-key-0123456789")
        expected = Fingerprinter(b"shared-key-0123456789").fingerprint("v")
        assert Fingerprinter().fingerprint("v") == expected
        assert not default_key_path().exists()

    def test_unwritable_home_falls_back_with_a_warning(self, tmp_path):
        """A read-only home does not break resolutions: a process key, and a warning."""
        blocked = tmp_path / "a-file"  # a folder cannot be made under it, even by root
        blocked.write_text("")
        fingerprinter = Fingerprinter(key_path=blocked / "secrets" / "fingerprint.key")
        with pytest.warns(FingerprintKeyWarning, match="ABSTRACTCORE_SECRETS_FINGERPRINT_KEY"):
            first = fingerprinter.fingerprint("v")
        assert first == fingerprinter.fingerprint("v")

    def test_short_environment_key_is_refused(self, monkeypatch):
        """A short key is refused with a command that makes a good one."""
        monkeypatch.setenv("ABSTRACTCORE_SECRETS_FINGERPRINT_KEY", "short")
        with pytest.raises(ConfigurationError, match=r"secrets\.token_hex"):
            Fingerprinter().fingerprint("v")


class TestKeyFileMode:
    """The fingerprint key is a key file: refused when group or others can read it."""

    def test_a_readable_key_file_is_refused(self, tmp_path):
        """A 0644 key file stops fingerprinting with the chmod that fixes it."""
        from abstractcore_secrets.errors import InsecureFileError

        path = tmp_path / "fingerprint.key"
        path.write_text("k" * 64)
        path.chmod(0o644)
        with pytest.raises(InsecureFileError, match=f"chmod 600 {path}"):
            Fingerprinter(key_path=path).fingerprint("value-to-fingerprint")

    def test_warn_policy_reads_it_with_a_warning(self, tmp_path, monkeypatch):
        """With ABSTRACTCORE_SECRETS_INSECURE_FILES=warn it is read, and said so."""
        from abstractcore_secrets._files import InsecureFileWarning

        monkeypatch.setenv("ABSTRACTCORE_SECRETS_INSECURE_FILES", "warn")
        path = tmp_path / "fingerprint.key"
        path.write_text("k" * 64)
        path.chmod(0o640)
        with pytest.warns(InsecureFileWarning):
            assert Fingerprinter(key_path=path).fingerprint("v").startswith("hmac-sha256:")
