"""Secrets: generated once, kept private, masked everywhere."""
import logging
import stat

import pytest

from deploy.remote import RemoteError
from deploy.secrets import MASK, Secrets, SecretsError, mask


def test_generated_once_and_private(tmp_path):
    path = tmp_path / "inv.secrets.yaml"
    first = Secrets(path).get("keystone_db")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = Secrets(path).get("keystone_db")
    assert first.reveal() == again.reveal() and len(first.reveal()) >= 20
    assert Secrets(path).get("nova_db").reveal() != first.reveal()


def test_secret_formats_masked(tmp_path):
    secret = Secrets(tmp_path / "s.yaml").get("rabbit")
    assert f"{secret}" == MASK and str(secret) == MASK and MASK in repr(secret)
    assert secret.reveal() not in f"password={secret}"


def test_mask_scrubs_known_values(tmp_path):
    secret = Secrets(tmp_path / "s.yaml").get("mariadb_root").reveal()
    assert mask(f"mysql -p{secret} -e 'select 1'") == f"mysql -p{MASK} -e 'select 1'"


def test_remote_error_masks_command_and_stderr(tmp_path):
    secret = Secrets(tmp_path / "s.yaml").get("glance_db").reveal()
    err = RemoteError("controller", f"mysql -p{secret}", 1, f"denied for {secret}")
    assert secret not in str(err) and "controller" in str(err) and "exit 1" in str(err)


def test_logs_are_masked(tmp_path, caplog):
    from pytest_deploy import _mask_records

    _mask_records()
    secret = Secrets(tmp_path / "s.yaml").get("nova_db").reveal()
    with caplog.at_level(logging.INFO):
        logging.getLogger("deploy.test").info("connecting with %s", secret)
    assert secret not in caplog.text and MASK in caplog.text


def test_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    Secrets(path).get("x")
    path.chmod(0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        Secrets(path)


def test_plan_mode_does_not_create(tmp_path):
    path = tmp_path / "s.yaml"
    assert "<secret:x>" == Secrets(path, create=False).get("x").reveal()
    assert not path.exists()


def test_generated_passwords_are_letters_and_digits():
    from deploy.secrets import new_password
    words = [new_password() for _ in range(200)]
    assert all(len(w) == 24 and w.isalnum() and w.isascii() for w in words)
    assert len(set(words)) == 200
