#!/usr/bin/python3
"""29-flavors-create: the flavors the report boots with (`--flavor m1.small`)
and the field knows (m1.tiny ... m1.xlarge). Nova has made no default flavors
since Newton.

One file, two halves: the suite imports it for the data and phase 07's steps;
phase 07 copies it to the controller, where it runs as a program that
converges Nova's flavors through the compute API (keystoneauth1 only, as
keystone_catalog.py does):

    flavors.py check WANTED AUTH   exit 0 when every flavor is as wanted, else 1 (prints what differs)
    flavors.py apply WANTED AUTH   create what is missing, replace a flavor whose size differs

WANTED is the flavors as JSON; AUTH the admin's credentials (phase 07's 0600
keystone-catalog.json). Flavors are immutable in Nova: a changed size is a
delete and a create under the same id (running servers keep their own copy).

Sizes: vCPUs and RAM as the field has them. Disks are not: the field's 20-160
GB would never schedule here. Every compute reports the instances share as its
disk, and the share is one brick big (GlusterFS replica over the computes'
bricks; the embedded lab's `lab.brick_size` is 8G, which Nova counts as 7 GiB
per compute with disk_allocation_ratio 1.0). So the disks are 1-6 GB: the
largest still schedules on an idle compute, and the smallest holds the
inventory's biggest image (debian: 1 GiB virtual). Guest disks are thin qcow2
over the shared image cache: a guest uses what it writes, not its flavor's
disk. With a 2G brick (the schema's default) only m1.tiny schedules.
Fixed ids (1-5, the classic ones) so that Tempest's flavor_ref needs no lookup.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...steps import Step
    from .. import Context

# name -> (id, vCPUs, RAM MiB, root disk GB)
FLAVORS = {
    "m1.tiny": ("1", 1, 512, 1),
    "m1.small": ("2", 1, 2048, 2),
    "m1.medium": ("3", 2, 4096, 3),
    "m1.large": ("4", 4, 8192, 4),
    "m1.xlarge": ("5", 8, 16384, 6),
}
SCRIPT = "/usr/local/lib/deploy/flavors.py"
WANTED = "/etc/deploy/flavors.json"


def wanted(names: list[str] | tuple[str, ...]) -> list[dict]:
    """The flavors named (the inventory's openstack.flavors), as Nova's API takes them."""
    return [{"name": n, "id": FLAVORS[n][0], "vcpus": FLAVORS[n][1], "ram": FLAVORS[n][2], "disk": FLAVORS[n][3]}
            for n in names]


def flavor_table() -> str:
    """The README's flavor table (a self-test keeps the two equal)."""
    rows = ["| flavor | id | vCPUs | RAM | disk |", "| --- | --- | ---: | ---: | ---: |"]
    rows += [f"| `{n}` | {i} | {c} | {r} MiB | {d} GB |" for n, (i, c, r, d) in FLAVORS.items()]
    return "\n".join(rows)


def steps(ctx: Context) -> list[Step]:
    from ...steps import Command, File
    from ...services.keystone import CATALOG_FILE

    names = ctx.inventory.flavors
    if not names:
        return []
    return [
        File("29-flavors-create", SCRIPT, Path(__file__).read_text(), mode="0755"),
        File("29-flavors-create", WANTED, json.dumps(wanted(names), indent=1) + "\n", mode="0644",
             title=f"{WANTED} ({', '.join(names)})"),
        Command("29-flavors-create", f"{SCRIPT} apply {WANTED} {CATALOG_FILE}",
                unless=f"{SCRIPT} check {WANTED} {CATALOG_FILE}",
                title=f"flavors {', '.join(names)} in Nova"),
    ]


# ------------------------------------------------ on the controller (stdlib and keystoneauth1 only)
def same(have: dict, want: dict) -> bool:
    return (have["id"] == want["id"] and have["vcpus"] == want["vcpus"] and have["ram"] == want["ram"]
            and have["disk"] == want["disk"] and have.get("os-flavor-access:is_public", True)
            and not have.get("OS-FLV-EXT-DATA:ephemeral") and not have.get("swap"))


def converge(compute, want: list[dict], apply: bool) -> list[str]:
    """compute: a keystoneauth1 Adapter of the compute API (get/post/delete
    returning responses with .json()). Returns what differed."""
    have = {f["name"]: f for f in compute.get("/flavors/detail?is_public=None").json()["flavors"]}
    by_id = {f["id"]: f for f in have.values()}
    diffs = []
    for flavor in want:
        old = have.get(flavor["name"])
        if old is not None and same(old, flavor):
            continue
        taken = by_id.get(flavor["id"])
        if taken is not None and taken["name"] != flavor["name"]:
            raise SystemExit(f"flavor id {flavor['id']} is taken by flavor {taken['name']!r}; {flavor['name']} "
                             f"needs it (delete or rename that flavor)")
        diffs.append(f"flavor {flavor['name']} missing" if old is None else
                     f"flavor {flavor['name']}: id {old['id']} {old['vcpus']} vCPUs {old['ram']} MiB "
                     f"{old['disk']} GB -> id {flavor['id']} {flavor['vcpus']} vCPUs {flavor['ram']} MiB "
                     f"{flavor['disk']} GB")
        if not apply:
            continue
        if old is not None:
            compute.delete(f"/flavors/{old['id']}")
        compute.post("/flavors", json={"flavor": {**flavor, "os-flavor-access:is_public": True}})
    return diffs


def compute_api(auth_file: str):
    from keystoneauth1 import adapter, session
    from keystoneauth1.identity import v3

    with open(auth_file) as f:
        catalog = json.load(f)
    a = catalog["admin"]
    auth = v3.Password(auth_url=a["auth_url"], username=a["username"], password=a["password"],
                       project_name="admin", user_domain_id="default", project_domain_id="default")
    return adapter.Adapter(session.Session(auth=auth, timeout=60), service_type="compute", interface="internal",
                           region_name=catalog["region"], connect_retries=3)


def main(argv: list[str]) -> int:
    mode, wanted_file, auth_file = argv
    with open(wanted_file) as f:
        want = json.load(f)
    diffs = converge(compute_api(auth_file), want, apply=(mode == "apply"))
    for line in diffs:
        print(line)
    return 1 if diffs and mode == "check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
