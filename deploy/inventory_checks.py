"""Relations between the inventory's fields, checked once every field on its own
is valid (deploy/schema_fields.py): addresses inside their networks and apart
from each other, networks apart, roles, names, paths. Each problem is one line
naming the field at fault, its value and what is allowed."""
from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from .inventory import Host, Inventory
from .schema import SYSTEM_DIRS, InventoryError


def check_relations(inv: Inventory) -> None:
    _check_networks(inv)
    _check_hosts(inv)
    _check_roles(inv)
    _check_floating_half(inv)
    _check_glusterfs(inv)
    _check_lab(inv)
    names = [im.name for im in inv.images]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise InventoryError(f"images[{i}].name: {name!r} named twice (first by images[{names.index(name)}])")


def _check_networks(inv: Inventory) -> None:
    nets = {"management": inv.management.cidr, "public": inv.public.cidr, "vm": inv.vm.cidr}
    keys = list(nets)
    for j, later in enumerate(keys):
        for earlier in keys[:j]:
            if nets[later].overlaps(nets[earlier]):
                raise InventoryError(f"networks.{later}.cidr: {nets[later]} overlaps networks.{earlier}.cidr "
                                     f"{nets[earlier]} (allowed: a network apart from the others)")
    for key, net in (("management", inv.management), ("public", inv.public)):
        if net.operator_address is not None:
            _inside(f"networks.{key}.operator_address", net.operator_address, net.cidr, f"networks.{key}.cidr")


def _inside(where: str, address: str, net: IPv4Network, net_field: str) -> None:
    """An address usable by a host of `net`: inside it, not its network or broadcast address."""
    a = IPv4Address(address)
    if a not in net:
        raise InventoryError(f"{where}: {address} is outside {net_field} {net}")
    if a == net.network_address:
        raise InventoryError(f"{where}: {address} is the network address of {net_field} {net} "
                             "(allowed: an address between it and the broadcast address)")
    if a == net.broadcast_address:
        raise InventoryError(f"{where}: {address} is the broadcast address of {net_field} {net} "
                             "(allowed: an address between the network and the broadcast address)")


def _where(i: int, host: Host) -> str:
    return f"hosts[{i}] ({host.name})"


def _check_hosts(inv: Inventory) -> None:
    if not inv.hosts:
        raise InventoryError("hosts: at least one host is required")
    names: dict[str, int] = {}
    addresses: dict[str, str] = {}
    public: dict[str, str] = {}
    for i, host in enumerate(inv.hosts):
        where = _where(i, host)
        if host.name in names:
            raise InventoryError(f"{where}.name: duplicate host name, already used by hosts[{names[host.name]}]")
        names[host.name] = i
        if host.name == "gateway" and not host.has_role("gateway"):
            raise InventoryError(f"{where}.name: 'gateway' is the gateway's other name in /etc/hosts "
                                 "(allowed: any other name, or this one on the gateway)")
        if host.address in addresses:
            raise InventoryError(f"{where}.address: {host.address} is already the address of {addresses[host.address]}")
        addresses[host.address] = host.name
        _inside(f"{where}.address", host.address, inv.management.cidr, "networks.management.cidr")
        if host.address == inv.management.operator_address:
            raise InventoryError(f"{where}.address: {host.address} is the operator's address "
                                 "(networks.management.operator_address)")
        if not host.roles:
            raise InventoryError(f"{where}.roles: at least one role is required")
        ifaces = list(host.interfaces.values())
        for key, name in host.interfaces.items():
            if ifaces.count(name) > 1:
                raise InventoryError(f"{where}.interfaces: one interface named for two networks: "
                                     f"{name!r} ({', '.join(k for k, v in host.interfaces.items() if v == name)})")
        if host.has_role("gateway") and not host.public_interface:
            raise InventoryError(f"{where}.interfaces.public: required on the gateway")
        if host.has_role("gateway") and not host.public_address:
            raise InventoryError(f"{where}.public_address: required on the gateway")
        if host.public_address is None:
            continue
        if not host.public_interface:
            raise InventoryError(f"{where}.public_address: {host.public_address} needs interfaces.public "
                                 "(the interface that carries it)")
        _inside(f"{where}.public_address", host.public_address, inv.public.cidr, "networks.public.cidr")
        if host.public_address == inv.public.operator_address:
            raise InventoryError(f"{where}.public_address: {host.public_address} is the operator's address "
                                 "(networks.public.operator_address)")
        if host.public_address in public:
            raise InventoryError(f"{where}.public_address: {host.public_address} is already the public address "
                                 f"of {public[host.public_address]}")
        public[host.public_address] = host.name


