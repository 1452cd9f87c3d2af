"""04-glusterfs-all: the volume mounted as Nova's instances directory.

The report's 01-glusterfs-mount, plus what it left implicit: the users that
own files on the share get the same numeric ids on every host first.
"""
from __future__ import annotations

from ..inventory import Host, Inventory
from ..steps import Account, Command, Line, Step
from . import Context, Phase
from .ids import ACCOUNTS, NOVA_GID, NOVA_UID

MOUNT_OPTIONS = "defaults,_netdev"


def fstab_line(inv: Inventory) -> str:
    """localhost as in the report (every host runs glusterd); other peers as fallbacks."""
    backups = ":".join(h.name for h in inv.with_role("compute")[:3])
    return (f"localhost:/{inv.glusterfs.volume} {inv.glusterfs.mount_point} glusterfs "
            f"{MOUNT_OPTIONS},backup-volfile-servers={backups} 0 0")


def steps(ctx: Context, host: Host) -> list[Step]:
    inv = ctx.inventory
    mount = inv.glusterfs.mount_point
    result: list[Step] = [Account("00-ids", g, gid, u, uid, home or "/nonexistent", shell or "/usr/sbin/nologin")
                          for g, gid, u, uid, home, shell in ACCOUNTS]
    result += [
        Line("01-glusterfs-mount", "/etc/fstab", fstab_line(inv),
             match=lambda line: line.split()[1:2] == [mount], title=f"/etc/fstab mounts {mount}"),
        Command("01-glusterfs-mount", f"mkdir -p {mount} && mount {mount}",
                unless=f"findmnt -n -t fuse.glusterfs {mount} >/dev/null", title=f"{mount} mounted"),
        Command("01-glusterfs-mount", f"chown {NOVA_UID}:{NOVA_GID} {mount} && chmod 0755 {mount}",
                unless=f"test \"$(stat -c '%u:%g %a' {mount})\" = '{NOVA_UID}:{NOVA_GID} 755'",
                title=f"{mount} owned by nova, mode 0755"),
    ]
    return result


PHASE = Phase(4, "glusterfs-all", ("controller", "compute"), steps)
