"""Phase 09's data and its Neutron converge script, against a fake Neutron."""
import copy
import ipaddress
from pathlib import Path

import pytest

from deploy.inventory import load_inventory
from deploy.phases import Context
from deploy.secrets import Secret
from deploy.phases.p09_openstack_gateway import neutron_networks, networks

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def inv():
    return load_inventory(ROOT / "inventory.yaml", check_keys=False)


def test_floating_range_is_the_upper_half_below_the_operator(inv):
    start, end = networks.floating_range(inv)
    assert (start, end) == ("198.51.100.128", "198.51.100.253")
    assert inv.gateway.public_address not in {start, end}


class FakeSecrets:
    def get(self, name: str) -> Secret:
        return Secret(f"pw-{name}")


class FakeNeutron:
    """Enough of Neutron's API for the converge script: lists by name, creates, router calls."""

    def __init__(self):
        self.items = {"network": [], "subnet": [], "router": [], "port": []}
        self.groups = [{"id": "sg", "name": "default", "security_group_rules": [
            {"direction": "egress", "ethertype": "IPv4", "protocol": None, "port_range_min": None,
             "port_range_max": None, "remote_ip_prefix": None}]}]
        self.calls = []

    def __call__(self, method, path, body=None):
        self.calls.append((method, path.split("?")[0]))
        kind = path.strip("/").split("?")[0].split("/")[0].rstrip("s").replace("-", "_")
        if method == "GET" and kind == "security_group":
            return {"security_groups": self.groups}
        if method == "GET":
            query = dict(p.split("=") for p in path.split("?")[1].split("&"))
            found = [i for i in self.items[kind] if all(i.get(k) == v for k, v in query.items())]
            return {f"{kind}s": copy.deepcopy(found)}
        if method == "POST" and kind == "security_group_rule":
            rule = body["security_group_rule"]
            self.groups[0]["security_group_rules"].append({**{"port_range_min": None, "port_range_max": None}, **rule})
            return {}
        if method == "POST":
            item = dict(body[kind], id=f"{kind}-{len(self.items[kind])}")
            self.items[kind].append(item)
            return {kind: item}
        if method == "PUT" and path.endswith("add_router_interface"):
            router = path.split("/")[2]
            self.items["port"].append({"device_id": router, "fixed_ips": [{"subnet_id": body["subnet_id"]}]})
            return {}
        if method == "PUT":
            item = next(i for i in self.items[kind] if i["id"] == path.split("/")[2])
            item.update(body[kind])
            return {kind: item}
        raise AssertionError(f"unexpected call {method} {path}")


def converge(fake, want, apply):
    original = neutron_networks.neutron
    neutron_networks.neutron = lambda _want: (fake, "admin-project")
    try:
        return neutron_networks.converge(want, apply)
    finally:
        neutron_networks.neutron = original


def test_converge_creates_everything_once_then_finds_nothing_to_do(inv):
    want = networks.wanted(Context(inv, FakeSecrets()))
    fake = FakeNeutron()
    first = converge(fake, want, apply=True)
    assert "network vm missing" in first and "router gateway-router missing" in first
    assert [n["name"] for n in fake.items["network"]] == ["public", "vm"]
    vm_subnet = next(s for s in fake.items["subnet"] if s["name"] == "vm-subnet")
    assert vm_subnet["cidr"] == "10.0.0.0/24" and vm_subnet["enable_dhcp"]
    assert ipaddress.ip_address(vm_subnet["gateway_ip"]) in inv.vm.cidr
    assert len(fake.groups[0]["security_group_rules"]) == 3
    calls = len(fake.calls)
    assert converge(fake, want, apply=False) == []
    assert all(method == "GET" for method, _ in fake.calls[calls:])


def test_a_network_with_other_settings_is_reported_not_recreated(inv):
    want = networks.wanted(Context(inv, FakeSecrets()))
    fake = FakeNeutron()
    converge(fake, want, apply=True)
    fake.items["subnet"][1]["cidr"] = "10.9.0.0/24"
    diffs = converge(fake, want, apply=True)
    assert diffs == ["subnet vm-subnet: cidr is '10.9.0.0/24', wanted '10.0.0.0/24' (not changed)"]
    assert len(fake.items["subnet"]) == 2


def test_port_security_and_sharing_change_in_place(inv):
    want = networks.wanted(Context(inv, FakeSecrets()))
    fake = FakeNeutron()
    converge(fake, want, apply=True)
    vm = next(n for n in fake.items["network"] if n["name"] == "vm")
    assert vm["port_security_enabled"] is True    # Neutron's default, enforced
    vm["port_security_enabled"] = False
    assert converge(fake, want, apply=True) == ["network vm: port_security_enabled is False, wanted True"]
    assert vm["port_security_enabled"] is True and converge(fake, want, apply=False) == []
