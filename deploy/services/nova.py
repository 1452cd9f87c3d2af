"""20-nova-install ... 25-nova-start: Nova's control services (api, metadata
api, conductor, scheduler, noVNC proxy), its three databases and the cells."""
from __future__ import annotations

from ..steps import Await, Command, File, Line, Packages, Service, Step
from . import Context, Endpoint, ServiceSpec
from .shared import RABBIT_UWSGI
from .shared import (authtoken, config, controller_name, db_sync, db_url, python_get, service_credentials,
                     transport_url, uwsgi_workers)

API_PORT, METADATA_PORT, NOVNC_PORT = 8774, 8775, 6080
# The noVNC proxy's certificate (the suite's authority) for the gateway's public
# address, where browsers reach it: the console's keystrokes cross the public
# network, so the proxy speaks TLS only.
NOVNC_CERT, NOVNC_KEY = "/etc/nova/ssl/novnc.pem", "/etc/nova/ssl/novnc.key"


def nova_conf(ctx: Context) -> dict:
    """nova.conf as the controller needs it (computes add their own part in phase 08)."""
    inv = ctx.inventory
    ctl = controller_name(inv)
    return {
        "DEFAULT": {"my_ip": inv.controller.address, "transport_url": transport_url(ctx, "nova"),
                    "osapi_compute_workers": 2, "metadata_workers": 2,
                    "ssl_only": True, "cert": NOVNC_CERT, "key": NOVNC_KEY},
        "api": {"auth_strategy": "keystone"},
        "api_database": {"connection": db_url(ctx, "nova_api", "nova")},
        "database": {"connection": db_url(ctx, "nova", "nova")},
        "keystone_authtoken": authtoken(ctx, "nova"),
        "service_user": {"send_service_user_token": True, **service_credentials(ctx, "nova")},
        "placement": service_credentials(ctx, "placement"),
        "neutron": {**service_credentials(ctx, "neutron"), "service_metadata_proxy": True,
                    "metadata_proxy_shared_secret": ctx.secrets.get("metadata_proxy")},
        "glance": {"api_servers": f"http://{ctl}:9292"},
        "cinder": {"os_region_name": inv.region},
        "vnc": {"enabled": True, "server_listen": inv.controller.address,
                "server_proxyclient_address": inv.controller.address,
                "novncproxy_host": "0.0.0.0"},
        "conductor": {"workers": 1},
        "scheduler": {"workers": 1, "discover_hosts_in_cells_interval": 60},
        "oslo_concurrency": {"lock_path": "/var/lib/nova/tmp"},
        **RABBIT_UWSGI,
    }


# nova.conf's [DEFAULT] transport_url, printed on a pipe (never an argument)
CONF_URL = ("python3 -c 'import configparser; c = configparser.RawConfigParser(strict=False); "
            "c.read(\"/etc/nova/nova.conf\"); print(c[\"DEFAULT\"][\"transport_url\"])'")


