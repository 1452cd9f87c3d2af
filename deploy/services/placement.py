"""Placement (split out of Nova since the report): its API under uwsgi.
Everything the suite knows of Placement is in this file."""
from __future__ import annotations

from ..steps import Step
from . import Context, Endpoint, ServiceSpec
from .shared import api_service, authtoken, config, controller_name, db_sync, db_url, uwsgi_workers

PORT = 8778


def steps(ctx: Context) -> list[Step]:
    conf = config("20-placement-config", "/etc/placement/placement.conf", {
        "placement_database": {"connection": db_url(ctx, "placement", "placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": authtoken(ctx, "placement"),
    }, group=SPEC.group)
    uwsgi = uwsgi_workers("20-placement-config", "/etc/placement/placement-api-uwsgi.ini")
    url = f"http://{controller_name(ctx.inventory)}:{PORT}/"
    return api_service(SPEC, install="20-placement-install", configs=[conf, uwsgi],
                       sync=db_sync("20-placement-init-db", "placement-common", "placement-manage db sync",
                                    "placement"),
                       start="20-placement-start", url=url, what="Placement")


SPEC = ServiceSpec(
    "placement", position=30, packages=("placement-api",), units=("placement-api",), steps=steps,
    group="placement", databases=("placement",), keystone_user="placement",
    catalog=(Endpoint("placement", "placement", "Placement API", PORT),),
    ports={PORT: "Placement"}, log_dirs=("/var/log/placement",), config_files=("/etc/placement/*.conf",),
    schema_checks={"placement": "placement-status upgrade check"},
)
