"""What an outsider on the public network reaches. From a machine on the public
network that routes the management network through the gateway's public
address (the embedded lab's outside namespace), every TCP socket any host
listens on is tried, on its management address, on the gateway's public
address, and on the gateway's IPv6 link-local address: only what the suite
publishes answers (SSH, the dashboard, noVNC on the public address; SSH over
IPv6). UDP is not tried (nothing the suite runs answers a bare datagram)."""
import ipaddress
import json
import re
import subprocess

import pytest

from checks.probes import answering_from_namespace
from checks.test_p09_openstack_gateway import PUBLIC_PORTS
from deploy.phases.p02_glusterfs_all import PUBLIC_OPEN_TCP

pytestmark = [pytest.mark.p09, pytest.mark.usefixtures("phase_p09")]

LOCAL_ANY = {"0.0.0.0", "*", "[::]"}


def listening(remote) -> dict[tuple[str, int], str]:
    """(local address, port) -> process name, of every listening TCP socket."""
    out = {}
    for line in remote.run(["ss", "-Hltnp"]).stdout.splitlines():
        fields = line.split()
        address, _, port = fields[3].rpartition(":")
        process = re.search(r'users:\(\("([^"]+)"', line)
        out[(address.split("%")[0], int(port))] = process.group(1) if process else "?"
    return out


@pytest.fixture(scope="module")
def outside(inventory):
    if not inventory.lab.embedded:
        pytest.skip("a real lab: the suite has no machine of its own on the public network to probe from "
                    "(the embedded lab makes one, a namespace on its public bridge)")
    from lab.network import outside_netns

    return outside_netns(inventory)


def _link_local(remote, interface: str) -> str | None:
    shown = json.loads(remote.run(["ip", "-6", "-j", "addr", "show", "dev", interface, "scope", "link"]).stdout)
    for link in shown:
        for a in link.get("addr_info", []):
            if ipaddress.ip_address(a["local"]).is_link_local:
                return a["local"]
    return None


@pytest.mark.gateway
def test_from_the_public_network_only_the_published_ports_answer(inventory, pool, outside):
    gw = inventory.gateway
    expected: dict[tuple[str, int], str] = {(gw.public_address, p): name for p, name in PUBLIC_PORTS.items()}
    targets: dict[tuple[str, int], str] = dict(expected)
    for h in inventory.hosts:
        for (address, port), process in listening(pool[h.name]).items():
            if address in LOCAL_ANY or address == h.address:
                targets[(h.address, port)] = f"{process} on {h.name}"
            if h.name == gw.name and (address in LOCAL_ANY or address == gw.public_address):
                targets.setdefault((gw.public_address, port), f"{process} on {h.name}")
    six = _link_local(pool[gw.name], gw.public_interface)
    if six:
        # From the outside namespace, the link is its eth0.
        for (address, port), process in listening(pool[gw.name]).items():
            if address in ("*", "[::]"):
                targets[(f"{six}%eth0", port)] = f"{process} on {gw.name} (IPv6)"
        for port in PUBLIC_OPEN_TCP:
            expected[(f"{six}%eth0", int(port))] = "SSH (IPv6)"
            targets.setdefault((f"{six}%eth0", int(port)), "SSH (IPv6)")
    answered = answering_from_namespace(outside, sorted(targets))
    exposed = sorted(f"{a}:{p} ({targets[(a, p)]})" for a, p in answered - set(expected))
    closed = sorted(f"{a}:{p} ({name})" for (a, p), name in expected.items() if (a, p) not in answered)
    assert not exposed, (f"from the public network ({outside}), {len(exposed)} of {len(targets)} address:port pairs "
                         f"answer that the suite does not publish: " + ", ".join(exposed))
    assert not closed, f"from the public network ({outside}), published ports do not answer: " + ", ".join(closed)


@pytest.mark.gateway
def test_through_the_provider_bridge_nothing_answers(inventory, pool, outside):
    """A neighbour on the public segment may address the gateway's Neutron
    provider bridge by its MAC (ARP need not say so): sent that way, no socket of
    any host answers, not even the published ones (they are the public interface's)."""
    gw = inventory.gateway
    provider = gw.interfaces.get("provider")
    if not provider:
        pytest.skip(f"{gw.name} has no provider interface")
    remote = pool[gw.name]
    bridge = remote.run(["sh", "-c", f"basename \"$(readlink -f /sys/class/net/{provider}/master)\""]).stdout.strip()
    assert bridge and bridge != "master", f"{gw.name}: {provider} is in no bridge (Neutron's linuxbridge agent)"
    mac = remote.run(["cat", f"/sys/class/net/{bridge}/address"]).stdout.strip()
    targets = {(gw.public_address, p): f"published {name}" for p, name in PUBLIC_PORTS.items()}
    for h in inventory.hosts:
        for (address, port), process in listening(pool[h.name]).items():
            if address in LOCAL_ANY or address == h.address:
                targets[(h.address, port)] = f"{process} on {h.name}"
    pin = ["ip", "netns", "exec", outside, "ip", "neigh", "replace", gw.public_address, "lladdr", mac, "dev", "eth0"]
    subprocess.run(pin, check=True, capture_output=True)
    try:
        answered = answering_from_namespace(outside, sorted(targets))
    finally:
        subprocess.run(["ip", "netns", "exec", outside, "ip", "neigh", "del", gw.public_address, "dev", "eth0"],
                       capture_output=True)
    exposed = sorted(f"{a}:{p} ({targets[(a, p)]})" for a, p in answered)
    assert not exposed, (f"from the public network ({outside}) through {gw.name}'s provider bridge {bridge} "
                         f"({mac}): " + ", ".join(exposed))
