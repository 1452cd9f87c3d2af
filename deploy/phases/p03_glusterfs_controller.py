"""03-glusterfs-controller: the trusted pool and the replicated volumes.

The report's 01-glusterfs-probe and 02-glusterfs-create-volume, for Nova's
instances volume and for Cinder's volumes (the report's nova-volume used LVM
and iSCSI, which this suite's lab kernel lacks: see phase 07's cinder). A
volume is created only if absent: a re-run never recreates it or touches its
data.
Scaling out (deploy/gluster_growth.py): bricks the inventory gained are added to
an existing volume, keeping its replicas as the inventory says; a brick on a host
the inventory no longer has stops the run before it changes anything, naming the
host and how to drain it.
"""
from __future__ import annotations

import shlex

from ..inventory import Host, Inventory
from ..facts import check
from ..facts_gluster import (GlusterBricks, GlusterBricksOnline, GlusterGroupKeys, GlusterHealPending,
                             GlusterPeerStates, GlusterPool, GlusterRebalanced, GlusterVolume, nothing_pending,
                             replica_count)
from ..gluster_growth import VolumeBricks, drain_problems, growth, host_of, rebalance_command, rebalanced
from ..steps import Await, Command, Refused, Step
from . import Context, Phase, Precondition
from .ids import CINDER_GID, CINDER_UID, NOVA_GID, NOVA_UID
from .p02_glusterfs_all import brick_dir

GLUSTER = "gluster --mode=script"
STATUS_LOCK = "/run/lock/deploy-gluster-status.lock"
IN_CLUSTER = "Peer in Cluster (Connected)"   # joined, not only connected: see the wait below
# The option group GlusterFS ships for VM images (/var/lib/glusterd/groups/virt):
# sharding, eager locking, quorum, O_DIRECT passed to the bricks, no client caches.
OPTION_GROUP = "virt"


def owner_options(uid: int, gid: int) -> dict[str, str]:
    """The volume root belongs to its service, whatever host mounts it."""
    return {"storage.owner-uid": str(uid), "storage.owner-gid": str(gid)}


def volumes(inv: Inventory) -> dict[str, dict[str, str]]:
    """Each volume with the options it gets beyond the option group."""
    return {inv.glusterfs.volume: owner_options(NOVA_UID, NOVA_GID),
            inv.glusterfs.volumes_volume: owner_options(CINDER_UID, CINDER_GID)}


def bricks(inv: Inventory, volume: str | None = None) -> list[str]:
    return [f"{h.name}:{brick_dir(inv, volume)}" for h in inv.with_role("compute")]


def steps(ctx: Context, host: Host) -> list[Step]:
    if not host.has_role("controller"):
        return []
    inv = ctx.inventory
    peers = [h for h in inv.hosts if h.name != host.name and (h.has_role("compute") or h.has_role("controller"))]
    result: list[Step] = []
    for peer in peers:
        name = shlex.quote(peer.name)
        result.append(Command("01-glusterfs-probe", f"{GLUSTER} peer probe {name}",
                              unless=check(GlusterPool(), lambda pool, peer=peer.name: peer in pool,
                                           f"{peer.name} in the pool"),
                              title=f"peer {peer.name} in the pool"))
    # "Peer in Cluster", not only connected: a probe cut short (a killed run) leaves the
    # peer listed and connected, but half-joined ("Accepted peer request"), until glusterd ends the handshake
    joined = check(GlusterPeerStates(), lambda states: sum(s.startswith(IN_CLUSTER) for s in states) == len(peers),
                   f"{len(peers)} peers in state {IN_CLUSTER}")
    result.append(Await("01-glusterfs-probe", joined,
                        f"all {len(peers)} peers in the cluster and connected", timeout=120))
    for name, options in volumes(inv).items():
        result += volume_steps(inv, name, options)
    return result


