"""Day 2 on the shared storage (`pytest -m day2`; not in the default run): the
embedded lab grows a compute and the deploy brings it in; the operator drains
it and brings it back; then it loses power with a guest on it, and that guest
is evacuated from its disk on the share, the host returns, the volume heals
and Nova cleans up what the host left. In that order: each test starts from
the state the one before leaves.

After these tests the lab has one compute more than inventory.yaml names:
the grown inventory is LAB.state_dir/day2/inventory.yaml (use it with
--inventory), and a run with the smaller inventory is refused before it
changes anything, naming the host and how to drain it."""
from __future__ import annotations

import shlex
import uuid

import pytest

import lab
from checks.openstack import SERVER_FAILURES
from deploy.phases.p09_openstack_gateway.networks import VM_NETWORK
from deploy.remote import RemoteError
from deploy.facts_gluster import (GlusterBricks, GlusterBricksOnline, GlusterHealPending, GlusterVolume,
                                  nothing_pending, replica_count)
from deploy.phases.p02_glusterfs_all import brick_dir
from deploy.phases.p03_glusterfs_controller import STATUS_LOCK
from deploy.waits import WaitTimeout, wait_for, wait_for_status
from scenarios.cloud import Cloud, Stopwatch, fault_of, host_of, server_detail, task_state, wait_gone, wait_server
from scenarios.day2 import Suite, file_difference, on_host, write_grown
from scenarios.test_live_migration import migrate

pytestmark = pytest.mark.day2

# written on the guest's own disk (tiny's first disk is FAT: syslinux, kernel, initramfs) and synced,
# as an application that needs it kept does: FAT's fsync flushes the disk's write cache, so QEMU
# writes its qcow2 metadata too (without it, the power cut lost the new cluster: seen on the lab)
MARK = "written before the power cut"
WRITE_MARK = (f"mkdir -p /mnt/d && mount /dev/vda /mnt/d && echo '{MARK}' > /mnt/d/day2.txt && "
              "sync -d /mnt/d/day2.txt && umount /mnt/d")
READ_MARK = "mkdir -p /mnt/d && mount /dev/vda /mnt/d && cat /mnt/d/day2.txt; s=$?; umount /mnt/d; exit $s"


q = shlex.quote


class Grown:
    def __init__(self, suite: Suite, seconds: float, was_there: bool):
        self.suite = suite
        self.inventory = suite.inventory()
        self.host = self.inventory.hosts[-1].name   # the new compute
        self.bring_in_seconds = seconds
        self.was_there = was_there   # it held a brick before: a run before this one brought it in


@pytest.fixture(scope="session")   # session: the scenarios' session fixtures (key pair, flavors) use it
def grown(inventory, pytestconfig) -> Grown:
    """The inventory with one compute more, deployed with `python -m deploy apply --inventory`."""
    if not inventory.lab.embedded:
        pytest.skip("the day-2 scenarios grow the embedded lab by a host; on a real lab, add the host to "
                    "your inventory and run `python -m deploy apply` (README: Day 2)")
    folder = inventory.lab.state_dir / "day2"
    if inventory.path.parent == folder:
        pytest.fail(f"pytest -m day2 grows the inventory it is given by a compute and writes the grown one to "
                    f"{folder}: give it the original inventory, not {inventory.path}", pytrace=False)
    path = write_grown(inventory, folder)
    suite = Suite(path, pytestconfig.rootpath / "reports" / "day2")
    grown_inv = suite.inventory()
    new = grown_inv.hosts[-1]
    was_there = f"{new.name}:{brick_dir(grown_inv, grown_inv.glusterfs.volume)}" in bricks_now(grown_inv)
    watch = Stopwatch()
    suite.run("bring-in", "deploy", "apply")
    return Grown(suite, watch(), was_there)


@pytest.fixture(scope="session")
def cloud(grown, secrets) -> Cloud:
    """The scenarios' admin clients, for the grown cloud (the same Keystone; overrides the
    default inventory's `cloud`, whose deploy would refuse the host it does not name)."""
    return Cloud(grown.inventory, secrets)   # the same file: secrets.file


def bricks_now(inv) -> tuple[str, ...]:
    """The instances volume's bricks as the controller has them; none before there is a volume
    (or a controller: a lab not up yet, which the deploy brings up)."""
    bricks = GlusterBricks(inv.glusterfs.volume)
    try:
        return bricks.parse(on_host(inv, inv.controller.name, bricks.command(), timeout=60, check=False))
    except RemoteError:
        return ()


def volume_facts(grown: Grown, volume: str):
    result = on_host(grown.inventory, grown.inventory.controller.name, f"gluster volume info {q(volume)}")
    return GlusterVolume(volume).parse(result), GlusterBricks(volume).parse(result)


