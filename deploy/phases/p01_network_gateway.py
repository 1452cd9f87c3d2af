"""01-network-gateway: NAT and forwarding on the gateway, /etc/hosts everywhere.

The report's scripts 01-iptables-nat, 02-ip-forward and 03-copy-hosts. Unlike
the report, existing firewall rules are never flushed: the NAT rules are added
next to them, by a boot-time unit that checks each rule before adding it.
"""
from __future__ import annotations

from ..inventory import Host, Inventory
from ..steps import Block, Command, File, Line, Packages, Service, Step, Sysctl
from . import Context, Phase

SYSCTL_FILE = "/etc/sysctl.d/60-ip-forward.conf"
NAT_SCRIPT = "/usr/local/sbin/deploy-nat"
NAT_UNIT = "deploy-nat.service"


def nat_rules(inv: Inventory) -> list[list[str]]:
    """iptables rules (table, chain, match...) for NAT from management out through public."""
    gw = inv.gateway
    mgmt, public, cidr = gw.management_interface, gw.public_interface, str(inv.management.cidr)
    return [
        ["-t", "nat", "POSTROUTING", "-s", cidr, "-o", public, "-j", "MASQUERADE"],
        ["-t", "filter", "FORWARD", "-i", mgmt, "-o", public, "-j", "ACCEPT"],
        ["-t", "filter", "FORWARD", "-i", public, "-o", mgmt,
         "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
    ]


def _rule_check(rule: list[str]) -> str:
    table, chain, *match = rule[1], rule[2], *rule[3:]
    return f"iptables -w -t {table} -C {chain} {' '.join(match)}"


def nat_script(inv: Inventory) -> str:
    lines = ["#!/bin/sh", "# Written by the deploy suite (01-iptables-nat). Adds each rule once;",
             "# leaves every other rule alone.", "set -e"]
    for rule in nat_rules(inv):
        table, chain, match = rule[1], rule[2], " ".join(rule[3:])
        lines.append(f"{_rule_check(rule)} 2>/dev/null || iptables -w -t {table} -A {chain} {match}")
    return "\n".join(lines) + "\n"


NAT_UNIT_TEXT = f"""[Unit]
Description=NAT from the management network through the public interface (deploy suite)
After=network-pre.target
Before=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={NAT_SCRIPT}

[Install]
WantedBy=multi-user.target
"""


def hosts_lines(inv: Inventory) -> list[str]:
    """The report's config/hosts: every host by name; the gateway also as 'gateway'."""
    return [f"{h.address}\t{h.name}" + ("\tgateway" if h.has_role("gateway") else "") for h in inv.hosts]


def steps(ctx: Context, host: Host) -> list[Step]:
    inv = ctx.inventory
    result: list[Step] = []
    if host.has_role("gateway"):
        script = File("01-iptables-nat", NAT_SCRIPT, nat_script(inv), mode="0755")
        unit = File("01-iptables-nat", f"/etc/systemd/system/{NAT_UNIT}", NAT_UNIT_TEXT)
        result += [
            Packages("01-iptables-nat", ["iptables"]),
            script,
            unit,
            # Enabled for boot; applying the rules now is the next step's job, so a
            # rule lost at run time is noticed even while the unit reads active.
            Service("01-iptables-nat", NAT_UNIT, running=None, title=f"{NAT_UNIT} enabled at boot"),
            Command("01-iptables-nat", NAT_SCRIPT,
                    unless=" && ".join(_rule_check(r) for r in nat_rules(inv)),
                    title="NAT and forwarding rules present"),
            File("02-ip-forward", SYSCTL_FILE, "net.ipv4.ip_forward = 1\n"),
            Sysctl("02-ip-forward", "net.ipv4.ip_forward", "1"),
        ]
    result += [
        Line("03-copy-hosts", "/etc/hosts", "127.0.0.1\tlocalhost",
             match=lambda l: l.split()[:1] == ["127.0.0.1"] and "localhost" in l.split()),
        Block("03-copy-hosts", "/etc/hosts", "openstack hosts (deploy suite)", hosts_lines(inv)),
    ]
    return result


PHASE = Phase(1, "network-gateway", ("all", "gateway"), steps)
