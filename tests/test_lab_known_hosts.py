"""The embedded lab's known_hosts: the keys it generates for a host are
recorded (replacing the host's old ones), a key that changed inside a host
later is not, a destroyed host's keys are forgotten, and the file is what the
suite's connections verify against."""
import dataclasses

import paramiko

from lab.ssh import forget_host_keys, record_host_keys
from tests.test_host_keys import SSHServer, connect


def tree_with_keys(root, *keys):
    ssh = root / "etc/ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    for old in ssh.glob("*"):
        old.unlink()
    for i, key in enumerate(keys):
        (ssh / f"ssh_host_k{i}_key.pub").write_text(f"{key.get_name()} {key.get_base64()} root@base\n")
    return root


def test_generated_keys_replace_the_host_s_entry_and_later_changes_do_not(default_inventory, tmp_path):
    known = tmp_path / "known_hosts"
    controller, compute = (dataclasses.replace(default_inventory.host(n), known_hosts=known)
                           for n in ("controller", "compute1"))
    first = paramiko.ECDSAKey.generate()
    record_host_keys(compute, tree_with_keys(tmp_path / "c1", paramiko.ECDSAKey.generate()), generated=True)
    record_host_keys(controller, tree_with_keys(tmp_path / "ctl", first), generated=True)
    compute_line = next(l for l in known.read_text().splitlines() if l.startswith("192.168.0.1 "))
    assert f"192.168.0.5 {first.get_name()} {first.get_base64()}" in known.read_text().splitlines()

    changed = paramiko.ECDSAKey.generate()  # the key changed inside the running host
    record_host_keys(controller, tree_with_keys(tmp_path / "ctl", changed), generated=False)
    assert first.get_base64() in known.read_text() and changed.get_base64() not in known.read_text()

    rebuilt = paramiko.ECDSAKey.generate()  # the lab made the host anew
    record_host_keys(controller, tree_with_keys(tmp_path / "ctl", rebuilt), generated=True)
    text = known.read_text()
    assert rebuilt.get_base64() in text and first.get_base64() not in text and compute_line in text

    forget_host_keys(controller)
    assert known.read_text().splitlines() == [compute_line]


def test_a_tree_from_before_known_hosts_is_recorded_once(default_inventory, tmp_path):
    host = dataclasses.replace(default_inventory.host("controller"), known_hosts=tmp_path / "ssh/known_hosts")
    key = paramiko.ECDSAKey.generate()
    record_host_keys(host, tree_with_keys(tmp_path / "ctl", key), generated=False)
    assert host.known_hosts.read_text() == f"192.168.0.5 {key.get_name()} {key.get_base64()}\n"


def test_the_suite_connects_with_what_the_lab_recorded(default_inventory, tmp_path):
    server = SSHServer()
    try:
        client_key = paramiko.ECDSAKey.generate()
        client_key.write_private_key_file(str(tmp_path / "id"))
        host = dataclasses.replace(default_inventory.host("controller"), address="127.0.0.1", port=server.port,
                                   key=tmp_path / "id", known_hosts=tmp_path / "known_hosts")
        record_host_keys(host, tree_with_keys(tmp_path / "ctl", server.host_key), generated=True)
        assert host.known_hosts.read_text().startswith(f"[127.0.0.1]:{server.port} ")
        connect(host).close()
    finally:
        server.close()
