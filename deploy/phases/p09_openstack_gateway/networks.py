"""03-nova-network-create and 04-nova-secgroup-add, for Neutron: the VM
network (the inventory's range, 10.0.0.0/24 by default; VXLAN, shared by every
project, DHCP on), the public network the gateway bridges, a router with NAT
between them, and ICMP and SSH in the default security group. Run from the
controller once the gateway's agents report alive."""
from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from ...inventory import Inventory
from ...services.neutron import PUBLIC_PHYSNET
from ...services.shared import keystone_url, sql
from ...steps import Await, Command, File, Step
from .. import Context

SCRIPT = "/usr/local/lib/deploy/neutron_networks.py"
WANTED = "/etc/deploy/neutron-networks.json"
VM_NETWORK, VM_SUBNET = "vm", "vm-subnet"
PUBLIC_NETWORK, PUBLIC_SUBNET = "public", "public-subnet"
ROUTER = "gateway-router"
AGENTS = ("DHCP agent", "L3 agent", "Metadata agent", "Linux bridge agent")
RULES = [{"protocol": "icmp"},
         {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22}]


def floating_range(inv: Inventory) -> tuple[str, str]:
    """The upper half of the public network, below any address a host or the
    operator already has there: Neutron hands these to routers and floating IPs."""
    net = inv.public.cidr
    used = {ipaddress.IPv4Address(a) for a in (inv.public.operator_address, inv.gateway.public_address) if a}
    end = net.broadcast_address - 1
    while end in used:
        end -= 1
    start = net.network_address + net.num_addresses // 2
    if any(start <= a <= end for a in used) or start >= end:
        raise ValueError(f"networks.public.cidr {net}: no free upper half for floating addresses "
                         f"(used: {sorted(map(str, used))})")
    return str(start), str(end)


def wanted(ctx: Context) -> dict:
    inv = ctx.inventory
    start, end = floating_range(inv)
    vm_gateway = str(inv.vm.cidr.network_address + 1)
    return {
        "region": inv.region,
        "admin": {"auth_url": keystone_url(inv), "username": "admin",
                  "password": ctx.secrets.get("admin_keystone").reveal()},
        "networks": [
            {"name": PUBLIC_NETWORK,
             "attributes": {"router:external": True, "shared": False, "provider:network_type": "flat",
                            "provider:physical_network": PUBLIC_PHYSNET},
             "subnet": {"name": PUBLIC_SUBNET, "cidr": str(inv.public.cidr), "enable_dhcp": False,
                        "gateway_ip": inv.public.operator_address,
                        "allocation_pools": [{"start": start, "end": end}]}},
            {"name": VM_NETWORK,
             # port security on, Neutron's default: security groups and ARP
             # protection enforced (on hosts whose ebtables-nft cannot delete
             # `among` rules, phases 08/09 repaired it: ebtables_repair.py)
             "attributes": {"shared": True, "provider:network_type": "vxlan", "port_security_enabled": True},
             "subnet": {"name": VM_SUBNET, "cidr": str(inv.vm.cidr), "enable_dhcp": True,
                        "gateway_ip": vm_gateway}},
        ],
        "router": {"name": ROUTER, "external_network": PUBLIC_NETWORK, "interfaces": [VM_SUBNET]},
        "security_group_rules": RULES,
    }


def agents_alive(inv: Inventory) -> str:
    """A command that succeeds when every agent the gateway runs reports a heartbeat."""
    names = ", ".join(f"'{a}'" for a in AGENTS)
    count = sql(f"SELECT COUNT(DISTINCT agent_type) FROM neutron.agents WHERE host='{inv.gateway.name}' "
                f"AND agent_type IN ({names}) AND heartbeat_timestamp > UTC_TIMESTAMP() - INTERVAL 50 SECOND")
    return f"test $({count}) -ge {len(AGENTS)}"


def wired(inv: Inventory) -> str:
    """A command that succeeds when the agents have wired the router's two ports
    and the VM network's DHCP port (Neutron marks them ACTIVE)."""
    count = sql("SELECT COUNT(*) FROM neutron.ports p LEFT JOIN neutron.routers r ON p.device_id=r.id "
                "LEFT JOIN neutron.networks n ON p.network_id=n.id WHERE p.status='ACTIVE' AND "
                f"((r.name='{ROUTER}' AND p.device_owner IN ('network:router_interface', 'network:router_gateway')) "
                f"OR (n.name='{VM_NETWORK}' AND p.device_owner='network:dhcp'))")
    return f"test $({count}) -ge 3"


def steps(ctx: Context) -> list[Step]:
    inv = ctx.inventory
    return [
        Await("03-nova-network-create", agents_alive(inv),
              f"the DHCP, L3, metadata and linuxbridge agents on {inv.gateway.name} alive", timeout=300),
        File("03-nova-network-create", SCRIPT, Path(__file__).with_name("neutron_networks.py").read_text(),
             mode="0755"),
        File("03-nova-network-create", WANTED, json.dumps(wanted(ctx), indent=1) + "\n", mode="0600",
             title=f"{WANTED} (networks, router, security group rules)"),
        Command("04-nova-secgroup-add", f"{SCRIPT} apply {WANTED}", unless=f"{SCRIPT} check {WANTED}",
                title=f"networks {VM_NETWORK} and {PUBLIC_NETWORK}, router {ROUTER}, ICMP and SSH allowed"),
        Await("04-nova-secgroup-add", wired(inv),
              f"router {ROUTER}'s ports and {VM_NETWORK}'s DHCP port wired by the agents on {inv.gateway.name}",
              timeout=300),
    ]
