"""The lab's networks: one bridge per inventory network, one network namespace
per host with interfaces named as the inventory says, and the machine kept
apart from its uplink (no forwarding between the lab's bridges and the rest).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from deploy.inventory import Host, Inventory

from .errors import LabError
from .mirror import machine_sources, mirror_hosts
from .system import sh

log = logging.getLogger("lab.network")
ISOLATION_COMMENT = "embedded-lab-{name}: no forwarding to or from the lab"


@dataclass(frozen=True)
class Link:
    bridge: str        # on the machine
    host_side: str     # veth end on the machine, in the bridge
    inside: str        # interface name inside the host (the inventory's)
    address: str | None  # with prefix length; None: unnumbered (Neutron's provider NIC)


def bridges(inv: Inventory) -> dict[str, tuple[str, int]]:
    """Bridge name -> (machine address, prefix length)."""
    name = inv.lab.name
    out = {}
    for key, net in (("mgmt", inv.management), ("pub", inv.public)):
        if net.operator_address is None:
            raise LabError(f"networks.{'management' if key == 'mgmt' else 'public'}.operator_address: "
                           "the embedded lab needs this machine's address on that network")
        out[f"{name}-{key}"] = (net.operator_address, net.cidr.prefixlen)
    return out


def netns(inv: Inventory, host: Host) -> str:
    return f"{inv.lab.name}-{host.name}"


def links(inv: Inventory, host: Host) -> list[Link]:
    # Named by the host's place in the management network, not in the inventory: a host
    # added to the inventory later (day 2) renames no other host's links.
    index = int(ipaddress.ip_address(host.address)) - int(inv.management.cidr.network_address)
    name = inv.lab.name
    result = [Link(f"{name}-mgmt", f"{name}{index}m", host.management_interface,
                   f"{host.address}/{inv.management.cidr.prefixlen}")]
    if host.public_interface and host.public_address:
        result.append(Link(f"{name}-pub", f"{name}{index}p", host.public_interface,
                           f"{host.public_address}/{inv.public.cidr.prefixlen}"))
    provider = host.interfaces.get("provider")
    if provider:
        result.append(Link(f"{name}-pub", f"{name}{index}n", provider, None))
    return result


def _links_json() -> list[dict]:
    return json.loads(sh(["ip", "-j", "link", "show"]).stdout or "[]")


def _exists(link: str) -> bool:
    return sh(["ip", "link", "show", link], check=False).returncode == 0


def check_no_clash(inv: Inventory) -> None:
    """Refuse networks that overlap anything this machine already routes."""
    ours = set(bridges(inv))
    lab_nets = {"networks.management.cidr": inv.management.cidr, "networks.public.cidr": inv.public.cidr}
    routes = json.loads(sh(["ip", "-j", "route", "show", "table", "all"]).stdout or "[]")
    for route in routes:
        dst, dev = route.get("dst", ""), route.get("dev", "")
        if dev in ours or route.get("type", "unicast") not in ("unicast",) or dst in ("", "default"):
            continue
        try:
            net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        except ValueError:
            continue
        for field, cidr in lab_nets.items():
            if net.version == 4 and net.overlaps(cidr):
                raise LabError(f"{field}: {cidr} overlaps {net} already routed on this machine via {dev}")
    for name in mirror_hosts(machine_sources()):
        try:
            address = ipaddress.IPv4Address(socket.gethostbyname(name))
        except (OSError, ValueError):
            continue
        for field, cidr in lab_nets.items():
            if address in cidr:
                raise LabError(f"{field}: {cidr} holds {address}, the package mirror {name}: the lab would cut it off")
    addrs = json.loads(sh(["ip", "-j", "addr", "show"]).stdout or "[]")
    for iface in addrs:
        if iface.get("ifname") in ours:
            continue
        for a in iface.get("addr_info", []):
            if a.get("family") != "inet":
                continue
            ip = ipaddress.IPv4Address(a["local"])
            for field, cidr in lab_nets.items():
                if ip in cidr:
                    raise LabError(f"{field}: {cidr} clashes with {ip} on this machine's {iface['ifname']}")


def up(inv: Inventory) -> None:
    """Bridges with the machine's addresses, the isolation rules and the outside
    machine (idempotent)."""
    for bridge, (address, prefix) in bridges(inv).items():
        if not _exists(bridge):
            sh(["ip", "link", "add", bridge, "type", "bridge"])
        current = sh(["ip", "-j", "addr", "show", "dev", bridge]).stdout
        if f'"local":"{address}"' not in current.replace(" ", ""):
            sh(["ip", "addr", "add", f"{address}/{prefix}", "dev", bridge])
        sh(["ip", "link", "set", bridge, "up"])
        _isolate(inv, bridge)
    outside_up(inv)


def outside_netns(inv: Inventory) -> str:
    """A machine on the public network that belongs to nobody of the cloud: what
    an outsider reaches from there, the exposure checks measure."""
    return f"{inv.lab.name}-outside"


def outside_address(inv: Inventory) -> str:
    """The top of the public network's lower half: the upper half is Neutron's
    floating range (phase 09), the hosts' public addresses sit at the bottom."""
    net = inv.public.cidr
    address = net.network_address + net.num_addresses // 2 - 1
    taken = {h.name: h.public_address for h in inv.hosts if h.public_address}
    for name, used in taken.items():
        if ipaddress.IPv4Address(used) == address:
            raise LabError(f"hosts[{name}].public_address: {used} is the embedded lab's outside machine's "
                           f"address (the top of the public network's lower half); choose another")
    return str(address)


