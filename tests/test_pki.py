"""The suite's certificate authority: made once, 0600 files in a 0700 folder
beside the secrets file; a certificate reused until what it names changes;
keys masked; openssl accepts what it signs."""
import os
import stat
import subprocess

from deploy.pki import Authority, folder_for
from deploy.secrets import Secrets, mask


def authority(tmp_path):
    return Authority.beside(Secrets(tmp_path / "lab.secrets.yaml"))


def test_the_folder_sits_beside_the_secrets_file(tmp_path):
    assert folder_for(tmp_path / "inventory.secrets.yaml") == tmp_path / "inventory.pki"


def test_files_are_private_and_a_certificate_is_reused(tmp_path):
    pki = authority(tmp_path)
    first = pki.issue("compute1", ["compute1", "192.168.0.1"], "both")
    again = authority(tmp_path).issue("compute1", ["192.168.0.1", "compute1"], "both")
    assert again.cert == first.cert and again.key.reveal() == first.key.reveal()
    folder = tmp_path / "lab.pki"
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    for f in folder.rglob("*"):
        assert stat.S_IMODE(os.stat(f).st_mode) == (0o700 if f.is_dir() else 0o600), f
    assert "BEGIN PRIVATE KEY" not in mask(f"log: {first.key.reveal()}")
    assert str(first.key) == "******"


def test_a_changed_address_or_purpose_issues_again(tmp_path):
    pki = authority(tmp_path)
    first = pki.issue("compute1", ["compute1", "192.168.0.1"], "both")
    moved = pki.issue("compute1", ["compute1", "192.168.0.9"], "both")
    assert moved.cert != first.cert
    assert pki.issue("compute1", ["compute1", "192.168.0.9"], "server").cert != moved.cert


def test_openssl_verifies_the_chain_and_names(tmp_path):
    pki = authority(tmp_path)
    issued = pki.issue("gateway", ["198.51.100.1"], "server")
    (tmp_path / "leaf.pem").write_text(issued.cert)
    done = subprocess.run(["openssl", "verify", "-CAfile", str(pki.ca_path()), "-purpose", "sslserver",
                           "-verify_ip", "198.51.100.1", str(tmp_path / "leaf.pem")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    wrong = subprocess.run(["openssl", "verify", "-CAfile", str(pki.ca_path()), "-verify_ip", "198.51.100.2",
                            str(tmp_path / "leaf.pem")], capture_output=True, text=True)
    assert wrong.returncode != 0


def test_placeholders_touch_nothing(tmp_path):
    pki = Authority.beside(Secrets(tmp_path / "none.secrets.yaml", create=False))
    assert pki.issue("x", ["x"]).cert.startswith("<certificate:")
    assert not (tmp_path / "none.pki").exists()


def test_threads_with_their_own_authority_make_one_ca(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    secrets = Secrets(tmp_path / "lab.secrets.yaml")
    with ThreadPoolExecutor(8) as pool:
        pems = set(pool.map(lambda _: Authority.beside(secrets).ca_pem(), range(16)))
    assert len(pems) == 1


def test_a_certificate_of_another_ca_or_with_a_stray_key_is_issued_again(tmp_path):
    import shutil
    pki = authority(tmp_path)
    first = pki.issue("compute1", ["192.168.0.1"], "both")
    folder = tmp_path / "lab.pki"
    # the CA made again (same name, new key): the old certificate is not its own
    (folder / "ca.pem").unlink()
    (folder / "ca.key").unlink()
    again = authority(tmp_path).issue("compute1", ["192.168.0.1"], "both")
    assert again.cert != first.cert
    # a key that is not the certificate's (a renewal that died between its writes)
    shutil.copy(folder / "issued" / "compute1.key", tmp_path / "kept.key")
    third = authority(tmp_path)
    other = third.issue("compute2", ["192.168.0.2"], "both")
    (folder / "issued" / "compute1.key").write_text(other.key.reveal())
    assert authority(tmp_path).issue("compute1", ["192.168.0.1"], "both").cert != again.cert


def test_a_host_named_ca_leaves_the_authority_alone(tmp_path):
    pki = authority(tmp_path)
    ca = pki.ca_pem()
    pki.issue("ca", ["192.168.0.9"], "both")
    assert authority(tmp_path).ca_pem() == ca
