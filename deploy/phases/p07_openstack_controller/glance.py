"""12-glance-install ... 17-glance-start: the image service, its store on the
controller (the report gave it its own volume at /var/lib/glance/images)."""
from __future__ import annotations

from ...steps import Await, Packages, Service, Step
from .. import Context
from .common import authtoken, config, controller_name, db_sync, db_url
from .keystone import python_get

IMAGES_DIR = "/var/lib/glance/images/"


def steps(ctx: Context) -> list[Step]:
    conf = config("14-glance-config", "/etc/glance/glance-api.conf", {
        "DEFAULT": {"workers": 2, "bind_host": ctx.inventory.controller.address},
        "database": {"connection": db_url(ctx, "glance", "glance")},
        "keystone_authtoken": authtoken(ctx, "glance"),
        "paste_deploy": {"flavor": "keystone"},
        "glance_store": {"stores": "file,http", "default_store": "file", "filesystem_store_datadir": IMAGES_DIR},
        "oslo_limit": {"endpoint_id": None},
    }, group="glance")
    url = f"http://{controller_name(ctx.inventory)}:9292/versions"
    return [
        Packages("12-glance-install", ["glance"], hold_services=True),
        conf,
        db_sync("15-glance-init-db", "glance-common", "glance-manage db_sync", "glance"),
        Service("17-glance-start", "glance-api", restart_on=[conf]),
        Await("17-glance-start", python_get(url), f"Glance answering on {url}", timeout=120),
    ]
