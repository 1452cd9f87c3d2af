"""02-glusterfs-all: GlusterFS installed and glusterd running on every host.

The report's 01-iptables-flush and 02-selinux-permissive are not repeated:
Debian has no SELinux by default, and instead of opening everything the
GlusterFS ports are opened to the management network only (closed to others),
and the gateway's public interface is default-deny except SSH.
"""
from __future__ import annotations

import shlex

from ..firewall import Chain, RuleSet, firewall_steps
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
    for ports in (GLUSTERD_PORTS, BRICK_PORTS):
        rules.append(["-p", "tcp", "-m", "multiport", "--dports", ports, "-j", "DROP"])
    return RuleSet("gluster", [Chain("filter", "INPUT", rules)])


def public_rules(host: Host) -> RuleSet:
    """Default deny on the public interface: only replies, ICMP and what is listed."""
    pub = host.public_interface
    rules = [["-i", pub, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
             ["-i", pub, "-p", "icmp", "-j", "ACCEPT"]]
    rules += [["-i", pub, "-p", "tcp", "--dport", port, "-j", "ACCEPT"] for port in PUBLIC_OPEN_TCP]
    rules.append(["-i", pub, "-j", "DROP"])
    return RuleSet("public", [Chain("filter", "INPUT", rules, position="bottom")])


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