def _check_roles(inv: Inventory) -> None:
    for role in ("controller", "gateway"):
        count = len(inv.with_role(role))
        if count != 1:
            raise InventoryError(f"hosts: exactly one host must have role {role!r}, found {count}")
    for i, host in enumerate(inv.hosts):
        if "provider" in host.interfaces and not host.has_role("gateway"):
            raise InventoryError(f"{_where(i, host)}.interfaces.provider: only the gateway has a provider interface")
    computes = inv.with_role("compute")
    if not computes:
        raise InventoryError("hosts: at least one host must have role 'compute'")
    replica = inv.glusterfs.replica
    n = len(computes)
    if replica < 1 or n % replica:
        # phase 03 grows a volume by whole replica sets or raises its replica count (deploy/gluster_growth.py)
        counts = [c for c in ((n // replica) * replica, (n // replica + 1) * replica) if c]
        fitting = [r for r in range(2, n + 1) if n % r == 0] or [1]
        raise InventoryError(
            f"glusterfs.replica: {replica} does not fit the {n} compute hosts (their number must be a multiple "
            f"of the replica count: {' or '.join(map(str, counts))} compute hosts for replica {replica}, or "
            f"replica {' or '.join(map(str, fitting))} for these {n})")


def _check_floating_half(inv: Inventory) -> None:
    """Neutron hands the public network's upper half to routers and floating
    addresses (phase 09's floating_range); only its top addresses may be taken."""
    net = inv.public.cidr
    used = {"networks.public.operator_address": inv.public.operator_address}
    used.update({f"{_where(i, h)}.public_address": h.public_address for i, h in enumerate(inv.hosts)})
    taken = {IPv4Address(a) for a in used.values() if a}
    end = net.broadcast_address - 1
    while end in taken:
        end -= 1
    start = net.network_address + net.num_addresses // 2
    for where, address in used.items():
        if address and start <= IPv4Address(address) <= end:
            raise InventoryError(f"{where}: {address} is in the upper half of networks.public.cidr {net}, "
                                 f"kept for floating addresses {start}-{end} (allowed: the lower half, "
                                 "or the top addresses)")
    if start >= end:
        raise InventoryError(f"networks.public.cidr: {net} leaves no floating addresses")


def _check_glusterfs(inv: Inventory) -> None:
    gf = inv.glusterfs
    if gf.volumes_volume == gf.volume:
        raise InventoryError(f"glusterfs.volumes_volume: must differ from glusterfs.volume "
                             f"({gf.volume!r}): Cinder's volumes get a GlusterFS volume of their own")
    brick, mount = gf.brick_path + "/", gf.mount_point + "/"
    if brick.startswith(mount) or mount.startswith(brick):
        raise InventoryError(f"glusterfs.mount_point: {gf.mount_point!r} and glusterfs.brick_path "
                             f"{gf.brick_path!r} are inside one another (allowed: two separate directories)")


def _check_lab(inv: Inventory) -> None:
    # `python -m lab destroy` removes what it made under these: never a system directory
    for key in ("state_dir", "cache_dir"):
        path = getattr(inv.lab, key)
        if str(path) in SYSTEM_DIRS or path == Path.home():
            raise InventoryError(f"lab.{key}: {str(path)!r} is a system or home directory "
                                 "(allowed: a directory of the lab's own, like .lab)")
    if not inv.lab.embedded:
        return
    for key, net in (("management", inv.management), ("public", inv.public)):
        if net.operator_address is None:
            raise InventoryError(f"networks.{key}.operator_address: required when lab.embedded is true "
                                 "(this machine's address on the lab's bridge)")
