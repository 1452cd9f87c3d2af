"""Secrets and host keys on the deployed embedded lab, for real.

- Passwords out of the way: the MariaDB, RabbitMQ and Keystone admin passwords
  are set to throwaway values, so that a deploy re-run must put every secret
  back (the commands that carry them run, not only their checks). Meanwhile
  every process command line of this machine, which sees every lab host's
  processes, is sampled every 0.2 s: no value of the secrets file may appear.
  Then each host's whole journal must hold none either.
- A host whose SSH host key changed (new keys in its tree, its sshd restarted
  from this machine): a new connection fails at connect with the new key's
  fingerprint and runs nothing; with the new key recorded in the lab's
  known_hosts it connects and its checks pass; the old keys and known_hosts
  are put back at the end.

Needs root and the lab; deploys it first if it is not converged.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets as random
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from deploy.inventory import Inventory, load_inventory
from deploy.remote import HostKeyError, Pool, Remote, WithStdin
from deploy.secrets import mask
from lab import hosts as lab_hosts
from lab import network as lab_network
from lab import process as lab_process
from lab.ssh import record_host_keys
from tests.drills.test_drills import DEPLOY_TIMEOUT, ROOT, deploy, verify

pytestmark = [pytest.mark.drill, pytest.mark.lab]
SAMPLE_EVERY_S = 0.2


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Inventory, Pool, list[str]]]:
    if os.geteuid() != 0:
        pytest.fail("the secrets drill needs root (it deploys and breaks the embedded lab)")
    deploy()
    inventory = load_inventory(ROOT / "inventory.yaml", check_keys=False)
    values = [v for v in yaml.safe_load(inventory.secrets_path.read_text()).values()]
    pool = Pool(inventory.hosts)
    yield inventory, pool, values
    pool.close()


@dataclass
class CommandLineSampler:
    """Every process's command line on this machine, every SAMPLE_EVERY_S, checked
    for the secrets; the lab's hosts are containers, so their processes are here."""
    values: list[str]
    host_of_netns: dict[int, str]
    samples: int = 0
    seen: int = 0
    leaks: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._needles = [v.encode() for v in self.values]
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CommandLineSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(SAMPLE_EVERY_S)  # the sampling period, not a wait for a condition

    def _sample(self) -> None:
        self.samples += 1
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    cmdline = f.read()
                netns = os.stat(f"/proc/{entry.name}/ns/net").st_ino
            except OSError:
                continue  # ended meanwhile
            self.seen += 1
            if any(needle in cmdline for needle in self._needles):
                where = self.host_of_netns.get(netns, "this machine")
                text = mask(cmdline.replace(b"\0", b" ").decode(errors="replace"))
                self.leaks.append(f"{where} pid {entry.name}: {text[:300]}")


def _netns_hosts(inventory: Inventory) -> dict[int, str]:
    return {os.stat(f"/run/netns/{lab_network.netns(inventory, h)}").st_ino: h.name for h in inventory.hosts}


def _throwaway() -> str:
    return "drill" + random.token_hex(12)  # not a value of the secrets file


def _move_passwords_away(inventory: Inventory, pool: Pool) -> None:
    """Each secret-carrying step's check fails, so the re-run acts with the secret."""
    controller = pool[inventory.controller.name]
    net = inventory.management.cidr
    pattern = f"{net.network_address}/{net.netmask}"
    controller.run(WithStdin("mysql --protocol=socket -uroot -NB",
                             f"ALTER USER 'glance'@'{pattern}' IDENTIFIED BY '{_throwaway()}';\n"
                             f"ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password "
                             f"USING PASSWORD('{_throwaway()}');\n"))
    controller.run(WithStdin('IFS= read -r pw && printf "%s\\n" "$pw" | rabbitmqctl -q change_password nova',
                             _throwaway() + "\n"))
    controller.run(WithStdin('IFS= read -r pw && OS_BOOTSTRAP_PASSWORD="$pw" keystone-manage bootstrap',
                             _throwaway() + "\n"))


