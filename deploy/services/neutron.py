"""Neutron's server (in place of the report's nova-network): ML2 with the
linuxbridge mechanism (the lab's kernel has no Open vSwitch) and a flat
provider network type; the agents come in phases 08 and 09."""
from __future__ import annotations

from ..steps import Await, Packages, Service, Step
from . import Context, Endpoint, ServiceSpec
from .shared import RABBIT_UWSGI
from .shared import (authtoken, config, controller_name, db_sync, db_url, python_get, service_credentials,
                     transport_url, uwsgi_workers)

ML2_CONF = "/etc/neutron/plugins/ml2/ml2_conf.ini"
# The physical network the gateway bridges (phase 08 maps it to its provider NIC)
PUBLIC_PHYSNET = "public"
PORT = 9696


def neutron_conf(ctx: Context) -> dict:
    return {
        "DEFAULT": {"core_plugin": "ml2", "service_plugins": "router", "transport_url": transport_url(ctx, "neutron"),
                    "auth_strategy": "keystone", "notify_nova_on_port_status_changes": True,
                    "notify_nova_on_port_data_changes": True, "api_workers": 2, "rpc_workers": 1},
        "database": {"connection": db_url(ctx, "neutron", "neutron")},
        "keystone_authtoken": authtoken(ctx, "neutron"),
        "nova": service_credentials(ctx, "nova"),
        "oslo_concurrency": {"lock_path": "/var/lib/neutron/tmp"},
        # Zed refuses the linuxbridge driver without this (it is "experimental" upstream).
        "experimental": {"linuxbridge": True},
        **RABBIT_UWSGI,
    }


ML2 = {
    "ml2": {"type_drivers": "flat,vxlan", "tenant_network_types": "vxlan", "mechanism_drivers": "linuxbridge",
            "extension_drivers": "port_security"},
    "ml2_type_flat": {"flat_networks": PUBLIC_PHYSNET},
    "ml2_type_vxlan": {"vni_ranges": "1:1000"},
}


def steps(ctx: Context) -> list[Step]:
    conf = config("26-neutron-config", "/etc/neutron/neutron.conf", neutron_conf(ctx), group=SPEC.group, mode="0640")
    ml2 = config("26-neutron-config", ML2_CONF, ML2, group=SPEC.group)
    # One process: at the end of a live migration Nova activates the port's new
    # binding twice at once (its lifecycle event and its post-migration step);
    # served in parallel, one activation fails with a 500 and the guest goes to
    # ERROR, served in turn the second gets the 409 Nova expects.
    uwsgi = uwsgi_workers("26-neutron-config", "/etc/neutron/neutron-api-uwsgi.ini", processes=1)
    migrate = ("neutron-db-manage --config-file /etc/neutron/neutron.conf "
               f"--config-file {ML2_CONF} upgrade head")
    url = f"http://{controller_name(ctx.inventory)}:{PORT}/"
    return [
        Packages("26-neutron-install", list(SPEC.packages), hold_services=True),
        conf, ml2, uwsgi,
        db_sync("26-neutron-init-db", "neutron-common", migrate, "neutron"),
        *[Service("26-neutron-start", unit, restart_on=[conf, ml2, *([uwsgi] if unit == "neutron-api" else [])])
          for unit in SPEC.units],
        Await("26-neutron-start", python_get(url), f"Neutron answering on {url}", timeout=180),
    ]


SPEC = ServiceSpec(
    "neutron", position=50, packages=("neutron-server", "python3-neutronclient"),
    units=("neutron-api", "neutron-rpc-server"), steps=steps, group="neutron", databases=("neutron",),
    keystone_user="neutron", catalog=(Endpoint("network", "neutron", "OpenStack Networking", PORT),),
    ports={PORT: "Neutron"}, log_dirs=("/var/log/neutron",),
    config_files=("/etc/neutron/*.conf", "/etc/neutron/plugins/ml2/*.conf", "/etc/neutron/plugins/ml2/*.ini"),
)
