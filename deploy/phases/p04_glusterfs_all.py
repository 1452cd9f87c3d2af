"""04-glusterfs-all: the volume mounted as Nova's instances directory.

The report's 01-glusterfs-mount, plus what it left implicit: the users that
own files on the share get the same numeric ids on every host first.

Cinder's volumes are files on a second GlusterFS volume, which Cinder's NFS
driver and Nova's NFS volume driver mount on demand with `mount -t nfs
HOST:/VOLUME`. This host's kernel may have no NFS client (the embedded lab's
has none), and GlusterFS needs none: a mount.nfs helper mounts the share with
GlusterFS's FUSE client instead. Data lands on the replicated bricks.
"""
from __future__ import annotations

import shlex

from ..inventory import Host, Inventory
from ..facts import MountType, PathOwner, PathStat, check
from ..steps import Account, Command, File, Line, Step
from . import Context, Phase
from ..config_values import fstab_field
from .ids import ACCOUNTS, NOVA_GID, NOVA_UID

MOUNT_OPTIONS = "defaults,_netdev"
MOUNT_HELPER = "/usr/sbin/mount.nfs"
MOUNT_HELPER_TEXT = """\
#!/bin/sh
# Written by the deploy suite (04-glusterfs-all). Cinder's and Nova's NFS volume
# drivers mount HOST:/VOLUME with `mount -t nfs`; the share is a GlusterFS
# volume, mounted here by GlusterFS's FUSE client (no kernel NFS client needed).
# Their NFS mount options do not apply to GlusterFS and are left out.
if [ $# -lt 2 ]; then
    echo "usage: mount.nfs HOST:/GLUSTER-VOLUME DIR [-o OPTIONS] (GlusterFS helper of the deploy suite)" >&2
    exit 1
fi
exec mount -t glusterfs "$1" "$2"
"""


def fstab_line(inv: Inventory) -> str:
    """localhost as in the report (every host runs glusterd); other peers as fallbacks."""
    backups = ":".join(h.name for h in inv.with_role("compute")[:3])
    return (f"{fstab_field('localhost:/' + inv.glusterfs.volume)} {fstab_field(inv.glusterfs.mount_point)} glusterfs "
            f"{MOUNT_OPTIONS},backup-volfile-servers={backups} 0 0")


def steps(ctx: Context, host: Host) -> list[Step]:
    inv = ctx.inventory
    mount, word = inv.glusterfs.mount_point, shlex.quote(inv.glusterfs.mount_point)
    owner = PathOwner(f"{NOVA_UID}:{NOVA_GID}", "755")
    result: list[Step] = [Account("00-ids", g, gid, u, uid, home or "/nonexistent", shell or "/usr/sbin/nologin")
                          for g, gid, u, uid, home, shell in ACCOUNTS]
    result += [
        Line("01-glusterfs-mount", "/etc/fstab", fstab_line(inv),
             match=lambda line: line.split()[1:2] == [fstab_field(mount)], title=f"/etc/fstab mounts {mount}"),
        Command("01-glusterfs-mount", f"mkdir -p {word} && mount {word}",
                unless=check(MountType(mount), lambda fstype: fstype == "fuse.glusterfs", f"{mount} a GlusterFS mount"),
                title=f"{mount} mounted"),
        Command("01-glusterfs-mount", f"chown {NOVA_UID}:{NOVA_GID} {word} && chmod 0755 {word}",
                unless=check(PathStat(mount), lambda found: found == owner, f"{mount} {owner.ids} {owner.mode}"),
                title=f"{mount} owned by nova, mode 0755"),
        # A real NFS client's helper is not ours to replace: stop and say so.
        Command("02-volumes-mount-helper",
                f"echo \"$(dpkg -S {MOUNT_HELPER}): the suite's volumes are GlusterFS and need its own "
                f"{MOUNT_HELPER}; remove that package\" >&2; false",
                unless=f"! dpkg -S {MOUNT_HELPER} >/dev/null 2>&1",
                title=f"no package owns {MOUNT_HELPER}"),
        File("02-volumes-mount-helper", MOUNT_HELPER, MOUNT_HELPER_TEXT, mode="0755"),
    ]
    return result


PHASE = Phase(4, "glusterfs-all", ("controller", "compute"), steps)