def test_no_secret_on_any_command_line_during_a_deploy_nor_in_any_journal(lab, tmp_path):
    inventory, pool, values = lab
    _move_passwords_away(inventory, pool)
    with CommandLineSampler(values, _netns_hosts(inventory)) as sampler:
        run = subprocess.run([sys.executable, "-m", "deploy", "apply"], cwd=ROOT, capture_output=True, text=True,
                             timeout=DEPLOY_TIMEOUT)
    assert run.returncode == 0, f"deploy apply failed:\n{run.stderr[-3000:]}"
    for step in ("03-mysql-start: root password as in the secrets file",
                 "05-glance-create-db: database glance for user glance",
                 "03-rabbitmq-start: RabbitMQ user nova with the secrets file's password",
                 "11-keystone-create-users: admin bootstrapped with the secrets file's password"):
        assert f"{step}: check failed" in run.stderr, f"the re-run did not act on {step!r}:\n{run.stderr[-3000:]}"
    assert sampler.samples >= 10 and sampler.seen > 1000, (sampler.samples, sampler.seen)
    assert not sampler.leaks, "secrets on command lines:\n" + "\n".join(sampler.leaks[:20])

    needles = "".join(f"{v}\n" for v in values)
    for host in inventory.hosts:
        # the values go to grep in a 0600 file, not on its command line; matches come back masked here
        found = pool[host.name].run(WithStdin(
            # (-o cat's message text, with each entry's time, to tell an old leak from a new one)
            'f=$(mktemp) && cat >"$f" && journalctl -o short-iso --no-pager | grep -F -f "$f" | head -20; rm -f "$f"',
            needles), timeout=300).stdout
        assert not found.strip(), f"{host.name}: secrets in the journal:\n{mask(found)}"


def _fingerprint_of(pub: bytes) -> str:
    """OpenSSH's SHA256 fingerprint of a .pub file's key (computed here, apart from the suite's)."""
    blob = base64.b64decode(pub.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _host_keys(tree: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((tree / "etc/ssh").glob("ssh_host_*"))}


def _container_init(inventory: Inventory, host) -> int:
    """The host's PID 1 as this machine sees it: nspawn's first descendant in another PID namespace."""
    nspawn = lab_process.alive(lab_hosts.pidfile(inventory, host))
    assert nspawn, f"{host.name} is not running"
    outer = os.readlink(f"/proc/{nspawn}/ns/pid")
    return next(p for p in lab_process.descendants(nspawn) if os.readlink(f"/proc/{p}/ns/pid") != outer)


def _restart_sshd(inventory: Inventory, host) -> None:
    """From this machine, not over SSH: it must work whatever key the host serves."""
    subprocess.run(["nsenter", "-t", str(_container_init(inventory, host)), "-m", "-u", "-i", "-n", "-p",
                    "systemctl", "restart", "ssh"], check=True, capture_output=True, timeout=60)


def test_a_changed_host_key_fails_at_connect_before_any_command(lab, tmp_path):
    inventory, _, _ = lab
    victim = inventory.with_role("compute")[-1]
    tree = lab_hosts.root(inventory, victim)
    keys = tree / "etc/ssh"
    original_keys = _host_keys(tree)
    original_known = victim.known_hosts.read_text()
    marker = f"root/drill-host-key-{random.token_hex(4)}"
    try:
        for name in original_keys:  # the host gets new keys, as after a reinstall or under a man in the middle
            (keys / name).unlink()
        subprocess.run(["ssh-keygen", "-A", "-f", str(tree)], check=True, capture_output=True)
        _restart_sshd(inventory, victim)
        new_fingerprints = {_fingerprint_of(data) for name, data in _host_keys(tree).items() if name.endswith(".pub")}
        assert new_fingerprints and not new_fingerprints & {
            _fingerprint_of(d) for n, d in original_keys.items() if n.endswith(".pub")}

        with pytest.raises(HostKeyError) as err:
            Remote(victim, connect_timeout=30).run(f"touch /{marker}")
        message = str(err.value)
        assert "\n" not in message and message.startswith(f"{victim.name} ({victim.address}:{victim.port}): "
                                                           "SSH host key CHANGED"), message
        assert any(fp in message for fp in new_fingerprints), (message, new_fingerprints)
        assert not (tree / marker).exists(), "a command ran on the host despite its changed key"

        record_host_keys(victim, tree, generated=True)  # the operator accepts the host's new key
        accepted = Remote(victim, connect_timeout=30)
        try:
            assert accepted.run("hostname").stdout.strip() == victim.name
        finally:
            accepted.close()
        checks = verify(tmp_path / "accepted", "checks/test_services.py", "-k", victim.name)
        assert checks.returncode == 0, checks.output[-3000:]
    finally:  # the lab as it was: its own keys, and its known_hosts
        for name in _host_keys(tree):
            (keys / name).unlink()
        for name, data in original_keys.items():
            (keys / name).write_bytes(data)
            (keys / name).chmod(0o644 if name.endswith(".pub") else 0o600)
        _restart_sshd(inventory, victim)
        victim.known_hosts.write_text(original_known)
    restored = Remote(victim, connect_timeout=30)
    try:
        assert restored.run("hostname").stdout.strip() == victim.name
    finally:
        restored.close()
