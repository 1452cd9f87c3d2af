"""Secrets: generated once, kept private, masked everywhere."""
import logging
import os
import stat

import pytest
import yaml

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
    from pytest_deploy.masking import install_log_masking

    install_log_masking()
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


def test_short_passwords_cannot_be_generated():
    from deploy.secrets import new_password
    with pytest.raises(SecretsError, match="too short"):
        new_password(8)


@pytest.mark.parametrize("value, why", [("", "0 characters"), ("abcd", "4 characters"),
                                        ("abcdefghijklmnop'", "only letters and digits"),
                                        ("abcdefghijklmnopq\n", "only letters and digits"),
                                        ("-abcdefghijklmnopq", "only letters and digits")])
def test_hand_edited_bad_value_is_refused_naming_the_key(tmp_path, value, why):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"keystone_db": "A" * 24, "nova_db": value}))
    path.chmod(0o600)
    with pytest.raises(SecretsError) as err:
        Secrets(path)
    message = str(err.value)
    assert f"{path}: nova_db: refused" in message and why in message and "\n" not in message
    if value:
        assert value.strip() not in message  # names the key, not the value


def test_a_pre_existing_world_readable_temp_file_is_not_used(tmp_path):
    path = tmp_path / "s.yaml"
    stale = tmp_path / "s.yaml.tmp"           # the name the old writer used
    stale.write_text("left over\n")
    stale.chmod(0o644)
    Secrets(path).get("x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stale.read_text() == "left over\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml", "s.yaml.tmp"]  # no temp file of ours left


def test_a_symlinked_temp_file_is_refused(tmp_path, monkeypatch):
    import deploy.secrets as module
    target = tmp_path / "elsewhere"
    target.write_text("not to be overwritten\n")
    path = tmp_path / "s.yaml"
    monkeypatch.setattr(module, "_temp_suffix", lambda: "fixed")
    (tmp_path / ".s.yaml.fixed.tmp").symlink_to(target)
    with pytest.raises(SecretsError, match="cannot create the secrets file's temporary file"):
        Secrets(path).get("x")
    assert target.read_text() == "not to be overwritten\n" and not path.exists()


def test_an_existing_temp_file_is_refused_not_truncated(tmp_path, monkeypatch):
    import deploy.secrets as module
    monkeypatch.setattr(module, "_temp_suffix", lambda: "fixed")
    other = tmp_path / ".s.yaml.fixed.tmp"
    other.write_text("someone else's\n")
    with pytest.raises(SecretsError, match="File exists"):
        Secrets(tmp_path / "s.yaml").get("x")
    assert other.read_text() == "someone else's\n"


def test_written_0600_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        Secrets(tmp_path / "s.yaml").get("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "s.yaml").stat().st_mode) == 0o600


def test_a_symlinked_secrets_file_is_refused(tmp_path):
    real = tmp_path / "real.yaml"
    Secrets(real).get("x")
    link = tmp_path / "s.yaml"
    link.symlink_to(real)
    with pytest.raises(SecretsError, match="is a symlink") as err:
        Secrets(link)
    assert "\n" not in str(err.value)


def test_a_secrets_file_of_another_owner_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "s.yaml"
    Secrets(path).get("x")
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(path).st_uid + 1)
    with pytest.raises(SecretsError, match="owned by uid"):
        Secrets(path)
