#!/usr/bin/python3
"""Runs ON the controller (copied there by phase 07): converge Keystone's
projects, users, role assignments, services and endpoints to a JSON file.

    keystone_catalog.py check FILE   exit 0 when everything is as wanted, else 1 (prints what differs)
    keystone_catalog.py apply FILE   create what is missing, fix what differs (a changed password too)

The report's keystone-init YAML, as data plus one small idempotent program.
"""
import json
import sys
import time
import urllib.request

from keystoneauth1 import exceptions as ka_exc
from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client


def admin_client(want):
    a = want["admin"]
    auth = v3.Password(auth_url=a["auth_url"], username=a["username"], password=a["password"],
                       project_name="admin", user_domain_id="default", project_domain_id="default")
    sess = session.Session(auth=auth, connect_retries=3)
    return client.Client(session=sess, interface="internal", region_name=want["region"])


def password_works(auth_url, user, password):
    # unscoped: this asks about the password alone, not about role assignments
    auth = v3.Password(auth_url=auth_url, username=user, password=password, user_domain_id="default")
    try:
        session.Session(auth=auth).get_token()
        return True
    except ka_exc.Unauthorized:
        return False


def converge(want, apply):
    ks = admin_client(want)
    diffs = []
    projects = {p.name: p for p in ks.projects.list(domain="default")}
    if "service" not in projects:
        diffs.append("project service missing")
        if apply:
            projects["service"] = ks.projects.create("service", domain="default", description="Service Project")
    roles = {r.name: r for r in ks.roles.list()}
    # Services vouch for each other with service tokens, which keystonemiddleware
    # accepts only from users holding the `service` role.
    if "service" not in roles:
        diffs.append("role service missing")
        if apply:
            roles["service"] = ks.roles.create("service")
    users = {u.name: u for u in ks.users.list(domain="default")}
    for name, password in want["users"].items():
        user = users.get(name)
        if user is None:
            diffs.append(f"user {name} missing")
            if apply:
                user = ks.users.create(name, domain="default", password=password, enabled=True)
        elif not password_works(want["admin"]["auth_url"], name, password):
            diffs.append(f"user {name}: password differs from the secrets file")
            if apply:
                ks.users.update(user, password=password)
        if user is not None and "service" in projects:
            for role in ("admin", "service"):
                if role not in roles:
                    continue
                assigned = ks.role_assignments.list(user=user, project=projects["service"], role=roles[role])
                if not assigned:
                    diffs.append(f"user {name}: no {role} role in project service")
                    if apply:
                        ks.roles.grant(roles[role], user=user, project=projects["service"])
    for tenant in want.get("tenants", []):
        diffs += converge_tenant(ks, want, tenant, projects, roles, users, apply)
    services = {s.type: s for s in ks.services.list()}
    endpoints = ks.endpoints.list()
    for svc in want["services"]:
        service = services.get(svc["type"])
        if service is None:
            diffs.append(f"service {svc['name']} ({svc['type']}) missing")
            if not apply:
                continue
            service = ks.services.create(svc["name"], type=svc["type"], description=svc["description"])
        for interface, url in svc["endpoints"].items():
            have = [e for e in endpoints if e.service_id == service.id and e.interface == interface
                    and e.region_id == want["region"]]
            if not have:
                diffs.append(f"endpoint {svc['name']} {interface} missing")
                if apply:
                    ks.endpoints.create(service, url, interface=interface, region=want["region"])
            elif have[0].url != url:
                diffs.append(f"endpoint {svc['name']} {interface}: {have[0].url} -> {url}")
                if apply:
                    ks.endpoints.update(have[0], url=url)
    return diffs


def converge_tenant(ks, want, tenant, projects, roles, users, apply):
    """An ordinary project with its own user, holding only the roles named
    (`member`: what a cloud's users get; bootstrap makes that role)."""
    diffs = []
    name, user_name = tenant["project"], tenant["user"]
    project = projects.get(name)
    if project is None:
        diffs.append(f"project {name} missing")
        if not apply:
            return diffs
        project = projects[name] = ks.projects.create(name, domain="default", description=tenant["description"])
    user = users.get(user_name)
    if user is None:
        diffs.append(f"user {user_name} missing")
        if not apply:
            return diffs
        user = ks.users.create(user_name, domain="default", password=tenant["password"], enabled=True,
                               default_project=project)
    elif not password_works(want["admin"]["auth_url"], user_name, tenant["password"]):
        diffs.append(f"user {user_name}: password differs from the secrets file")
        if apply:
            ks.users.update(user, password=tenant["password"])
    for role in tenant["roles"]:
        if role not in roles:
            diffs.append(f"role {role} missing (keystone-manage bootstrap makes it)")
            continue
        if not ks.role_assignments.list(user=user, project=project, role=roles[role]):
            diffs.append(f"user {user_name}: no {role} role in project {name}")
            if apply:
                ks.roles.grant(roles[role], user=user, project=project)
    return diffs


def keystone_answers(url, deadline):
    """Poll until Keystone answers again (a uwsgi worker that died is respawned)."""
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            time.sleep(1)  # the poll's own pause
    raise SystemExit(f"Keystone at {url} did not answer again")


def main():
    mode, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        want = json.load(f)
    # Converging is idempotent, so a request Keystone dropped mid-way (seen on a
    # fresh controller: "Remote end closed connection") is answered by converging again.
    deadline = time.monotonic() + 120
    for attempt in range(4):
        try:
            diffs = converge(want, apply=(mode == "apply"))
            break
        except ka_exc.ConnectFailure as e:
            if attempt == 3:
                raise
            print(f"Keystone dropped a request ({e}); converging again", file=sys.stderr)
            keystone_answers(want["admin"]["auth_url"], deadline)
    for line in diffs:
        print(line)
    return 1 if diffs and mode == "check" else 0


if __name__ == "__main__":
    sys.exit(main())