def steps(ctx: Context) -> list[Step]:
    conf = config("23-nova-config", "/etc/nova/nova.conf", nova_conf(ctx), group=SPEC.group)
    api = uwsgi_workers("23-nova-config", "/etc/nova/nova-api-uwsgi.ini")
    metadata = uwsgi_workers("23-nova-config", "/etc/nova/nova-api-metadata-uwsgi.ini")
    # Debian's nova-consoleproxy serves SPICE unless told otherwise; its
    # nova-novncproxy unit then exits at once.
    proxy_type = Line("23-nova-config", "/etc/default/nova-consoleproxy", "NOVA_CONSOLE_PROXY_TYPE=novnc",
                      match=lambda l: l.startswith("NOVA_CONSOLE_PROXY_TYPE="), title="console proxy type noVNC")
    inv = ctx.inventory
    issued = ctx.pki.issue("novnc", [inv.gateway.public_address, inv.controller.address], "server")
    novnc_tls = [File("23-nova-config", NOVNC_CERT, issued.cert, title=f"{NOVNC_CERT}: noVNC's certificate"),
                 File("23-nova-config", NOVNC_KEY, issued.key, mode="0640", group=SPEC.group,
                      title=f"{NOVNC_KEY}: its key")]
    manage = "su -s /bin/sh -c '{}' nova"
    list_cells = manage.format("nova-manage cell_v2 list_cells") + " 2>/dev/null"
    url = f"http://{controller_name(ctx.inventory)}:{API_PORT}/"
    result: list[Step] = [
        Packages("20-nova-install", list(SPEC.packages), hold_services=True),
        conf, api, metadata, proxy_type, *novnc_tls,
        db_sync("24-nova-init-db", "nova-api", "nova-manage api_db sync", "nova", ("nova_api",)),
        Command("24-nova-init-db",
                f"cells=$({list_cells}); "
                f"{{ echo \"$cells\" | grep -q ' cell0 ' || {manage.format('nova-manage cell_v2 map_cell0')}; }} && "
                f"{{ echo \"$cells\" | grep -q ' cell1 ' || {manage.format('nova-manage cell_v2 create_cell --name=cell1')}; }}",
                unless=f"cells=$({list_cells}) && echo \"$cells\" | grep -q ' cell0 ' && echo \"$cells\" | grep -q ' cell1 '",
                title="cell0 mapped, cell1 created"),
        # cell1 keeps its message queue's URL in nova_api (conductors cast to the computes
        # through it), written once by create_cell: a changed RabbitMQ user or password
        # must reach it too. update_cell without --transport-url takes nova.conf's, so the
        # password is on no command line.
        cell_queue := Command("24-nova-init-db",
                manage.format('nova-manage cell_v2 update_cell --cell_uuid '
                              '"$(nova-manage cell_v2 list_cells | awk -F"|" "\\$2 ~ / cell1 /{print \\$3}" | tr -d " ")"'),
                # both on one pipe into awk: the URL (it holds the password) on no command line
                unless=f"{{ {CONF_URL} && {manage.format('nova-manage cell_v2 list_cells --verbose')} 2>/dev/null; }} | "
                       "awk 'NR == 1 { url = $0; next } / cell1 / && index($0, url) { found = 1 } "
                       "END { exit !found }'",
                title="cell1's message queue is nova.conf's transport_url"),
        db_sync("24-nova-init-db", "nova-common", "nova-manage db sync", "nova", ("nova", "nova_cell0")),
    ]
    own = {"nova-api": [api], "nova-api-metadata": [metadata], "nova-novncproxy": [proxy_type, *novnc_tls]}
    # a service holds its cells' connections from its start: restarted when cell1's queue changed
    result += [Service("25-nova-start", s, restart_on=[conf, cell_queue, *own.get(s, [])]) for s in SPEC.units]
    result.append(Await("25-nova-start", python_get(url), f"Nova API answering on {url}", timeout=180))
    result.append(Await("25-nova-start", f"ss -Hltn 'sport = :{NOVNC_PORT}' | grep -q .",
                        f"noVNC proxy listening on {NOVNC_PORT}", timeout=60))
    return result


SPEC = ServiceSpec(
    "nova", position=40, packages=("nova-api", "nova-conductor", "nova-scheduler", "nova-consoleproxy"),
    units=("nova-api", "nova-api-metadata", "nova-conductor", "nova-scheduler", "nova-novncproxy"), steps=steps,
    group="nova", databases=("nova_api", "nova", "nova_cell0"), keystone_user="nova",
    catalog=(Endpoint("compute", "nova", "OpenStack Compute", API_PORT, "/v2.1"),),
    ports={API_PORT: "Nova API", METADATA_PORT: "Nova metadata", NOVNC_PORT: "noVNC proxy"},
    log_dirs=("/var/log/nova",), config_files=("/etc/nova/*.conf",),
    # nova-status also checks the cells and the placement API Nova uses
    schema_checks={"nova (cells, placement, schema)": "nova-status upgrade check"},
)
