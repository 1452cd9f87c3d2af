"""01-network-gateway: NAT and forwarding on the gateway, /etc/hosts everywhere.

The report's scripts 01-iptables-nat, 02-ip-forward and 03-copy-hosts, after
00-apt-sources (the package proxy, before anything is installed). Unlike
the report, existing firewall rules are never flushed: the NAT rules live in
chains of their own (deploy/firewall.py).
"""
from __future__ import annotations

from ..firewall import Chain, RuleSet, firewall_steps
from ..inventory import Host, Inventory
from ..steps import Block, File, Line, Step, Sysctl
from . import Context, Phase
from ..config_values import one_line

SYSCTL_FILE = "/etc/sysctl.d/60-ip-forward.conf"
ARP_FILE = "/etc/sysctl.d/60-gateway-arp.conf"
# The gateway has two interfaces on the public segment (its own, and Neutron's
# provider NIC): answer ARP for an address only on the interface that has it,
# so that neighbours send to the public interface, where its rules are.
ARP_SETTINGS = {"net.ipv4.conf.all.arp_ignore": "1", "net.ipv4.conf.all.arp_announce": "2"}


def nat_rules(inv: Inventory) -> RuleSet:
    """NAT from the management network out through the gateway's public interface;
    nothing from the public side routed in but replies and published DNATs."""
    gw = inv.gateway
    mgmt, public, cidr = gw.management_interface, gw.public_interface, str(inv.management.cidr)
    return RuleSet("nat", [
        Chain("nat", "POSTROUTING", [["-s", cidr, "-o", public, "-j", "MASQUERADE"]]),
        # Into the management network, from any other interface (the public one, and
        # Neutron's provider bridge on the same segment, which a neighbour reaches by
        # its MAC): only replies, and what a later phase publishes on purpose by DNAT
        # (noVNC), whose own chain decides wherever it sits. Nothing routed from public.
        Chain("filter", "FORWARD", [
            ["-i", mgmt, "-o", public, "-j", "ACCEPT"],
            ["!", "-i", mgmt, "-o", mgmt, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
            ["!", "-i", mgmt, "-o", mgmt, "-m", "conntrack", "--ctstate", "DNAT", "-j", "RETURN"],
            ["!", "-i", mgmt, "-o", mgmt, "-j", "DROP"],
            ["-i", public, "-j", "DROP"],
        ]),
    ])


def hosts_lines(inv: Inventory) -> list[str]:
    """The report's config/hosts: every host by name; the gateway also as 'gateway'."""
    return [one_line(f"{h.address}\t{h.name}", "hosts[].name") + ("\tgateway" if h.has_role("gateway") else "")
            for h in inv.hosts]


def apt_steps(inv: Inventory) -> list[Step]:
    """Package proxy and mirror, before the first package anywhere is installed."""
    result: list[Step] = []
    if inv.package_proxy:
        proxy = one_line(inv.package_proxy, "packages.proxy")
        if '"' in proxy:
            raise ValueError(f"packages.proxy: {proxy!r} carries a quote, which ends apt's value")
        result.append(File("00-apt-sources", "/etc/apt/apt.conf.d/01deploy-proxy",
                           f'Acquire::http::Proxy "{proxy}";\n'))
    if inv.package_mirror != "auto":  # auto: keep the host's own sources
        result.append(File("00-apt-sources", "/etc/apt/sources.list.d/debian.sources",
                           f"Types: deb\nURIs: {one_line(inv.package_mirror, 'packages.mirror')}\nSuites: bookworm bookworm-updates\n"
                           "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"))
    return result


def steps(ctx: Context, host: Host) -> list[Step]:
    inv = ctx.inventory
    result: list[Step] = apt_steps(inv)
    if host.has_role("gateway"):
        result += firewall_steps("01-iptables-nat", nat_rules(inv))
        result += [
            File("02-ip-forward", SYSCTL_FILE, "net.ipv4.ip_forward = 1\n"),
            Sysctl("02-ip-forward", "net.ipv4.ip_forward", "1"),
            File("02-ip-forward", ARP_FILE, "".join(f"{k} = {v}\n" for k, v in ARP_SETTINGS.items())),
            *(Sysctl("02-ip-forward", k, v) for k, v in ARP_SETTINGS.items()),
        ]
    result += [
        Line("03-copy-hosts", "/etc/hosts", "127.0.0.1\tlocalhost",
             match=lambda l: l.split()[:1] == ["127.0.0.1"] and "localhost" in l.split()),
        Block("03-copy-hosts", "/etc/hosts", "openstack hosts (deploy suite)", hosts_lines(inv)),
    ]
    return result


PHASE = Phase(1, "network-gateway", ("all", "gateway"), steps)
