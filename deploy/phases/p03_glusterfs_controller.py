"""03-glusterfs-controller: the trusted pool and the replicated volume.

The report's 01-glusterfs-probe and 02-glusterfs-create-volume. The volume is
created only if absent: a re-run never recreates it or touches its data.
"""
from __future__ import annotations

import shlex

from ..inventory import Host, Inventory
from ..steps import Await, Command, Step
from . import Context, Phase
from .ids import NOVA_GID, NOVA_UID
from .p02_glusterfs_all import brick_dir

GLUSTER = "gluster --mode=script"
# The option group GlusterFS ships for VM images (/var/lib/glusterd/groups/virt):
# sharding, eager locking, quorum, O_DIRECT passed to the bricks, no client caches.
OPTION_GROUP = "virt"
# The volume root belongs to nova, whatever host mounts it.
OPTIONS = {"storage.owner-uid": str(NOVA_UID), "storage.owner-gid": str(NOVA_GID)}


def bricks(inv: Inventory) -> list[str]:
    return [f"{h.name}:{brick_dir(inv)}" for h in inv.with_role("compute")]


def steps(ctx: Context, host: Host) -> list[Step]:
    if not host.has_role("controller"):
        return []
    inv = ctx.inventory
    vol = shlex.quote(inv.glusterfs.volume)
    peers = [h for h in inv.hosts if h.name != host.name and (h.has_role("compute") or h.has_role("controller"))]
    result: list[Step] = []
    for peer in peers:
        result.append(Command("01-glusterfs-probe", f"{GLUSTER} peer probe {peer.name}",
                              unless=f"gluster pool list | awk 'NR>1 {{print $2}}' | grep -qx {peer.name}",
                              title=f"peer {peer.name} in the pool"))
    result.append(Await("01-glusterfs-probe",
                        f"test $(gluster pool list | awk 'NR>1 && $3==\"Connected\"' | wc -l) -eq {len(peers) + 1}",
                        f"all {len(peers) + 1} peers connected", timeout=120))
    result.append(Command(
        "02-glusterfs-create-volume",
        f"{GLUSTER} volume create {vol} replica {inv.glusterfs.replica} transport tcp {' '.join(bricks(inv))}",
        unless=f"gluster volume info {vol} >/dev/null 2>&1", title=f"volume {inv.glusterfs.volume} exists"))
    group_keys = f"/var/lib/glusterd/groups/{OPTION_GROUP}"
    result.append(Command(
        "02-glusterfs-create-volume", f"{GLUSTER} volume set {vol} group {OPTION_GROUP}",
        # applied when every key of the group shows among the volume's reconfigured options
        unless=(f"info=$(gluster volume info {vol}) && cut -d= -f1 {group_keys} | grep -v '^$' | "
                f"while read k; do printf '%s\\n' \"$info\" | grep -q \"^$k: \" || exit 1; done"),
        title=f"option group {OPTION_GROUP} applied"))
    for key, value in OPTIONS.items():
        result.append(Command("02-glusterfs-create-volume", f"{GLUSTER} volume set {vol} {key} {value}",
                              unless=f"gluster volume info {vol} | grep -qx '{key}: {value}'",
                              title=f"option {key} = {value}"))
    result.append(Command("02-glusterfs-create-volume", f"{GLUSTER} volume start {vol}",
                          unless=f"gluster volume info {vol} | grep -qx 'Status: Started'",
                          title=f"volume {inv.glusterfs.volume} started"))
    result.append(Await("02-glusterfs-create-volume",
                        f"test $(gluster volume status {vol} detail | grep -c '^Online.*: Y') -eq {len(bricks(inv))}",
                        f"all {len(bricks(inv))} bricks online", timeout=120))
    return result


PHASE = Phase(3, "glusterfs-controller", ("controller",), steps)
