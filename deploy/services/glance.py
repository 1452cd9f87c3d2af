"""12-glance-install ... 17-glance-start: the image service, its store on the
controller (the report gave it its own volume at /var/lib/glance/images)."""
from __future__ import annotations

from ..steps import Step
from . import Context, Endpoint, ServiceSpec
from .shared import api_service, authtoken, config, controller_name, db_sync, db_url

IMAGES_DIR = "/var/lib/glance/images/"
PORT = 9292


def steps(ctx: Context) -> list[Step]:
    conf = config("14-glance-config", "/etc/glance/glance-api.conf", {
        "DEFAULT": {"workers": 2, "bind_host": ctx.inventory.controller.address},
        "database": {"connection": db_url(ctx, "glance", "glance")},
        "keystone_authtoken": authtoken(ctx, "glance"),
        "paste_deploy": {"flavor": "keystone"},
        "glance_store": {"stores": "file,http", "default_store": "file", "filesystem_store_datadir": IMAGES_DIR},
        "oslo_limit": {"endpoint_id": None},
    }, group=SPEC.group)
    url = f"http://{controller_name(ctx.inventory)}:{PORT}/versions"
    return api_service(SPEC, install="12-glance-install", configs=[conf],
                       sync=db_sync("15-glance-init-db", "glance-common", "glance-manage db_sync", "glance"),
                       start="17-glance-start", url=url, what="Glance")


SPEC = ServiceSpec(
    "glance", position=20, packages=("glance",), units=("glance-api",), steps=steps,
    group="glance", databases=("glance",), keystone_user="glance",
    catalog=(Endpoint("image", "glance", "OpenStack Image", PORT),),
    ports={PORT: "Glance"}, log_dirs=("/var/log/glance",), config_files=("/etc/glance/*.conf",),
)
