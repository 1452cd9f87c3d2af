#!/usr/bin/python3
"""Runs ON the controller (copied there by phase 09): converge Neutron's
networks, the router and the default security group's rules to a JSON file.

    neutron_networks.py check FILE   exit 0 when everything is as wanted, else 1 (prints what differs)
    neutron_networks.py apply FILE   create what is missing

The report's 03-nova-network-create and 04-nova-secgroup-add, for Neutron.
A network or subnet that exists with other settings is reported, never
recreated: ports and guests may hang on it.
"""
import json
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3


# attributes a network can change in place (its ports keep what they have)
CHANGEABLE = {"shared", "port_security_enabled"}


def neutron(want):
    a = want["admin"]
    auth = v3.Password(auth_url=a["auth_url"], username=a["username"], password=a["password"],
                       project_name="admin", user_domain_id="default", project_domain_id="default")
    sess = session.Session(auth=auth, connect_retries=3)
    filt = {"service_type": "network", "interface": "internal", "region_name": want["region"]}

    def call(method, path, body=None):
        r = sess.request("/v2.0" + path, method, endpoint_filter=filt, json=body, raise_exc=False)
        if r.status_code >= 400:
            raise SystemExit(f"{method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.text else {}

    return call, sess.get_project_id()


def one(call, kind, name):
    found = call("GET", f"/{kind}s?name={name}")[f"{kind}s"]
    if len(found) > 1:
        raise SystemExit(f"{len(found)} {kind}s named {name}: remove the extra ones")
    return found[0] if found else None


def converge(want, apply):
    call, project = neutron(want)
    diffs = []
    subnets = {}
    for net in want["networks"]:
        have = one(call, "network", net["name"])
        if have is None:
            diffs.append(f"network {net['name']} missing")
            if not apply:
                continue
            have = call("POST", "/networks", {"network": net["attributes"] | {"name": net["name"]}})["network"]
        else:
            for key, value in net["attributes"].items():
                if have.get(key) == value:
                    continue
                if key in CHANGEABLE:
                    diffs.append(f"network {net['name']}: {key} is {have.get(key)!r}, wanted {value!r}")
                    if apply:
                        call("PUT", f"/networks/{have['id']}", {"network": {key: value}})
                else:
                    diffs.append(f"network {net['name']}: {key} is {have.get(key)!r}, wanted {value!r} (not changed)")
        sub = net["subnet"]
        have_sub = one(call, "subnet", sub["name"])
        if have_sub is None:
            diffs.append(f"subnet {sub['name']} missing")
            if apply:
                have_sub = call("POST", "/subnets", {"subnet": sub | {"network_id": have["id"], "ip_version": 4}})["subnet"]
        else:
            for key in ("cidr", "enable_dhcp", "gateway_ip"):
                if have_sub.get(key) != sub[key]:
                    diffs.append(f"subnet {sub['name']}: {key} is {have_sub.get(key)!r}, wanted {sub[key]!r} (not changed)")
        if have_sub:
            subnets[sub["name"]] = have_sub

    r = want["router"]
    router = one(call, "router", r["name"])
    external = one(call, "network", r["external_network"])
    if router is None:
        diffs.append(f"router {r['name']} missing")
        if apply and external:
            router = call("POST", "/routers", {"router": {
                "name": r["name"], "external_gateway_info": {"network_id": external["id"]}}})["router"]
    elif external and (router.get("external_gateway_info") or {}).get("network_id") != external["id"]:
        diffs.append(f"router {r['name']}: no gateway on {r['external_network']}")
        if apply:
            call("PUT", f"/routers/{router['id']}", {"router": {"external_gateway_info": {"network_id": external["id"]}}})
    if router:
        ports = call("GET", f"/ports?device_id={router['id']}")["ports"]
        attached = {ip["subnet_id"] for p in ports for ip in p["fixed_ips"]}
        for name in r["interfaces"]:
            sub = subnets.get(name)
            if sub and sub["id"] not in attached:
                diffs.append(f"router {r['name']}: no interface on {name}")
                if apply:
                    call("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})

    groups = call("GET", f"/security-groups?name=default&project_id={project}")["security_groups"]
    if not groups:
        raise SystemExit("the admin project has no default security group")
    group = groups[0]
    for rule in want["security_group_rules"]:
        present = any(g["direction"] == "ingress" and g["ethertype"] == "IPv4" and g["protocol"] == rule["protocol"]
                      and g["port_range_min"] == rule.get("port_range_min")
                      and g["port_range_max"] == rule.get("port_range_max")
                      and g["remote_ip_prefix"] in (None, "0.0.0.0/0")
                      for g in group["security_group_rules"])
        if not present:
            diffs.append(f"default security group: no ingress {rule['protocol']} {rule.get('port_range_min') or ''}")
            if apply:
                call("POST", "/security-group-rules", {"security_group_rule": rule | {
                    "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4",
                    "remote_ip_prefix": "0.0.0.0/0"}})
    return diffs


def main(argv):
    if len(argv) != 3 or argv[1] not in ("check", "apply"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2]) as f:
        want = json.load(f)
    diffs = converge(want, apply=argv[1] == "apply")
    for d in diffs:
        print(d)
    if argv[1] == "check":
        return 1 if diffs else 0
    unfixable = [d for d in diffs if d.endswith("(not changed)")]
    return 1 if unfixable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
