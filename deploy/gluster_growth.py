"""Scaling a GlusterFS volume out to the inventory's bricks, never in.

A volume phase 03 created earlier meets an inventory that may have grown:
- the same replica count and new bricks in whole replica sets: they are added
  as new sets (distributed-replicated), then the volume is rebalanced;
- a higher replica count with the same number of sets: one new brick per set
  and step (`add-brick VOL replica NEW ...`); no rebalance is needed;
- anything else (fewer copies, a count that is not a whole number of sets,
  a brick the inventory no longer has) is refused with one line saying what
  the operator can do. The deploy never removes a brick: that moves or drops
  data, and the operator drains the host first (`drain_advice`).
"""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from .facts import Fact
from .facts_gluster import GlusterBricks, GlusterRebalanced, GlusterVolume, replica_count
from .steps import Action, Change, Step, no_change
from .steps.base import Refused, Values

GLUSTER = "gluster --mode=script"


@dataclass(frozen=True)
class Growth:
    add: tuple[str, ...]        # the bricks to add, in the inventory's order
    replica: int                # the replica count add-brick states (the inventory's)
    rebalance: bool             # new replica sets: data spreads onto them


def host_of(brick: str) -> str:
    return brick.split(":", 1)[0]


def growth(volume: str, current: Sequence[str], replica_now: int, wanted: Sequence[str], replica: int) -> Growth:
    """What turns the volume's bricks `current` (replica `replica_now`) into the inventory's `wanted`
    (replica `replica`); Refused with one line when it cannot be done by adding bricks."""
    stale = [b for b in current if b not in wanted]
    if stale:
        raise Refused(f"{volume}: bricks {', '.join(stale)} are not the inventory's; the deploy removes no brick")
    new = tuple(b for b in wanted if b not in current)
    sets_now = len(current) // replica_now if replica_now else 0
    if not new and replica == replica_now:
        return Growth((), replica, False)
    where = (f"{volume}: {len(current)} bricks in {sets_now} replica sets of {replica_now}, the inventory wants "
             f"{len(wanted)} bricks with replica {replica}")
    if replica < replica_now:
        raise Refused(f"{where}: the deploy never lowers the replica count (it drops copies); lower it by hand "
                      f"(gluster volume remove-brick {volume} replica {replica} BRICK... force, one brick per set) "
                      f"or set glusterfs.replica back to {replica_now}")
    if replica == replica_now:
        if len(new) % replica:
            raise Refused(f"{where}: {len(new)} new bricks are not whole replica sets of {replica}; add compute "
                          f"hosts {replica} at a time")
        return Growth(new, replica, True)
    if len(new) != sets_now * (replica - replica_now):
        raise Refused(f"{where}: raising the replica count adds {replica - replica_now} brick(s) to each of the "
                      f"{sets_now} sets ({sets_now * (replica - replica_now)} new bricks, not {len(new)}); raise "
                      "the replica count and add replica sets in separate runs")
    return Growth(new, replica, False)


def add_brick_command(volume: str, grow: Growth) -> str:
    # no `force`, as at creation: the bricks are directories inside their own filesystem
    return f"{GLUSTER} volume add-brick {shlex.quote(volume)} replica {grow.replica} {shlex.join(grow.add)}"


@dataclass
class VolumeBricks(Step):
    """The volume holds every brick of the inventory: missing ones added as the
    rules above say. A volume that does not exist yet is the create step's."""
    script: str
    volume: str
    wanted: tuple[str, ...]
    replica: int
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or f"{self.volume}: every brick of the inventory in the volume"

    def facts(self) -> list[Fact]:
        return [GlusterBricks(self.volume), GlusterVolume(self.volume)]

    def diff(self, values: Values, done: set[str]) -> Change:
        info = values[GlusterVolume(self.volume)]
        if info is None:
            return no_change("no volume yet: it is created with the inventory's bricks")
        current = values[GlusterBricks(self.volume)]
        grow = growth(self.volume, current, replica_count(info), self.wanted, self.replica)
        if not grow.add:
            return no_change(f"all {len(self.wanted)} bricks in the volume, replica {self.replica}")
        how = "as new replica sets" if grow.rebalance else f"raising the replica count to {grow.replica}"
        return Change([Action.run(add_brick_command(self.volume, grow))],
                      f"{len(grow.add)} bricks of the inventory not in the volume: added {how}")

    def fresh(self) -> list[Action]:
        return []


