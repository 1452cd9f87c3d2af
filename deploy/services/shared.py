"""What the OpenStack services share, on the controller and on the hosts
that talk to it (phases 07-09): addresses, URLs, credentials, config files,
schema syncs, SQL as the local root, an HTTP probe."""
from __future__ import annotations

import shlex

from ..config_values import ini_settings
from ..inventory import Inventory
from ..steps import Await, Command, Ini, Packages, Service, Step
from . import Context

API_WORKERS = 2          # the packaged uwsgi files ask for 8-16 processes; the lab has 2 cores
# One thread per process: the APIs are eventlet-patched, and a green thread (the
# RPC reply waiter) belongs to the native thread that spawned it; a request served
# by another uwsgi thread waits for a reply nobody reads (MessagingTimeout).
API_THREADS = 1


def controller_name(inv: Inventory) -> str:
    return inv.controller.name


def mysql_host_pattern(inv: Inventory) -> str:
    """The management network as MariaDB writes a host: 192.168.0.0/255.255.255.0."""
    net = inv.management.cidr
    return f"{net.network_address}/{net.netmask}"


def db_url(ctx: Context, db: str, user: str) -> str:
    password = ctx.secrets.get(f"{user}_db").reveal()
    return f"mysql+pymysql://{user}:{password}@{controller_name(ctx.inventory)}/{db}"


# One RabbitMQ user per service that speaks AMQP, each with its own password
# (secret rabbit_USER): a leaked nova.conf does not let its reader act as Neutron.
RABBIT_USERS = ("nova", "neutron", "cinder")


def transport_url(ctx: Context, user: str) -> str:
    if user not in RABBIT_USERS:
        raise ValueError(f"RabbitMQ user {user!r} is not one of {RABBIT_USERS}")
    password = ctx.secrets.get(f"rabbit_{user}").reveal()
    return f"rabbit://{user}:{password}@{controller_name(ctx.inventory)}:5672/"


# An idle uwsgi worker runs no green threads, so its AMQP heartbeats stop and
# RabbitMQ drops the connection after 60 s. The controller's services therefore
# ask for no heartbeats on their connections.
RABBIT_UWSGI = {"oslo_messaging_rabbit": {"heartbeat_timeout_threshold": 0}}


def keystone_url(inv: Inventory) -> str:
    return f"http://{controller_name(inv)}:5000/v3"


def service_credentials(ctx: Context, user: str) -> dict[str, object]:
    """The [keystone_authtoken]-style block for a service user in project `service`."""
    inv = ctx.inventory
    return {
        "auth_url": keystone_url(inv),
        "auth_type": "password",
        "project_domain_name": "Default",
        "user_domain_name": "Default",
        "project_name": "service",
        "username": user,
        "password": ctx.secrets.get(f"{user}_keystone"),
        "region_name": inv.region,
    }


def authtoken(ctx: Context, user: str, *, cache: bool = True) -> dict[str, object]:
    """keystonemiddleware's section. Its token cache in memcached is encrypted and
    authenticated with a generated key (memcached itself has no authentication);
    `cache=False` where no API runs (the computes), so nothing there needs memcached."""
    section: dict[str, object] = {"www_authenticate_uri": f"http://{controller_name(ctx.inventory)}:5000",
                                  "service_token_roles_required": True}
    if cache:
        section |= {"memcached_servers": f"{controller_name(ctx.inventory)}:11211",
                    "memcache_security_strategy": "ENCRYPT",
                    "memcache_secret_key": ctx.secrets.get("memcache_authtoken")}
    return section | service_credentials(ctx, user)


# Debian's uwsgi files strip Content-Length (`rem-header`) and serve on a plain
# http-socket, which closes the connection after every answer without saying so.
# A client that keeps an HTTP/1.1 connection alive after a bodiless answer (a
# DELETE's 204, a HEAD) sends its next request into the closed socket and gets
# "Connection reset by peer" (the CLI's `server delete --wait` did, in CI).
# Saying `Connection: close`, as devstack's uwsgi files do, makes clients reconnect.
UWSGI_HEADERS = {"add-header": "Connection: close"}


def uwsgi_workers(script: str, path: str, processes: int = API_WORKERS) -> Step:
    return Ini(script, path, {"uwsgi": {"processes": processes, "threads": API_THREADS, **UWSGI_HEADERS}},
               title=f"{path}: {processes} processes, Connection: close")


def db_sync(script: str, package: str, command: str, user: str, databases: tuple[str, ...] = ()) -> Command:
    """A schema sync, run again only when the package version changed since it last
    succeeded: syncs take seconds to minutes, and a no-op run must be cheap.

    The first sync of a fresh deploy, if it is interrupted (a killed run), starts
    again on empty databases: a migration killed halfway leaves tables behind that
    the next sync fails on ("Table ... already exists"). It is known to be a first
    sync when no sync ever succeeded and its databases (default: the one named
    like the user) held no table when it began; a later sync is just run again."""
    marker = f"/var/lib/deploy/db-sync-{package}"
    first = f"{marker}.first-sync"   # present while a first sync is under way, and after one that died
    version = f"dpkg-query -W -f='${{Version}}' {package}"
    dbs = databases or (user,)
    names = ",".join(f"'{d}'" for d in dbs)
    tables = ("mysql --protocol=socket -uroot -NBe "
              f"\"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema IN ({names})\"")
    empty_again = ("mysql --protocol=socket -uroot -e \""
                   + " ".join(f"DROP DATABASE IF EXISTS {d}; CREATE DATABASE {d};" for d in dbs) + "\"")
    return Command(script,
                   f"mkdir -p /var/lib/deploy && "
                   f"if [ ! -e {marker} ] && [ -e {first} ]; then {empty_again}; "
                   f"elif [ ! -e {marker} ] && [ \"$({tables})\" = 0 ]; then touch {first}; fi && "
                   # the flag goes before the marker comes: never both, so no later sync empties anything
                   f"su -s /bin/sh -c '{command}' {user} && rm -f {first} && {version} > {marker}",
                   unless=f"test \"$(cat {marker} 2>/dev/null)\" = \"$({version})\"",
                   title=f"{command} (for {package} as installed)")


def config(script: str, path: str, settings: dict, group: str, mode: str = "0640") -> Step:
    """A service's config file: readable by its group only, as Debian leaves it."""
    return Ini(script, path, ini_settings(settings, path), mode=mode, owner="root", group=group)


def api_service(spec, *, install: str, configs: list[Step], sync: Command, start: str, url: str,
                what: str, timeout: int = 120) -> list[Step]:
    """The steps of a plain API service: its packages (services held), its config
    files, its schema sync, its units (restarted when a config changes) and a wait
    for its API. `spec` is its ServiceSpec."""
    return [
        Packages(install, list(spec.packages), hold_services=True),
        *configs,
        sync,
        *[Service(start, unit, restart_on=configs) for unit in spec.units],
        Await(start, python_get(url), f"{what} answering on {url}", timeout=timeout),
    ]


def python_get(url: str) -> str:
    """A command that succeeds when an HTTP server answers at `url` without a server
    error: an API's root may answer 300 (versions) or 401 (log in first)."""
    program = ("import urllib.request as u, urllib.error as e\n"
               f"try:\n    u.urlopen('{url}', timeout=3)\n"
               "except e.HTTPError as x:\n    raise SystemExit(x.code >= 500)\n")
    return "python3 -c " + shlex.quote(program)


def sql(text: str) -> str:
    """A query as MariaDB's local root (socket auth), one value a line, no headers."""
    return "mysql --protocol=socket -uroot -NBe " + "\"" + text.replace('"', '\\"') + "\""
