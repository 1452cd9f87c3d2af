"""Placement (split out of Nova since the report): its API under uwsgi."""
from __future__ import annotations

from ...steps import Await, Packages, Service, Step
from .. import Context
from .common import authtoken, config, controller_name, db_sync, db_url, uwsgi_workers
from .keystone import python_get


def steps(ctx: Context) -> list[Step]:
    conf = config("20-placement-config", "/etc/placement/placement.conf", {
        "placement_database": {"connection": db_url(ctx, "placement", "placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": authtoken(ctx, "placement"),
    }, group="placement")
    uwsgi = uwsgi_workers("20-placement-config", "/etc/placement/placement-api-uwsgi.ini")
    url = f"http://{controller_name(ctx.inventory)}:8778/"
    return [
        Packages("20-placement-install", ["placement-api"], hold_services=True),
        conf,
        uwsgi,
        db_sync("20-placement-init-db", "placement-common", "placement-manage db sync", "placement"),
        Service("20-placement-start", "placement-api", restart_on=[conf, uwsgi]),
        Await("20-placement-start", python_get(url), f"Placement answering on {url}", timeout=120),
    ]
