"""The embedded lab, for real: two hosts up, SSH, packages through the proxy,
an XFS brick, each other's addresses reachable, nothing outside reachable; a
crash (every lab process killed) recovered by `up`; destroy leaves nothing."""
import os
import signal
import socket
from pathlib import Path

import pytest

import lab
from deploy.inventory import load_inventory
from deploy.remote import Remote
from lab import hosts, network, process, proxy
from lab.mirror import machine_sources, mirror_hosts

pytestmark = pytest.mark.lab
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def smoke_lab():
    if os.geteuid() != 0:
        pytest.fail("the lab smoke test needs root (containers, bridges, loop mounts)")
    inv = load_inventory(HERE / "two-hosts.yaml", check_keys=False)
    lab.up(inv)
    remotes = {h.name: Remote(h) for h in inv.hosts}
    yield inv, remotes
    for r in remotes.values():
        r.close()
    lab.destroy(inv)


def test_hosts_answer_ssh_as_themselves(smoke_lab):
    """Over connections that verified each host's key against the lab's known_hosts."""
    inv, remotes = smoke_lab
    known = inv.hosts[0].known_hosts.read_text().splitlines()
    for host in inv.hosts:
        tree_keys = [p.read_text().split()[1] for p in (hosts.root(inv, host) / "etc/ssh").glob("ssh_host_*.pub")]
        assert tree_keys and all(l.startswith(f"{host.address} ") for l in known if l.split()[2] in tree_keys)
        assert sum(l.split()[2] in tree_keys for l in known) == len(tree_keys), f"{host.name}: keys not recorded"
        assert remotes[host.name].run("hostname").stdout.strip() == host.name
        assert remotes[host.name].run(["getent", "ahostsv4", host.name]).stdout.split()[0] == host.address


def test_interfaces_named_as_the_inventory_says(smoke_lab):
    inv, remotes = smoke_lab
    gw = inv.host("smkcmp")
    out = remotes["smkcmp"].run(["ip", "-o", "-4", "addr", "show"]).stdout
    assert f"{gw.management_interface}    inet {gw.address}/" in out.replace("  ", "    ") or \
        f"{gw.management_interface}" in out and gw.address in out
    assert f"inet {gw.public_address}/24" in out and gw.public_interface in out


def test_hosts_reach_each_other(smoke_lab):
    inv, remotes = smoke_lab
    ctl, cmp_ = inv.host("smkctl"), inv.host("smkcmp")
    assert remotes[ctl.name].run(["ping", "-c1", "-W2", cmp_.address], check=False).rc == 0
    assert remotes[cmp_.name].run(["ping", "-c1", "-W2", ctl.address], check=False).rc == 0


def test_packages_come_through_the_proxy(smoke_lab):
    inv, remotes = smoke_lab
    r = remotes["smkcmp"]
    r.run("apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q -y install hello", timeout=600)
    assert r.run("hello").stdout.strip() == "Hello, world!"
    log = (inv.lab.state_dir / "log" / "squid-access.log").read_text()
    assert "hello_" in log, "the package did not come through the lab's proxy"


def test_proxy_allows_only_the_debian_mirror(smoke_lab):
    inv, remotes = smoke_lab
    probe = ("python3 -c \"import urllib.request as u; "
             f"o=u.build_opener(u.ProxyHandler({{'http':'{proxy.url(inv)}'}})); "
             "o.open('http://example.org/', timeout=10)\"")
    result = remotes["smkctl"].run(probe, check=False)
    assert result.rc != 0 and "403" in result.stderr, result.stderr[-300:]


def test_brick_is_xfs(smoke_lab):
    inv, remotes = smoke_lab
    assert remotes["smkcmp"].run(["stat", "-f", "-c", "%T", inv.glusterfs.brick_path]).stdout.strip() == "xfs"


def test_nothing_outside_the_lab_is_reachable(smoke_lab):
    inv, remotes = smoke_lab
    outside = [socket.gethostbyname(h) for h in mirror_hosts(machine_sources())]
    outside += [route.split()[2] for route in os.popen("ip route show default").read().splitlines()]
    for host in inv.hosts:
        for address in outside:
            probe = f"timeout 4 bash -c '</dev/tcp/{address}/80'"
            assert remotes[host.name].run(probe, check=False).rc != 0, f"{host.name} reached {address}:80"


def test_up_recovers_after_every_lab_process_was_killed(smoke_lab):
    inv, remotes = smoke_lab
    pidfiles = [hosts.pidfile(inv, h) for h in inv.hosts] + [proxy.paths(inv)["pid"]]
    for pidfile in pidfiles:
        pid = process.alive(pidfile)
        assert pid, f"{pidfile} names no running process"
        for p in [pid, *process.descendants(pid)]:  # as a machine restart would: all of them
            os.kill(p, signal.SIGKILL)
    lab.up(inv)
    for host in inv.hosts:
        remotes[host.name].close()
        assert remotes[host.name].run("systemctl is-system-running --wait || true").stdout.strip() in ("running", "degraded")


def _cmdline(pid: int) -> bytes:
    """A process's command line; empty once it has ended (the booting container's
    short-lived processes end between the listing and the reading)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def test_nspawn_killed_alone_leaves_no_second_container(smoke_lab):
    """Killing only nspawn orphans the container's init; `up` must end it, not boot a twin."""
    inv, remotes = smoke_lab
    host = inv.host("smkctl")
    os.kill(process.alive(hosts.pidfile(inv, host)), signal.SIGKILL)
    lab.up(inv)
    inits = [p for p in hosts.strays(inv, host) if _cmdline(p).startswith((b"/usr/lib/systemd/systemd\0",
                                                                          b"/lib/systemd/systemd\0"))]
    assert len(inits) == 1, f"{len(inits)} systemd inits in {host.name}'s namespace"


def test_destroy_leaves_nothing_behind(smoke_lab):
    inv, _ = smoke_lab
    lab.destroy(inv)
    assert network.leftovers(inv) == []
    mounts = Path("/proc/mounts").read_text()
    assert str(inv.lab.state_dir) not in mounts
    assert os.popen("losetup -a").read().count(str(inv.lab.state_dir)) == 0
    for pidfile in (inv.lab.state_dir / "run").glob("*.pid"):
        assert process.alive(pidfile) is None, f"{pidfile} still runs"
    assert not (inv.lab.state_dir / "hosts").exists() or not any((inv.lab.state_dir / "hosts").iterdir())
