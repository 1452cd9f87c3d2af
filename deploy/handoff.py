"""What the operator gets at the end of a deploy: credentials files beside the
inventory and a summary saying where the cloud is and what to type first.

- `clouds.yaml` with clouds `NAME-admin` and `NAME-demo` (the official
  `openstack` CLI reads it from the current folder, or OS_CLIENT_CONFIG_FILE);
- `admin-openrc.sh` and `demo-openrc.sh`: the report's `config/configrc`,
  for `. ./admin-openrc.sh && openstack server list`.

Passwords come from the secrets file. Each file is written like the secrets
file: a new temporary file beside it (O_EXCL | O_NOFOLLOW), 0600 before any
byte, synced, renamed. No network is needed: everything comes from the
inventory and the secrets.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import yaml

from .inventory import Inventory
from .services.keystone import DEMO
from .phases.p09_openstack_gateway.dashboard import url as dashboard_url
from .pki import ca_file
from .phases.p09_openstack_gateway.networks import VM_NETWORK
from .secrets import Secrets, SecretsError, write_private as write_private_atomically

CLOUDS_FILE = "clouds.yaml"
DOMAIN = "Default"


class HandoffError(RuntimeError):
    """A handoff file could not be written; the message names it."""


@dataclass(frozen=True)
class User:
    name: str
    project: str
    secret: str    # its key in the secrets file
    roles: str     # as the summary says it


def users() -> list[tuple[str, User]]:
    """(cloud suffix, user): the admin, and phase 07's demo tenant."""
    return [("admin", User("admin", "admin", "admin_keystone", "admin")),
            ("demo", User(DEMO["user"], DEMO["project"], "demo_keystone", ", ".join(DEMO["roles"]) + " only"))]


def cloud_name(inv: Inventory) -> str:
    """The embedded lab's name; else the inventory's (my-lab.yaml: my-lab), or lab.name
    for a file called inventory.yaml."""
    stem = re.sub(r"[^a-z0-9-]+", "-", inv.path.stem.lower()).strip("-")
    return inv.lab.name if inv.lab.embedded or stem in ("", "inventory") else stem


def auth_url(inv: Inventory) -> str:
    """What the operator's machine reaches: the catalog's own address (the management network)."""
    from .openstack_api import keystone_url

    return keystone_url(inv)


def folder(inv: Inventory) -> Path:
    return inv.path.parent


def openrc_path(inv: Inventory, suffix: str) -> Path:
    return folder(inv) / f"{suffix}-openrc.sh"


def clouds(inv: Inventory, secrets: Secrets) -> dict:
    name = cloud_name(inv)
    out = {}
    for suffix, user in users():
        out[f"{name}-{suffix}"] = {
            "auth": {"auth_url": auth_url(inv), "username": user.name,
                     "password": secrets.get(user.secret).reveal(), "project_name": user.project,
                     "user_domain_name": DOMAIN, "project_domain_name": DOMAIN},
            "region_name": inv.region, "interface": "public", "identity_api_version": 3,
        }
    return {"clouds": out}


def openrc(inv: Inventory, secrets: Secrets, suffix: str, user: User) -> str:
    settings = {"OS_AUTH_URL": auth_url(inv), "OS_USERNAME": user.name,
                "OS_PASSWORD": secrets.get(user.secret).reveal(), "OS_PROJECT_NAME": user.project,
                "OS_USER_DOMAIN_NAME": DOMAIN, "OS_PROJECT_DOMAIN_NAME": DOMAIN, "OS_REGION_NAME": inv.region,
                "OS_INTERFACE": "public", "OS_IDENTITY_API_VERSION": "3"}
    lines = [f"# The report's config/configrc for {user.name} (project {user.project}) of {cloud_name(inv)}.",
             f"# Written by the deploy suite from {secrets.path.name}; keep private. Use: . {openrc_path(inv, suffix)}",
             "unset OS_CLOUD OS_TOKEN OS_PROJECT_ID OS_TENANT_NAME",
             *(f"export {k}={shlex.quote(v)}" for k, v in settings.items())]
    return "\n".join(lines) + "\n"


def write_private(path: Path, text: str) -> Path:
    """Atomically and 0600, as the secrets file is written (deploy.secrets.write_private)."""
    try:
        write_private_atomically(path, text, what=path.name)
    except SecretsError as e:
        raise HandoffError(str(e)) from None
    return path


def write(inv: Inventory, secrets: Secrets) -> list[Path]:
    """clouds.yaml and one openrc file per user, beside the inventory; returns their paths."""
    header = (f"# Clouds of {inv.path.name}, written by the deploy suite from {secrets.path.name}; keep private.\n"
              f"# openstack --os-cloud {cloud_name(inv)}-admin server list\n")
    written = [write_private(folder(inv) / CLOUDS_FILE,
                             header + yaml.safe_dump(clouds(inv, secrets), default_flow_style=False, sort_keys=False))]
    for suffix, user in users():
        written.append(write_private(openrc_path(inv, suffix), openrc(inv, secrets, suffix, user)))
    return written


def first_commands(inv: Inventory) -> list[str]:
    name = cloud_name(inv)
    image = inv.images[0].name if inv.images else "IMAGE"
    return [f"openstack --os-cloud {name}-admin server list",
            # the operator's own SSH key (the inventory's), for a first guest too
            f"openstack --os-cloud {name}-demo keypair create --public-key "
            f"{shlex.quote(str(inv.hosts[0].key) + '.pub')} mykey",
            f"openstack --os-cloud {name}-demo server create --flavor m1.small --image {image} "
            f"--network {VM_NETWORK} --key-name mykey --config-drive true first"]


def summary(inv: Inventory, secrets: Secrets, files: list[Path]) -> list[str]:
    """The lines the run ends with: no password in them, only where each one is."""
    name = cloud_name(inv)
    lines = [f"cloud {name} is ready",
             f"  dashboard  {dashboard_url(inv.gateway)}  (domain {DOMAIN}; its certificate is signed by "
             f"the suite's CA {ca_file(inv.secrets_path)}: trust that in your browser)"]
    for suffix, user in users():
        lines.append(f"  user       {user.name} (project {user.project}, role {user.roles}): cloud {name}-{suffix}, "
                     f"password {user.secret} in {secrets.path}")
    lines.append("  files      " + ", ".join(str(p) for p in files) + " (mode 0600)")
    lines.append(f"  first commands (in {folder(inv)}, or with OS_CLIENT_CONFIG_FILE={folder(inv) / CLOUDS_FILE}):")
    lines += [f"    {c}" for c in first_commands(inv)]
    return lines
