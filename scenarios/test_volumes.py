"""The report's 06-nova-volume-create and 07-nova-volume-attach, with Cinder:
data written to a volume in one guest is read back, byte for byte, in another."""
import pytest

from checks.openstack import wait_volume as checks_wait_volume
from scenarios.cloud import Stopwatch, wait_gone
from deploy.waits import wait_for

pytestmark = pytest.mark.scenario

FIND_NEW_DISK = ("for d in /sys/block/vd*; do n=${d##*/}; "
                 "grep -qs \"^/dev/$n\" /proc/mounts || [ \"$n\" = vda ] || echo $n; done")


def wait_volume(cloud, volume, status: str, timeout: float = 180):
    return checks_wait_volume(cloud.cinder, volume.id, status, timeout)


def attach(cloud, guest, volume, timing) -> str:
    """Attach and return the disk's name inside the guest (vdb, ...)."""
    watch = Stopwatch()
    cloud.nova.volumes.create_server_volume(guest.server.id, volume.id)
    wait_volume(cloud, volume, "in-use")
    shell = guest.root_shell()
    try:
        disk = wait_for(lambda: shell.run(FIND_NEW_DISK).split(), 120, f"the volume's disk in {guest.server.name}")
    finally:
        shell.close()
    timing("volume attach", watch())
    assert len(disk) == 1, f"{guest.server.name}: expected one new disk, found {disk}"
    return disk[0]


def detach(cloud, guest, volume) -> None:
    cloud.nova.volumes.delete_server_volume(guest.server.id, volume.id)
    wait_volume(cloud, volume, "available")


def test_volume_data_survives_detach_and_attach_to_another_guest(boot, cloud, cleanup, timing, inventory):
    """Create a 1 GB volume; attach it to guest A; find the new disk; make an
    ext4 filesystem; write a file of random bytes and note its sha256; detach;
    attach to guest B; the same file has the same sha256; detach; delete."""
    image = inventory.images[0].name
    volume = cloud.cinder.volumes.create(1, name="scenario-volume")
    cleanup.add(f"volume {volume.id}", lambda: (cloud.cinder.volumes.delete(volume.id),
                                                wait_gone(cloud, lambda: cloud.cinder.volumes.get(volume.id),
                                                          f"volume {volume.id}")))
    wait_volume(cloud, volume, "available")
    first, second = boot(image), boot(image)

    disk = attach(cloud, first, volume, timing)
    shell = first.root_shell()
    try:
        written = shell.run(
            f"mkfs.ext4 -q -F /dev/{disk} && mkdir -p /mnt/v && mount /dev/{disk} /mnt/v && "
            "dd if=/dev/urandom of=/mnt/v/blob bs=1024 count=2048 2>/dev/null && "
            "sha256sum /mnt/v/blob | cut -d' ' -f1 && umount /mnt/v && sync").strip()
    finally:
        shell.close()
    detach(cloud, first, volume)

    disk = attach(cloud, second, volume, timing)
    shell = second.root_shell()
    try:
        read = shell.run(f"mkdir -p /mnt/v && mount /dev/{disk} /mnt/v && "
                         "sha256sum /mnt/v/blob | cut -d' ' -f1 && umount /mnt/v").strip()
    finally:
        shell.close()
    assert read == written, f"{second.server.name} read {read}, {first.server.name} wrote {written}"
    detach(cloud, second, volume)