def outside_up(inv: Inventory) -> None:
    """The outside machine: a namespace on the public bridge that routes the
    management network through the gateway's public address, as a neighbour on
    the public network could (the report's gateway never meant to route it in)."""
    ns, link, inside = outside_netns(inv), f"{inv.lab.name}o", "eth0"
    if sh(["ip", "netns", "pids", ns], check=False).returncode != 0:
        sh(["ip", "netns", "add", ns])
    sh(["ip", "-n", ns, "link", "set", "lo", "up"])
    if sh(["ip", "-n", ns, "link", "show", inside], check=False).returncode != 0:
        if _exists(link):
            sh(["ip", "link", "del", link])
        sh(["ip", "link", "add", link, "type", "veth", "peer", "name", inside, "netns", ns])
    sh(["ip", "link", "set", link, "master", f"{inv.lab.name}-pub", "up"])
    address = outside_address(inv)
    addrs = sh(["ip", "-n", ns, "-j", "addr", "show", "dev", inside]).stdout
    if f'"local":"{address}"' not in addrs.replace(" ", ""):
        sh(["ip", "-n", ns, "addr", "add", f"{address}/{inv.public.cidr.prefixlen}", "dev", inside])
    sh(["ip", "-n", ns, "link", "set", inside, "up"])
    sh(["ip", "-n", ns, "route", "replace", str(inv.management.cidr), "via", inv.gateway.public_address])


def outside_down(inv: Inventory) -> None:
    ns = outside_netns(inv)
    if sh(["ip", "netns", "pids", ns], check=False).returncode == 0:
        sh(["ip", "netns", "del", ns])
    sh(["ip", "link", "del", f"{inv.lab.name}o"], check=False)


def _isolation_rules(inv: Inventory, bridge: str) -> list[list[str]]:
    comment = ["-m", "comment", "--comment", ISOLATION_COMMENT.format(name=inv.lab.name)]
    # Bridged frames between lab hosts pass FORWARD with -i and -o both the bridge
    # (br_netfilter); only traffic routed in or out of the bridge is dropped.
    return [["FORWARD", "-i", bridge, "!", "-o", bridge, *comment, "-j", "DROP"],
            ["FORWARD", "-o", bridge, "!", "-i", bridge, *comment, "-j", "DROP"]]


def _isolate(inv: Inventory, bridge: str) -> None:
    for rule in _isolation_rules(inv, bridge):
        if sh(["iptables", "-w", "-C", *rule], check=False).returncode != 0:
            sh(["iptables", "-w", "-I", *rule])


def host_up(inv: Inventory, host: Host) -> str:
    """The host's namespace with its interfaces and addresses; returns the netns path."""
    ns = netns(inv, host)
    if sh(["ip", "netns", "pids", ns], check=False).returncode != 0:
        sh(["ip", "netns", "add", ns])
    sh(["ip", "-n", ns, "link", "set", "lo", "up"])
    for link in links(inv, host):
        inside_exists = sh(["ip", "-n", ns, "link", "show", link.inside], check=False).returncode == 0
        if not inside_exists:
            if _exists(link.host_side):
                sh(["ip", "link", "del", link.host_side])
            sh(["ip", "link", "add", link.host_side, "type", "veth", "peer", "name", link.inside, "netns", ns])
        sh(["ip", "link", "set", link.host_side, "master", link.bridge, "up"])
        addrs = sh(["ip", "-n", ns, "-j", "addr", "show", "dev", link.inside]).stdout
        if link.address and f'"local":"{link.address.split("/")[0]}"' not in addrs.replace(" ", ""):
            sh(["ip", "-n", ns, "addr", "add", link.address, "dev", link.inside])
        sh(["ip", "-n", ns, "link", "set", link.inside, "up"])
    if not host.has_role("gateway"):
        # As in the report: the other hosts reach outside through the gateway.
        sh(["ip", "-n", ns, "route", "replace", "default", "via", inv.gateway.address])
    return f"/run/netns/{ns}"


def host_down(inv: Inventory, host: Host) -> None:
    ns = netns(inv, host)
    if sh(["ip", "netns", "pids", ns], check=False).returncode == 0:
        sh(["ip", "netns", "del", ns])
    for link in links(inv, host):
        # Deleting the namespace takes its veth peers along, not always at once.
        sh(["ip", "link", "del", link.host_side], check=False)


def down(inv: Inventory) -> None:
    outside_down(inv)
    for bridge in bridges(inv):
        for rule in _isolation_rules(inv, bridge):
            while sh(["iptables", "-w", "-C", *rule], check=False).returncode == 0:
                sh(["iptables", "-w", "-D", *rule])
        if _exists(bridge):
            sh(["ip", "link", "del", bridge])


def leftovers(inv: Inventory, hosts: Sequence[Host] | None = None) -> list[str]:
    """What of this lab's networking still exists on the machine (for destroy's check);
    `hosts`: all the lab made (default: the inventory's)."""
    hosts = inv.hosts if hosts is None else hosts
    names = {link["ifname"] for link in _links_json()}
    found = [b for b in bridges(inv) if b in names]
    found += [l.host_side for h in hosts for l in links(inv, h) if l.host_side in names]
    spaces = sh(["ip", "netns", "list"]).stdout.split()
    found += [netns(inv, h) for h in hosts if netns(inv, h) in spaces]
    found += [n for n in (outside_netns(inv),) if n in spaces] + [l for l in (f"{inv.lab.name}o",) if l in names]
    return found
