"""04-keystone-install ... 11-keystone-create-users: Keystone v3 with fernet
tokens under uwsgi, bootstrapped, and the catalog every service needs."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from ..remote import WithStdin
from ..steps import Await, Command, File, Packages, Service, Step
from . import Context, Endpoint, ServiceSpec, catalog_entries, endpoint_of, service_users
from .shared import config, controller_name, db_sync, db_url, keystone_url, python_get, uwsgi_workers

CATALOG_SCRIPT = "/usr/local/lib/deploy/keystone_catalog.py"
CATALOG_FILE = "/etc/deploy/keystone-catalog.json"
PORT = 5000
# The ordinary tenant: a project of its own, a user with the member role only;
# its password is the secrets file's `demo_keystone`.
DEMO = {"project": "demo", "user": "demo", "roles": ["member"], "description": "An ordinary tenant"}


def endpoint(ctx: Context, service_type: str) -> str:
    """Catalog URLs carry the controller's address: API clients on the operator's
    machine follow them, and it need not resolve the hosts' names."""
    entry = endpoint_of(service_type)
    return f"http://{ctx.inventory.controller.address}:{entry.port}{entry.path}"


def catalog(ctx: Context) -> dict:
    """The report's keystone-init YAML as data: every service's user and catalog entries (their SPECs)."""
    return {
        "region": ctx.inventory.region,
        "admin": {"auth_url": keystone_url(ctx.inventory), "username": "admin",
                  "password": ctx.secrets.get("admin_keystone").reveal()},
        "users": {u: ctx.secrets.get(f"{u}_keystone").reveal() for u in service_users()},
        "tenants": [DEMO | {"password": ctx.secrets.get("demo_keystone").reveal()}],
        "services": [{"name": e.name, "type": e.type, "description": e.description,
                      "endpoints": {i: endpoint(ctx, e.type) for i in ("public", "internal", "admin")}}
                     for e in catalog_entries()],
    }


def password_works(url: str, user: str, password: str) -> WithStdin:
    """A command that succeeds when Keystone issues `user` a token for `password`
    (a plain POST: the openstack CLI would take seconds to start). The request
    body, password included, comes on standard input."""
    body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}}}})
    program = (f"import sys, urllib.request as u; u.urlopen(u.Request('{url}/auth/tokens', "
               "data=sys.stdin.buffer.read(), headers={'Content-Type': 'application/json'}), timeout=10)")
    return WithStdin("python3 -c " + shlex.quote(program), body)


def steps(ctx: Context) -> list[Step]:
    inv = ctx.inventory
    conf = config("07-keystone-config", "/etc/keystone/keystone.conf", {
        "database": {"connection": db_url(ctx, "keystone", "keystone")},
        "token": {"provider": "fernet"},
        "cache": {"enabled": True, "backend": "dogpile.cache.memcached",
                  "memcache_servers": f"{controller_name(inv)}:11211"},
    }, group=SPEC.group)
    uwsgi = uwsgi_workers("07-keystone-config", "/etc/keystone/keystone-uwsgi.ini")
    admin_pw = ctx.secrets.get("admin_keystone").reveal()
    url = keystone_url(inv)
    public = endpoint(ctx, "identity")
    token_works = password_works(url, "admin", admin_pw)
    script = File("11-keystone-create-users", CATALOG_SCRIPT,
                  (Path(__file__).parent / "on_host" / "keystone_catalog.py").read_text(), mode="0755")
    wanted = File("11-keystone-create-users", CATALOG_FILE, json.dumps(catalog(ctx), indent=1) + "\n",
                  mode="0600", title=f"{CATALOG_FILE} (users, the demo tenant, services, endpoints)")
    return [
        Packages("04-keystone-install", list(SPEC.packages), hold_services=True),
        conf,
        uwsgi,
        db_sync("08-keystone-init-db", "keystone", "keystone-manage db_sync", "keystone"),
        Command("08-keystone-init-db",
                "keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone && "
                "keystone-manage credential_setup --keystone-user keystone --keystone-group keystone",
                unless="test -s /etc/keystone/fernet-keys/0 && test -s /etc/keystone/credential-keys/0",
                title="fernet and credential keys"),
        *[Service("10-keystone-start", unit, restart_on=[conf, uwsgi]) for unit in SPEC.units],
        Await("10-keystone-start", python_get(url), f"Keystone answering on {url}", timeout=120),
        # keystone-manage takes the password from OS_BOOTSTRAP_PASSWORD: in the
        # environment of that one process, read from standard input
        Command("11-keystone-create-users",
                WithStdin('IFS= read -r pw && OS_BOOTSTRAP_PASSWORD="$pw" keystone-manage bootstrap '
                          f"--bootstrap-admin-url {shlex.quote(public)} --bootstrap-internal-url {shlex.quote(public)} "
                          f"--bootstrap-public-url {shlex.quote(public)} --bootstrap-region-id {shlex.quote(inv.region)}",
                          admin_pw + "\n"),
                unless=token_works, title="admin bootstrapped with the secrets file's password"),
        script,
        wanted,
        Command("11-keystone-create-users", f"{CATALOG_SCRIPT} apply {CATALOG_FILE}",
                unless=f"{CATALOG_SCRIPT} check {CATALOG_FILE}",
                title="service users, the demo project and user, services and endpoints"),
    ]


SPEC = ServiceSpec(
    # python3-keystoneclient: the catalog script runs before any other service
    # package would bring it in
    "keystone", position=10, packages=("keystone", "python3-openstackclient", "python3-keystoneclient"),
    units=("keystone",), steps=steps, group="keystone", databases=("keystone",),
    catalog=(Endpoint("identity", "keystone", "OpenStack Identity", PORT, "/v3"),),
    ports={PORT: "Keystone"}, log_dirs=("/var/log/keystone",), config_files=("/etc/keystone/*.conf",),
    schema_checks={"keystone": "su -s /bin/sh -c 'keystone-manage db_sync --check' keystone"},
    own_lane=False,   # every other service's user, service and endpoints are made by its steps
)