def rebalance_command(volume: str) -> str:
    return f"{GLUSTER} volume rebalance {shlex.quote(volume)} start"


def rebalanced(hosts: Sequence[str], asking: str):
    """The check of GlusterRebalanced: every host with a brick has rebalanced (this host is localhost)."""
    def test(nodes: frozenset[str]) -> bool:
        return all(h in nodes or (h == asking and "localhost" in nodes) for h in hosts)
    return test


def _removal(volume: str, current: Sequence[str], replica_now: int, stale: Sequence[str]) -> str:
    """How the operator takes the `stale` bricks out of the volume, as its layout allows."""
    v, bricks = shlex.quote(volume), shlex.join(stale)
    sets = [current[i:i + replica_now] for i in range(0, len(current), replica_now or 1)]
    per_set = {sum(b in stale for b in s) for s in sets}
    if per_set <= {0, replica_now}:   # whole replica sets: their data migrates to the others
        return (f"gluster volume remove-brick {v} {bricks} start, then its status until completed, "
                f"then gluster volume remove-brick {v} {bricks} commit")
    if len(per_set) == 1:             # as many copies from every set: the other copies stay
        k = per_set.pop()
        return (f"gluster volume remove-brick {v} replica {replica_now - k} {bricks} force "
                f"(and glusterfs.replica: {replica_now - k})")
    return (f"gluster volume replace-brick {v} BRICK NEWHOST:PATH commit force for each of {bricks}, onto a "
            "compute of the inventory")


def drain_problems(volumes: dict[str, tuple[Sequence[str], int]], wanted: dict[str, Sequence[str]],
                   hosts: Sequence[str], pool: frozenset[str]) -> list[str]:
    """One line per host that holds a brick (or is in the trusted pool) but is no longer in the
    inventory (`hosts`), and per brick the inventory puts elsewhere: what the operator does first.
    `volumes`: each volume's bricks and replica count as found; `wanted`: the inventory's bricks."""
    out: list[str] = []
    gone: dict[str, list[str]] = {}
    for volume, (current, replica_now) in volumes.items():
        stale = [b for b in current if b not in wanted[volume]]
        if not stale:
            continue
        for brick in stale:
            host = host_of(brick)
            if host in hosts:
                target = next((w for w in wanted[volume] if host_of(w) == host), f"{host}:PATH")
                move = shlex.join(["gluster", "volume", "replace-brick", volume, brick, target, "commit", "force"])
                out.append(f"{volume}: brick {brick} is not where the inventory puts {host}'s brick ({target}, "
                           f"glusterfs.brick_path); the deploy removes no brick: set glusterfs.brick_path back, "
                           f"or move it: {move}")
            else:
                gone.setdefault(host, [])
        removal = _removal(volume, current, replica_now, [b for b in stale if host_of(b) not in hosts])
        for host in gone:
            if any(host_of(b) == host for b in stale):
                gone[host].append(removal)
    for host, removals in gone.items():
        h = shlex.quote(host)
        out.append(f"{host} holds GlusterFS bricks but is not in the inventory; the deploy removes no brick. "
                   f"Drain it first: python -m deploy drain {h} (disables its nova-compute, live-migrates its "
                   f"guests away); then "
                   + "; ".join(dict.fromkeys(removals))
                   + f"; gluster peer detach {h}; openstack compute service delete and openstack network agent "
                   f"delete for its services (--host {h}). Or put {host} back in the inventory")
    for peer in sorted(p for p in pool if p != "localhost" and p not in hosts and p not in gone):
        out.append(f"{peer} is in GlusterFS's trusted pool but not in the inventory (it holds no brick): detach "
                   f"it (gluster peer detach {shlex.quote(peer)}) or put it back in the inventory")
    return out
