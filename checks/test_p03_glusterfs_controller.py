"""Checks of 03-glusterfs-controller: every peer connected, both volumes
(Nova's instances, Cinder's volumes) started replicas over every compute's
brick, all bricks online, none with an entry pending heal."""
import re

import pytest

from checks.readings import replica_layout_problems
from deploy.facts_gluster import GlusterHealPending, nothing_pending
from deploy.phases.ids import CINDER_UID, NOVA_UID
from deploy.remote import Result
from deploy.waits import wait_for

pytestmark = [pytest.mark.p03, pytest.mark.usefixtures("phase_p03")]


@pytest.mark.controller
def test_every_peer_connected(host, inventory):
    out = host.check_output("gluster peer status")
    peers = dict(re.findall(r"Hostname: (\S+)\n.*?\nState: .*?\((\w+)\)", out, re.S))
    expected = {h.name for h in inventory.hosts if h.name != host.backend.hostname}
    wrong = {n: peers.get(n, "absent") for n in expected if peers.get(n) != "Connected"}
    assert not wrong, f"{host.backend.hostname}: gluster peers not connected: {wrong}"


@pytest.mark.controller
@pytest.mark.parametrize("volume", ["vm-instances", "cinder-volumes"])
def test_volume_is_started_replica(host, inventory, volume):
    """Both volumes: started, replicated `replica` times over one brick per
    compute (each replica set on distinct hosts), the virt option group, the
    root owned by the service that writes it."""
    gf = inventory.glusterfs
    name, owner = {"vm-instances": (gf.volume, NOVA_UID), "cinder-volumes": (gf.volumes_volume, CINDER_UID)}[volume]
    info = host.check_output("gluster volume info %s", name)
    computes = [h.name for h in inventory.with_role("compute")]
    wrong = replica_layout_problems(info, name, computes, gf.brick_path, gf.replica, owner)
    assert not wrong, "; ".join(wrong) + f"\n{info}"


@pytest.mark.controller
@pytest.mark.parametrize("volume", ["vm-instances", "cinder-volumes"])
def test_all_bricks_online(host, inventory, volume):
    name = {"vm-instances": inventory.glusterfs.volume, "cinder-volumes": inventory.glusterfs.volumes_volume}[volume]
    status = host.check_output("gluster volume status %s detail", name)
    bricks = re.findall(r"Brick\s+: Brick (\S+)\n.*?Online\s+: (\S)", status, re.S)
    offline = [b for b, online in bricks if online != "Y"]
    assert len(bricks) == len(inventory.with_role("compute")), f"{name}: bricks listed: {bricks}"
    assert not offline, (
        f"GlusterFS bricks offline: {', '.join(offline)} (volume {name}). Fix: `gluster volume start {name} force` "
        f"on {host.backend.hostname} restarts missing brick processes (or re-run the deploy: phase 03 does it); "
        f"if one stays offline, read /var/log/glusterfs/bricks/*.log and `systemctl status glusterd` on "
        f"{', '.join(sorted({b.split(':')[0] for b in offline}))}")


@pytest.mark.controller
@pytest.mark.parametrize("volume", ["vm-instances", "cinder-volumes"])
def test_no_brick_has_an_entry_pending_heal(host, inventory, volume):
    """Every brick holds what the others hold, by GlusterFS's own account (`heal info`): a write
    in flight shows for a moment, so the count is read until it is zero, for a minute at most."""
    name = {"vm-instances": inventory.glusterfs.volume, "cinder-volumes": inventory.glusterfs.volumes_volume}[volume]
    fact = GlusterHealPending(name)
    seen: dict[str, int] = {}

    def healed() -> bool:
        run = host.run(fact.command())
        seen.clear()
        seen.update(fact.parse(Result(host.backend.hostname, fact.command(), run.rc, run.stdout, run.stderr)))
        return nothing_pending(seen)

    wait_for(healed, 60, f"no entry of {name} pending heal on any brick (gluster volume heal {name} info)",
             interval=2.0, describe=lambda _: f"entries pending per brick (-1: not asked): {seen}")