def volume_steps(inv: Inventory, name: str, options: dict[str, str]) -> list[Step]:
    vol = shlex.quote(name)
    members = bricks(inv, name)
    info = GlusterVolume(name)
    result: list[Step] = [Command(
        "02-glusterfs-create-volume",
        f"{GLUSTER} volume create {vol} replica {inv.glusterfs.replica} transport tcp {shlex.join(members)}",
        unless=check(info, lambda found: found is not None, f"volume {name} exists"), title=f"volume {name} exists")]
    # a volume made for fewer computes gets the inventory's new bricks (deploy/gluster_growth.py)
    result.append(VolumeBricks("02-glusterfs-create-volume", name, tuple(members), inv.glusterfs.replica))
    result.append(Command(
        "02-glusterfs-create-volume", f"{GLUSTER} volume set {vol} group {OPTION_GROUP}",
        # applied when every key of the group shows among the volume's reconfigured options
        unless=check(info, lambda found, keys: found is not None and all(k in found for k in keys),
                     f"every key of option group {OPTION_GROUP} set", GlusterGroupKeys(OPTION_GROUP)),
        title=f"{name}: option group {OPTION_GROUP} applied"))
    for key, value in options.items():
        result.append(Command("02-glusterfs-create-volume", f"{GLUSTER} volume set {vol} {key} {value}",
                              unless=check(info, lambda found, key=key, value=value: (found or {}).get(key) == value,
                                           f"{key}: {value}"),
                              title=f"{name}: option {key} = {value}"))
    result.append(Command("02-glusterfs-create-volume", f"{GLUSTER} volume start {vol}",
                          unless=check(info, lambda found: (found or {}).get("Status") == "Started", "Status: Started"),
                          title=f"volume {name} started"))
    # one status query at a time: facts run concurrently, and glusterd refuses a
    # second volume-status transaction while one is under way ("Another transaction
    # is in progress"), which read as bricks offline and forced a needless start
    online = check(GlusterBricksOnline(name, STATUS_LOCK), lambda n: n == len(members), f"{len(members)} bricks online")
    # a brick process that died (or a host that came back) stays offline until a forced start
    result.append(Command("02-glusterfs-create-volume", f"{GLUSTER} volume start {vol} force", unless=online,
                          title=f"{name}: offline bricks restarted"))
    result.append(Await("02-glusterfs-create-volume", online, f"all {len(members)} bricks of {name} online",
                        timeout=120))
    if inv.glusterfs.replica > 1:
        result.append(healed(name))
    if len(members) > inv.glusterfs.replica:
        # distributed: files spread over the replica sets once every brick host has rebalanced
        # (a host added later has not); not needed for one replica set, nor for a raised replica count
        hosts = [host_of(b) for b in members]
        result.append(Command("02-glusterfs-create-volume", rebalance_command(name),
                              unless=check(GlusterRebalanced(name), rebalanced(hosts, inv.controller.name),
                                           f"a rebalance in progress or completed on {', '.join(hosts)}"),
                              title=f"{name}: rebalanced over its replica sets"))
    return result


def healed(name: str, interval: float = 5.0) -> Await:
    """Every brick holds what the others hold: none has an entry pending heal (a brick just added
    for a raised replica count, or one back after its host was lost, is filled by the self-heal
    daemon). The daemon sleeps cluster.heal-timeout (600 s) after a round that healed nothing,
    which a round that lost its locks to another host's daemon is; `heal VOL` wakes it, so each
    poll asks for one (a CI run found a new brick still lacking files 300 s after it was added)."""
    pending = check(GlusterHealPending(name), nothing_pending, f"no entry of {name} pending heal on any brick")
    return Await("02-glusterfs-create-volume", pending, f"every brick of {name} healed", timeout=900,
                 interval=interval, nudge=f"{GLUSTER} volume heal {shlex.quote(name)}",
                 title=f"{name}: every brick healed")


def preconditions(ctx: Context, host: Host) -> list[Precondition]:
    """Before any host changes: no brick (nor peer) on a host the inventory lost, and every
    volume grows as the inventory says, else one line naming the host and what to do."""
    if not host.has_role("controller"):
        return []
    inv = ctx.inventory
    names = list(volumes(inv))
    wanted = {name: bricks(inv, name) for name in names}
    hosts = [h.name for h in inv.hosts]
    facts = (GlusterPool(), *(f for name in names for f in (GlusterVolume(name), GlusterBricks(name))))

    def problems(pool, *found) -> list[str]:
        layout = {name: (found[2 * i + 1], replica_count(found[2 * i])) for i, name in enumerate(names)
                  if found[2 * i] is not None}
        out = drain_problems(layout, wanted, hosts, pool)
        if out:
            return out
        for name, (current, replica_now) in layout.items():
            try:
                growth(name, current, replica_now, wanted[name], inv.glusterfs.replica)
            except Refused as e:
                out.append(str(e))
        return out

    return [Precondition(facts, problems)]


PHASE = Phase(3, "glusterfs-controller", ("controller",), steps, preconditions=preconditions)