def brick_files(inv, host: str, volume: str) -> list[str]:
    """The files of a host's brick of the volume (GlusterFS's own .glusterfs left out), with sizes."""
    return on_host(inv, host, f"cd {q(brick_dir(inv, volume))} && find . -path ./.glusterfs -prune -o -type f "
                              "-printf '%p %s\\n' | sort").stdout.splitlines()


def wait_same_files(inv, new: str, first: str, volume: str, timeout: float = 300) -> None:
    """Until the new brick holds every file (and size) the first compute's brick holds; each change
    of the difference is logged, and a timeout names it with what the self-heal daemon has pending."""
    seen = {"difference": ""}

    def same() -> bool:
        seen["difference"] = file_difference(brick_files(inv, new, volume), brick_files(inv, first, volume))
        return not seen["difference"]

    try:
        wait_for(same, timeout, f"{new}'s brick of {volume} holding every file {first}'s holds", interval=3.0,
                 describe=lambda _: seen["difference"] or "the same files")
    except WaitTimeout as e:
        heal = on_host(inv, inv.controller.name, f"gluster volume heal {q(volume)} info summary", check=False)
        raise WaitTimeout(f"{e}\ngluster volume heal {volume} info summary:\n{heal.stdout}{heal.stderr}") from None


def service(cloud: Cloud, host: str):
    found = cloud.nova.services.list(host=host, binary="nova-compute")
    assert len(found) == 1, f"Nova lists {len(found)} nova-compute services on {host}"
    return found[0]


def wait_service(cloud: Cloud, host: str, state: str, timeout: float) -> None:
    wait_for_status(lambda: service(cloud, host), state, f"nova-compute on {host} {state}", timeout,
                    state=lambda s: s.state, detail=lambda s: f"status {s.status}, updated {s.updated_at}",
                    interval=2.0)


def servers_on(cloud: Cloud, host: str) -> list:
    return cloud.nova.servers.list(search_opts={"all_tenants": 1, "host": host})


def test_scale_out_brings_the_new_compute_in(grown, cloud, boot, inventory, timing):
    """The deploy with a fifth compute in the inventory: both volumes hold a brick on it, with
    the inventory's replica count, every brick online and the share mounted there; Nova has its
    hypervisor up and Neutron its linuxbridge agent; a guest booted on it answers SSH and
    live-migrates away and back."""
    timing(f"scale-out: deploy apply {'converging' if grown.was_there else 'bringing in'} {grown.host}",
           grown.bring_in_seconds)
    inv, new = grown.inventory, grown.host
    for volume in (inv.glusterfs.volume, inv.glusterfs.volumes_volume):
        info, bricks = volume_facts(grown, volume)
        assert f"{new}:{brick_dir(inv, volume)}" in bricks, f"volume {volume} has no brick on {new}: {bricks}"
        assert replica_count(info) == inv.glusterfs.replica == len(inv.with_role("compute")), \
            f"volume {volume}: {info.get('Number of Bricks')}, the inventory says replica {inv.glusterfs.replica}"
        status = GlusterBricksOnline(volume, STATUS_LOCK)   # the deploy's own fact, under its lock
        online = status.parse(on_host(inv, inv.controller.name, status.command()))
        assert online == len(bricks), f"volume {volume}: {online} of {len(bricks)} bricks online"
        # what the volume held before the new brick came is copied onto it (a replica, not an empty disk)
        first = inv.with_role("compute")[0].name
        wait_same_files(inv, new, first, volume)
    mounted = on_host(inv, new, f"findmnt -n -o FSTYPE {q(inv.glusterfs.mount_point)}").stdout.strip()
    assert mounted == "fuse.glusterfs", f"{new}: {inv.glusterfs.mount_point} is {mounted or 'not mounted'}"

    svc = service(cloud, new)
    assert (svc.state, svc.status) == ("up", "enabled"), f"nova-compute on {new}: {svc.state}, {svc.status}"
    hypervisors = {h.hypervisor_hostname.split(".")[0]: h for h in cloud.nova.hypervisors.list()}
    assert new in hypervisors and hypervisors[new].state == "up", f"no hypervisor {new} up: {sorted(hypervisors)}"
    agents = cloud.neutron("GET", f"/agents?host={new}&binary=neutron-linuxbridge-agent")["agents"]
    assert [a["alive"] for a in agents] == [True], f"linuxbridge agent on {new}: {agents}"

    guest = boot(inventory.images[0].name, host=new)
    assert guest.host == new, f"asked for {new}, the guest runs on {guest.host}"
    with guest.shell():
        pass
    _, away = migrate(cloud, guest, timing, f"from the new compute {new}")
    _, back = migrate(cloud, guest, timing, f"back to the new compute from {away}", to=new)
    assert back == new


