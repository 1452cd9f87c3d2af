"""04-keystone-install ... 11-keystone-create-users: Keystone v3 with fernet
tokens under uwsgi, bootstrapped, and the catalog every service needs."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

from ...remote import WithStdin
from ...steps import Await, Command, File, Packages, Service, Step
from .. import Context
from .common import config, controller_name, db_sync, db_url, keystone_url, uwsgi_workers

CATALOG_SCRIPT = "/usr/local/lib/deploy/keystone_catalog.py"
CATALOG_FILE = "/etc/deploy/keystone-catalog.json"

# type -> (name, description, port, path); the report's keystone-init YAML as data
SERVICES = {
    "identity": ("keystone", "OpenStack Identity", 5000, "/v3"),
    "image": ("glance", "OpenStack Image", 9292, ""),
    "placement": ("placement", "Placement API", 8778, ""),
    "compute": ("nova", "OpenStack Compute", 8774, "/v2.1"),
    "network": ("neutron", "OpenStack Networking", 9696, ""),
    # Nova's [cinder] catalog_info looks for volumev3; clients also ask for block-storage
    "volumev3": ("cinderv3", "OpenStack Block Storage", 8776, "/v3/%(project_id)s"),
    "block-storage": ("cinder", "OpenStack Block Storage", 8776, "/v3/%(project_id)s"),
}
SERVICE_USERS = ["glance", "placement", "nova", "neutron", "cinder"]
# The ordinary tenant: a project of its own, a user with the member role only;
# its password is the secrets file's `demo_keystone`.
DEMO = {"project": "demo", "user": "demo", "roles": ["member"], "description": "An ordinary tenant"}


def endpoint(ctx: Context, service_type: str) -> str:
    """Catalog URLs carry the controller's address: API clients on the operator's
    machine follow them, and it need not resolve the hosts' names."""
    _, _, port, path = SERVICES[service_type]
    return f"http://{ctx.inventory.controller.address}:{port}{path}"


def catalog(ctx: Context) -> dict:
    return {
        "region": ctx.inventory.region,
        "admin": {"auth_url": keystone_url(ctx.inventory), "username": "admin",
                  "password": ctx.secrets.get("admin_keystone").reveal()},
        "users": {u: ctx.secrets.get(f"{u}_keystone").reveal() for u in SERVICE_USERS},
        "tenants": [DEMO | {"password": ctx.secrets.get("demo_keystone").reveal()}],
        "services": [{"name": name, "type": t, "description": desc,
                      "endpoints": {i: endpoint(ctx, t) for i in ("public", "internal", "admin")}}
                     for t, (name, desc, _, _) in SERVICES.items()],
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


def python_get(url: str) -> str:
    """A command that succeeds when an HTTP server answers at `url` without a server
    error: an API's root may answer 300 (versions) or 401 (log in first)."""
    program = ("import urllib.request as u, urllib.error as e\n"
               f"try:\n    u.urlopen('{url}', timeout=3)\n"
               "except e.HTTPError as x:\n    raise SystemExit(x.code >= 500)\n")
    return "python3 -c " + shlex.quote(program)


def steps(ctx: Context) -> list[Step]:
    inv = ctx.inventory
    conf = config("07-keystone-config", "/etc/keystone/keystone.conf", {
        "database": {"connection": db_url(ctx, "keystone", "keystone")},
        "token": {"provider": "fernet"},
        "cache": {"enabled": True, "backend": "dogpile.cache.memcached",
                  "memcache_servers": f"{controller_name(inv)}:11211"},
    }, group="keystone")
    uwsgi = uwsgi_workers("07-keystone-config", "/etc/keystone/keystone-uwsgi.ini")
    admin_pw = ctx.secrets.get("admin_keystone").reveal()
    url = keystone_url(inv)
    public = endpoint(ctx, "identity")
    token_works = password_works(url, "admin", admin_pw)
    script = File("11-keystone-create-users", CATALOG_SCRIPT,
                  (Path(__file__).with_name("keystone_catalog.py")).read_text(), mode="0755")
    wanted = File("11-keystone-create-users", CATALOG_FILE, json.dumps(catalog(ctx), indent=1) + "\n",
                  mode="0600", title=f"{CATALOG_FILE} (users, the demo tenant, services, endpoints)")
    return [
        # python3-keystoneclient: the catalog script runs before any other service
        # package would bring it in
        Packages("04-keystone-install", ["keystone", "python3-openstackclient", "python3-keystoneclient"],
                 hold_services=True),
        conf,
        uwsgi,
        db_sync("08-keystone-init-db", "keystone", "keystone-manage db_sync", "keystone"),
        Command("08-keystone-init-db",
                "keystone-manage fernet_setup --keystone-user keystone --keystone-group keystone && "
                "keystone-manage credential_setup --keystone-user keystone --keystone-group keystone",
                unless="test -s /etc/keystone/fernet-keys/0 && test -s /etc/keystone/credential-keys/0",
                title="fernet and credential keys"),
        Service("10-keystone-start", "keystone", restart_on=[conf, uwsgi]),
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

