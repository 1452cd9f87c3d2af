"""Brick disks: a sparse image per compute host, formatted XFS once, loop-
mounted on the machine (loop devices cannot be set up inside a container)
and bound into the host at the inventory's brick path."""
from __future__ import annotations

import logging
from pathlib import Path

from deploy.inventory import Host, Inventory

from .system import sh

log = logging.getLogger("lab.disks")


def paths(inv: Inventory, host: Host) -> tuple[Path, Path]:
    state = inv.lab.state_dir
    return state / "disks" / f"{host.name}-brick.img", state / "mnt" / f"{host.name}-brick"


def mounted(path: Path) -> bool:
    return sh(["findmnt", "-n", str(path)], check=False).returncode == 0


def up(inv: Inventory, host: Host) -> Path:
    image, mount = paths(inv, host)
    image.parent.mkdir(parents=True, exist_ok=True)
    mount.mkdir(parents=True, exist_ok=True)
    if not image.exists():
        partial = image.with_name(image.name + ".partial")
        sh(["truncate", "-s", inv.lab.brick_size, str(partial)])
        sh(["mkfs.xfs", "-q", "-f", str(partial)])
        partial.rename(image)
    if not mounted(mount):
        sh(["mount", "-o", "loop", str(image), str(mount)])
    return mount


def down(inv: Inventory, host: Host, remove: bool) -> None:
    image, mount = paths(inv, host)
    if mounted(mount):
        sh(["umount", str(mount)])
    loops = sh(["losetup", "-j", str(image)], check=False).stdout.split(":")[0]
    if loops.startswith("/dev/loop"):
        sh(["losetup", "-d", loops], check=False)
    if remove:
        image.unlink(missing_ok=True)
        if mount.exists():
            mount.rmdir()
