"""Cinder in place of the report's nova-volume (its 24-nova-start ran
nova-volume on the controller, over LVM and an iSCSI target).

The lab's kernel has no iSCSI, device-mapper or NFS client (lab-notes), so
volumes are files on a GlusterFS volume of their own (phase 03), served by
Cinder's NFS driver: the driver and Nova's NFS volume driver mount the share
`CONTROLLER:/VOLUME` with `mount -t nfs`, which phase 04's helper turns into a
GlusterFS FUSE mount. Guests get a file-backed virtio disk, the same path on
real hardware; data lands on the replicated bricks and outlives any host.
"""
from __future__ import annotations

from ..config_values import one_line
from ..inventory import Inventory
from ..steps import Await, File, Packages, Service, Step
from . import Context, Endpoint, ServiceSpec
from .shared import RABBIT_UWSGI
from .shared import authtoken, config, controller_name, db_sync, db_url, python_get, transport_url, uwsgi_workers

BACKEND = "glusterfs"
SHARES_FILE = "/etc/cinder/glusterfs_shares"
MOUNT_BASE = "/var/lib/cinder/mnt"
PORT = 8776


def share(inv: Inventory) -> str:
    return one_line(f"{controller_name(inv)}:/{inv.glusterfs.volumes_volume}", "glusterfs.volumes_volume")


def cinder_conf(ctx: Context) -> dict:
    inv = ctx.inventory
    ctl = controller_name(inv)
    return {
        "DEFAULT": {"transport_url": transport_url(ctx, "cinder"), "auth_strategy": "keystone",
                    "my_ip": inv.controller.address, "enabled_backends": BACKEND,
                    "glance_api_servers": f"http://{ctl}:9292", "osapi_volume_workers": 2},
        "database": {"connection": db_url(ctx, "cinder", "cinder")},
        "keystone_authtoken": authtoken(ctx, "cinder"),
        "oslo_concurrency": {"lock_path": "/var/lib/cinder/tmp"},
        **RABBIT_UWSGI,
        BACKEND: {
            "volume_driver": "cinder.volume.drivers.nfs.NfsDriver",
            "volume_backend_name": BACKEND,
            "nfs_shares_config": SHARES_FILE,
            "nfs_mount_point_base": MOUNT_BASE,
            "nfs_sparsed_volumes": True,
            # Operations as root and files mode 0666: libvirt hands each attached
            # file to the guest's user itself (dynamic ownership).
            "nas_secure_file_operations": False,
            "nas_secure_file_permissions": False,
        },
    }


def steps(ctx: Context) -> list[Step]:
    inv = ctx.inventory
    conf = config("27-cinder-config", "/etc/cinder/cinder.conf", cinder_conf(ctx), group=SPEC.group)
    shares = File("27-cinder-config", SHARES_FILE, share(inv) + "\n", mode="0640", group=SPEC.group,
                  title=f"{SHARES_FILE}: {share(inv)}")
    uwsgi = uwsgi_workers("27-cinder-config", "/etc/cinder/cinder-api-uwsgi.ini")
    url = f"http://{controller_name(inv)}:{PORT}/"
    own = {"cinder-api": [uwsgi], "cinder-volume": [shares]}
    return [
        Packages("27-cinder-install", list(SPEC.packages), hold_services=True),
        conf, shares, uwsgi,
        db_sync("27-cinder-init-db", "cinder-common", "cinder-manage db sync", "cinder"),
        *[Service("27-cinder-start", s, restart_on=[conf, *own.get(s, [])]) for s in SPEC.units],
        Await("27-cinder-start", python_get(url), f"Cinder answering on {url}", timeout=180),
    ]


SPEC = ServiceSpec(
    "cinder", position=60, packages=("cinder-api", "cinder-scheduler", "cinder-volume", "python3-cinderclient"),
    units=("cinder-api", "cinder-scheduler", "cinder-volume"), steps=steps, group="cinder", databases=("cinder",),
    keystone_user="cinder",
    # Nova's [cinder] catalog_info looks for volumev3; clients also ask for block-storage
    catalog=(Endpoint("volumev3", "cinderv3", "OpenStack Block Storage", PORT, "/v3/%(project_id)s"),
             Endpoint("block-storage", "cinder", "OpenStack Block Storage", PORT, "/v3/%(project_id)s")),
    ports={PORT: "Cinder"}, log_dirs=("/var/log/cinder",), config_files=("/etc/cinder/*.conf",),
    schema_checks={"cinder": "cinder-status upgrade check"},
)
