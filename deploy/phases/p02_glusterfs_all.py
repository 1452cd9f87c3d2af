"""02-glusterfs-all: GlusterFS installed and glusterd running on every host.

The report's 01-iptables-flush and 02-selinux-permissive are not repeated:
Debian has no SELinux by default, and instead of opening everything the
GlusterFS ports are opened to the management network only (closed to others),
and the gateway's public interface is default-deny except SSH.
"""
from __future__ import annotations

import shlex

from ..firewall import NEW_ONLY, Chain, RuleSet, firewall_steps
from ..inventory import Host, Inventory
from ..facts import is_path
from ..steps import Command, Packages, Service, Step
from . import Context, Phase

PACKAGES = ["glusterfs-server"]            # server on every host: the controller is a peer too
BRICK_PACKAGES = ["xfsprogs"]
GLUSTERD_PORTS = "24007:24008"
BRICK_PORTS = "49152:60999"               # glusterd.vol base-port .. max-port
PUBLIC_OPEN_TCP = ["22"]                   # later phases open their own ports in front of the deny


def brick_dir(inv: Inventory, volume: str | None = None) -> str:
    """GlusterFS refuses a brick at a mount point's root: use a directory in it,
    one per volume (the instances volume keeps the name `brick`)."""
    root = inv.glusterfs.brick_path.rstrip("/")
    if volume is None or volume == inv.glusterfs.volume:
        return root + "/brick"
    return f"{root}/{volume}-brick"


def brick_dirs(inv: Inventory) -> list[str]:
    return [brick_dir(inv), brick_dir(inv, inv.glusterfs.volumes_volume)]


def gluster_rules(inv: Inventory) -> RuleSet:
    mgmt = str(inv.management.cidr)
    # A host's own mounts ask its glusterd over loopback (localhost:/volume).
    rules = [["-i", "lo", "-j", "ACCEPT"]]
    for ports in (GLUSTERD_PORTS, BRICK_PORTS):
        rules.append(["-s", mgmt, "-p", "tcp", "-m", "multiport", "--dports", ports, "-j", "ACCEPT"])
    # New connections only: the brick range lies inside Linux's ephemeral ports
    # (32768-60999), so a deny by port alone drops the replies to the host's own
    # outgoing connections whenever their source port falls in it.
    for ports in (GLUSTERD_PORTS, BRICK_PORTS):
        rules.append(["-p", "tcp", "-m", "multiport", "--dports", ports, *NEW_ONLY, "-j", "DROP"])
    return RuleSet("gluster", [Chain("filter", "INPUT", rules)])


def public_rules(host: Host) -> RuleSet:
    """Default deny on the public interface, IPv4 and IPv6: only replies, ICMP and
    what is listed reach the host; over IPv6 nothing is routed in at all (the
    suite publishes nothing over IPv6; IPv4's forwarding is phase 01's)."""
    pub = host.public_interface

    def inbound(icmp: str, to: list[str]) -> list[list[str]]:
        rules = [["-i", pub, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
                 ["-i", pub, "-p", icmp, "-j", "ACCEPT"]]  # ICMPv6 carries IPv6's neighbour discovery
        rules += [["-i", pub, *to, "-p", "tcp", "--dport", port, "-j", "ACCEPT"] for port in PUBLIC_OPEN_TCP]
        return rules + [["-i", pub, "-j", "DROP"]]

    # IPv4: to the public address only (not the host's management address routed in).
    return RuleSet("public", [
        Chain("filter", "INPUT", inbound("icmp", ["-d", host.public_address]), position="bottom"),
        Chain("filter", "INPUT", inbound("ipv6-icmp", []), position="bottom", family="ipv6"),
        Chain("filter", "FORWARD", [["-i", pub, "-j", "DROP"]], position="bottom", family="ipv6"),
    ])


def steps(ctx: Context, host: Host) -> list[Step]:
    inv = ctx.inventory
    result: list[Step] = firewall_steps("01-iptables", gluster_rules(inv))
    if host.public_interface:
        result += firewall_steps("01-iptables", public_rules(host))
    result.append(Packages("03-glusterfs-install", PACKAGES + (BRICK_PACKAGES if host.has_role("compute") else [])))
    if host.has_role("compute"):
        for brick in brick_dirs(inv):
            result.append(Command("03-glusterfs-install", f"mkdir -p {shlex.quote(brick)}",
                                  unless=is_path(brick, "directory"),
                                  title=f"brick directory {brick}"))
    result.append(Service("04-glusterfs-start", "glusterd"))
    return result


PHASE = Phase(2, "glusterfs-all", ("controller", "compute"), steps)