def test_the_inventory_without_the_new_compute_is_refused_naming_it(grown, inventory):
    """The deploy with the inventory that does not name the new compute changes no host: it
    stops before any phase, naming the host and how to drain it (the cloud keeps the host)."""
    said = grown.suite.run("smaller-inventory", "deploy", "apply", exit_code=2, inventory=inventory.path)
    lines = [line for line in said.splitlines() if grown.host in line]
    assert lines and "refused before changing anything" in said and any("drain" in line for line in lines), \
        f"the deploy with {inventory.path} did not name {grown.host} and how to drain it:\n{said[-3000:]}"
    assert "deploy.runner p01" not in said and "applied" not in said, f"a phase ran:\n{said[-3000:]}"


def refused_boot(cloud: Cloud, cleanup, image_ids, flavors, networks, keypair, image: str, host: str):
    """A guest asked for on `host` that the scheduler must refuse: it ends in ERROR, "No valid host"."""
    name = f"scn-refused-{uuid.uuid4().hex[:6]}"
    server = cloud.nova.servers.create(name, image_ids[image], flavors[image], key_name=keypair[0],
                                       nics=[{"net-id": networks[VM_NETWORK]}], host=host)
    cleanup.add(f"server {name}", lambda: (cloud.nova.servers.delete(server), wait_gone(
        cloud, lambda: cloud.nova.servers.get(server.id), f"server {name}")))
    found = wait_for_status(lambda: cloud.nova.servers.get(server.id), "ERROR", f"{name} on {host} refused", 180,
                            failures=("ACTIVE",), detail=server_detail)
    assert "No valid host" in fault_of(found), f"{name} on {host}: ERROR for another reason: {fault_of(found)}"


def test_drain_empties_the_host_and_undrain_brings_it_back(grown, cloud, boot, inventory, timing, cleanup,
                                                          image_ids, flavors, networks, keypair):
    """`python -m deploy drain HOST` with a guest on it: the service is disabled with the reason,
    the guest runs elsewhere and answers, nothing is left on the host (Nova's list and libvirt's),
    and the scheduler refuses a guest asked for there; `undrain` enables it and a guest boots
    there again."""
    new, image = grown.host, inventory.images[0].name
    guest = boot(image, host=new)
    watch = Stopwatch()
    undrained = []   # a failure before the undrain must not leave the host disabled for the next run
    cleanup.add(f"undrain {new}", lambda: undrained or grown.suite.run("undrain-cleanup", "deploy", "undrain", new))
    said = grown.suite.run("drain", "deploy", "drain", new)
    timing(f"drain {new} with one guest", watch())
    svc = service(cloud, new)
    assert svc.status == "disabled" and "drain" in (svc.disabled_reason or ""), \
        f"nova-compute on {new} after drain: {svc.status}, reason {svc.disabled_reason!r}\n{said}"
    assert not servers_on(cloud, new), f"left on {new} after drain: {[s.name for s in servers_on(cloud, new)]}"
    domains = on_host(grown.inventory, new, "virsh -c qemu:///system list --all --name").stdout.split()
    assert not domains, f"libvirt on {new} still has domains after the drain: {domains}"
    assert guest.refresh().status == "ACTIVE" and guest.host != new, f"{guest.server.name}: {server_detail(guest.server)}"
    with guest.shell():
        pass
    refused_boot(cloud, cleanup, image_ids, flavors, networks, keypair, image, new)

    said = grown.suite.run("undrain", "deploy", "undrain", new)
    undrained.append(True)
    svc = service(cloud, new)
    assert (svc.status, svc.disabled_reason) == ("enabled", None), \
        f"nova-compute on {new} after undrain: {svc.status}, reason {svc.disabled_reason!r}\n{said}"
    again = boot(image, host=new)
    assert again.host == new, f"after undrain, a guest asked for {new} runs on {again.host}"


