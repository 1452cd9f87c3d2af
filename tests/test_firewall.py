"""Rule sets as data (deploy/firewall.py): the boot script and the live checks
speak each chain's own family, and the public default deny covers IPv6."""
from __future__ import annotations

from deploy.firewall import NEW_ONLY, Chain, RuleSet
from deploy.inventory import load_inventory
from deploy.phases.p01_network_gateway import nat_rules
from deploy.phases.p02_glusterfs_all import gluster_rules, public_rules
from deploy.phases.p05_kvm_compute import migration_rules

INVENTORY = load_inventory("inventory.yaml", check_keys=False)


def test_each_chain_is_built_and_checked_with_its_family_command():
    rules = RuleSet("t", [Chain("filter", "INPUT", [["-j", "DROP"]]),
                          Chain("filter", "INPUT", [["-j", "DROP"]], position="bottom", family="ipv6")])
    script = rules.script().splitlines()
    assert "iptables -w -t filter -A DPL-T-INPUT -j DROP" in script
    assert "ip6tables -w -t filter -A DPL-T-INPUT -j DROP" in script
    assert ("ip6tables -w -t filter -C INPUT -j DPL-T-INPUT 2>/dev/null || "
            "ip6tables -w -t filter -A INPUT -j DPL-T-INPUT") in script
    assert [c.split()[0] for c in rules.checks()] == ["iptables", "iptables", "ip6tables", "ip6tables"]


def test_deny_lists_by_port_drop_only_new_connections():
    """Replies to a host's own connections come back to an ephemeral port that may lie in a denied range."""
    gateway, compute = INVENTORY.gateway, INVENTORY.host("compute2")
    for rules in (gluster_rules(INVENTORY), migration_rules(INVENTORY, compute)):
        drops = [r for c in rules.chains for r in c.rules if r[-1] == "DROP"]
        assert drops and all(" ".join(NEW_ONLY) in " ".join(r) for r in drops), rules.name


def test_the_gateway_routes_nothing_in_from_the_public_side_but_replies_and_published_dnats():
    gw = INVENTORY.gateway
    forward = next(c for c in nat_rules(INVENTORY).chains if c.parent == "FORWARD")
    mgmt = gw.management_interface
    assert forward.rules[-1] == ["-i", gw.public_interface, "-j", "DROP"]
    # into the management network from any other interface (the provider bridge too): replies, DNATs, nothing else
    into = [r for r in forward.rules if r[:4] == ["!", "-i", mgmt, "-o"]]
    assert [r[-1] for r in into] == ["ACCEPT", "RETURN", "DROP"] and "DNAT" in into[1]


def test_the_public_default_deny_holds_for_ipv6_and_opens_ipv4_ports_on_the_public_address_only():
    gw = INVENTORY.gateway
    chains = {(c.family, c.parent): c for c in public_rules(gw).chains}
    assert set(chains) == {("ipv4", "INPUT"), ("ipv6", "INPUT"), ("ipv6", "FORWARD")}
    for chain in chains.values():
        assert chain.rules[-1] == ["-i", gw.public_interface, "-j", "DROP"] and chain.position == "bottom"
    opened = [r for r in chains[("ipv4", "INPUT")].rules if "--dport" in r]
    assert opened and all(r[r.index("-d") + 1] == gw.public_address for r in opened)


def test_the_labs_outside_machine_sits_below_the_floating_range_and_apart_from_every_host():
    import dataclasses
    import ipaddress

    import pytest

    from deploy.phases.p09_openstack_gateway.networks import floating_range
    from lab.errors import LabError
    from lab.network import outside_address

    address = ipaddress.IPv4Address(outside_address(INVENTORY))
    assert address in INVENTORY.public.cidr and address < ipaddress.IPv4Address(floating_range(INVENTORY)[0])
    gw = INVENTORY.gateway
    clash = dataclasses.replace(INVENTORY, hosts=tuple(
        dataclasses.replace(h, public_address=str(address)) if h.name == gw.name else h for h in INVENTORY.hosts))
    with pytest.raises(LabError, match=rf"hosts\[{gw.name}\].public_address: {address} is the embedded lab's"):
        outside_address(clash)
