"""Numeric ids of the users and groups whose files live on shared storage
(the instances volume; volumes on the share). They must be equal on every
host, so the suite creates them before any package would. nova, cinder and
glance carry Debian's fixed ids; libvirt-qemu gets 64055 from its package
only when that id is free, so the suite makes sure it is the one used.
Guests run as libvirt-qemu:libvirt-qemu (Debian's qemu.conf)."""

ACCOUNTS = [
    # group, gid, user, uid, home, shell
    ("nova", 64060, "nova", 64060, "/var/lib/nova", "/bin/sh"),
    ("cinder", 64061, "cinder", 64061, "/var/lib/cinder", "/bin/false"),
    ("glance", 64062, "glance", 64062, "/var/lib/glance", "/bin/false"),
    ("libvirt-qemu", 64055, "libvirt-qemu", 64055, "/var/lib/libvirt", "/usr/sbin/nologin"),
]

NOVA_UID = NOVA_GID = 64060
CINDER_UID = CINDER_GID = 64061