def test_a_power_cut_loses_no_guest_and_the_host_heals_on_return(grown, cloud, boot, inventory, timing, cleanup):
    """A guest on the new compute writes to its disk; a guest runs on another compute; the new
    compute's power is cut. The share stays writable from every other host, the other guest
    answers, Nova reports the service down; the guest is evacuated (its disk is on the share)
    and answers elsewhere with what it wrote. The host returns and the deploy converges it: the
    volumes heal to no pending entry, its service is up and enabled, and Nova has removed the
    evacuated guest from it (the evacuation's record completed, no domain left there)."""
    inv, new, image = grown.inventory, grown.host, inventory.images[0].name
    others = [h.name for h in inv.hosts if h.name != new]
    lost = boot(image, host=new)
    lost.run_as_root(WRITE_MARK)
    bystander = boot(image, host=next(h.name for h in inv.with_role("compute") if h.name != new))
    instance = getattr(lost.server, "OS-EXT-SRV-ATTR:instance_name")

    returned = []   # a failure before the return must not leave the host off for the next run
    cleanup.add(f"{new} back", lambda: returned or grown.suite.run("return-cleanup", "deploy", "apply"))
    lab.power_cut(inv, lab.find_host(inv, new))
    cut = Stopwatch()
    # on the GlusterFS mount (a mount gone would write to the local disk), as each host's own file
    probe = ("timeout 120 sh -c 'test \"$(stat -f -c %T \"$1\")\" = fuseblk && p=\"$1/.day2-probe-$(hostname)\" && "
             "echo ok > \"$p\" && cat \"$p\" && rm \"$p\"' sh " + q(inv.glusterfs.mount_point))
    for name in others:   # a brick gone without a word: writes wait for GlusterFS's ping timeout (42 s)
        on_host(inv, name, probe, timeout=150)
    timing("power cut: the share writable again from every other host", cut())
    # what the other bricks now hold and the lost one lacks: the heal the return must finish
    lost_brick = f"{new}:{brick_dir(inv, inv.glusterfs.volume)}"
    pending = GlusterHealPending(inv.glusterfs.volume)
    during = pending.parse(on_host(inv, inv.controller.name, pending.command()))
    assert during.get(lost_brick) == -1 and any(n > 0 for n in during.values()), \
        f"volume {inv.glusterfs.volume} during the loss: {during} (expected {lost_brick} unreachable, entries pending)"
    with bystander.shell():
        pass
    wait_service(cloud, new, "down", timeout=180)
    timing("power cut: nova-compute reported down", cut())

    watch = Stopwatch()
    cloud.nova.servers.evacuate(lost.server)
    evacuated = wait_for_status(lambda: cloud.nova.servers.get(lost.server.id), "ACTIVE",
                                f"{lost.server.name} evacuated from {new}", 600, failures=SERVER_FAILURES,
                                ready=lambda s: task_state(s) is None and host_of(s) != new, detail=server_detail)
    timing("evacuate to ACTIVE", watch())
    lost.server = evacuated
    assert MARK in lost.run_as_root(READ_MARK), f"{lost.server.name} lost what it wrote before the power cut"
    timing("evacuate to SSH with the data", watch())

    watch = Stopwatch()
    grown.suite.run("return", "deploy", "apply")
    returned.append(True)
    timing(f"{new} back: deploy apply", watch())
    watch = Stopwatch()
    for volume in (inv.glusterfs.volume, inv.glusterfs.volumes_volume):
        # no heal asked for here: the deploy's phase 03 awaited it; a write in flight shows for a moment
        pending = GlusterHealPending(volume)
        wait_for(lambda: nothing_pending(pending.parse(on_host(inv, inv.controller.name, pending.command()))), 60,
                 f"volume {volume} healed (no entry pending on any brick)", interval=3.0)
    timing("heal: after the converging deploy, until no entry pending", watch())
    wait_service(cloud, new, "up", timeout=180)
    svc = service(cloud, new)
    assert svc.status == "enabled", f"nova-compute on {new} after its return: {svc.status} ({svc.disabled_reason})"

    def evacuation():
        found = [m for m in cloud.nova.migrations.list(instance_uuid=lost.server.id)
                 if m.migration_type == "evacuation"]
        return found[-1] if found else None
    wait_for_status(evacuation, "completed", f"the evacuation of {lost.server.name} cleaned up on {new}", 180,
                    failures=("error", "failed"), state=lambda m: m.status if m else "no record")
    domains = on_host(inv, new, "virsh -c qemu:///system list --all --name").stdout.split()
    assert instance not in domains, f"{new} still has the evacuated guest's domain {instance}: {domains}"
    assert bystander.refresh().status == "ACTIVE", f"{bystander.server.name}: {server_detail(bystander.server)}"
    # the clean-up on the returned host kept the disk it shares with the guest's new host: a hard
    # reboot reads it again (the guest runs from memory, QEMU would keep a deleted file open)
    disk = q(f"{inv.glusterfs.mount_point}/{lost.server.id}/disk")
    on_host(inv, host_of(lost.refresh()), f"test -s {disk}")
    cloud.nova.servers.reboot(lost.server, "HARD")
    wait_server(cloud, lost.server, "ACTIVE")
    assert MARK in lost.run_as_root(READ_MARK), f"{lost.server.name} lost its disk's data after {new}'s clean-up"
