"""Checks of 04-glusterfs-all: the share mounted on the controller and every
compute; what one host writes, every other reads, and every brick holds."""
import hashlib
import os
import uuid

import pytest

from deploy.phases.ids import ACCOUNTS, NOVA_UID
from deploy.phases.p02_glusterfs_all import brick_dir

pytestmark = [pytest.mark.p04, pytest.mark.usefixtures("phase_p04")]


@pytest.mark.controller
@pytest.mark.compute
def test_share_mounted(host, inventory):
    mount = inventory.glusterfs.mount_point
    mp = host.mount_point(mount)
    assert mp.exists, f"{host.backend.hostname}: nothing mounted at {mount}"
    assert mp.filesystem == "fuse.glusterfs", f"{host.backend.hostname}: {mount} is {mp.filesystem}"
    assert mp.device.endswith(f":/{inventory.glusterfs.volume}"), f"{host.backend.hostname}: {mount} is {mp.device}"
    assert host.file(mount).uid == NOVA_UID, f"{host.backend.hostname}: {mount} not owned by uid {NOVA_UID}"
    fstab = host.file("/etc/fstab").content_string
    assert any(l.split()[1:3] == [mount, "glusterfs"] for l in fstab.splitlines() if l.strip() and not l.startswith("#")), \
        f"{host.backend.hostname}: /etc/fstab does not mount {mount} at boot"


@pytest.mark.controller
@pytest.mark.compute
def test_share_owners_have_the_same_ids(host):
    for group, gid, user, uid, *_ in ACCOUNTS:
        assert host.group(group).gid == gid, f"{host.backend.hostname}: group {group} has gid {host.group(group).gid}, expected {gid}"
        if user:
            assert host.user(user).uid == uid, f"{host.backend.hostname}: user {user} has uid {host.user(user).uid}, expected {uid}"


@pytest.mark.controller
@pytest.mark.compute
def test_written_on_one_host_read_on_every_other(inventory, pool):
    """Write a random file through compute2's mount (or the first compute), read
    it back byte for byte through every other mount and find it in each brick."""
    mount = inventory.glusterfs.mount_point
    computes = inventory.with_role("compute")
    writer = computes[1] if len(computes) > 1 else computes[0]
    data = os.urandom(256 * 1024)
    digest = hashlib.sha256(data).hexdigest()
    name = f"check-{uuid.uuid4().hex[:8]}"
    path = f"{mount}/{name}"
    pool[writer.name].put(path, data, mode="0644")
    try:
        wrong = []
        for h in inventory.with_role("controller") + computes:
            got = pool[h.name].run(["sha256sum", path], check=False).stdout.split()[:1]
            if got != [digest]:
                wrong.append(f"{h.name} reads {got or 'nothing'}")
        holders = [h.name for h in computes if pool[h.name].run(
            ["sha256sum", f"{brick_dir(inventory)}/{name}"], check=False).stdout.split()[:1] == [digest]]
        if len(holders) != inventory.glusterfs.replica:
            wrong.append(f"{len(holders)} bricks hold a copy ({', '.join(holders) or 'none'}), "
                         f"expected {inventory.glusterfs.replica}")
        assert not wrong, f"{path} written on {writer.name} ({digest[:12]}): " + "; ".join(wrong)
    finally:
        pool[writer.name].run(["rm", "-f", path], check=False)
