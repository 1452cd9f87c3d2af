"""The embedded lab remembers every host it made, so that a lab grown by a
second inventory (day 2) is stopped and removed whole by the first, and no
host's links are renamed when the inventory gains a host. No root needed:
only the records and names are exercised."""
from dataclasses import replace
from pathlib import Path

import pytest

from deploy.inventory import load_inventory
from lab import LabError, find_host, made_hosts
from lab.core import _record
from lab.network import links

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def inv(tmp_path):
    return replace(load_inventory(ROOT / "inventory.yaml", check_keys=False),
                   lab=replace(load_inventory(ROOT / "inventory.yaml", check_keys=False).lab, state_dir=tmp_path))


def compute5(inv):
    return replace(inv.host("compute4"), name="compute5", address="192.168.0.6")


def test_a_host_a_grown_inventory_made_is_still_the_labs(inv):
    grown = replace(inv, hosts=(*inv.hosts, compute5(inv)))
    for host in grown.hosts:
        _record(grown, host)
    assert [h.name for h in made_hosts(inv)] == [h.name for h in inv.hosts] + ["compute5"]
    found = find_host(inv, "compute5")
    assert (found.address, found.roles, found.interfaces) == ("192.168.0.6", frozenset({"compute"}), {"management": "eth1"})
    with pytest.raises(LabError, match="no lab host 'compute9' .*compute5"):
        find_host(inv, "compute9")


def test_an_unreadable_record_is_named(inv):
    (inv.lab.state_dir / "hosts/compute7").mkdir(parents=True)
    (inv.lab.state_dir / "hosts/compute7/host.json").write_text("{not json")
    with pytest.raises(LabError, match="compute7/host.json: unreadable record"):
        made_hosts(inv)


def test_links_are_named_by_address_so_growing_renames_none(inv):
    before = {h.name: [l.host_side for l in links(inv, h)] for h in inv.hosts}
    grown = replace(inv, hosts=(compute5(inv), *inv.hosts))   # even placed first
    after = {h.name: [l.host_side for l in links(grown, h)] for h in grown.hosts}
    assert after.pop("compute5") == ["lab6m"]
    assert after == before
    assert before["compute1"] == ["lab1m", "lab1p", "lab1n"] and before["controller"] == ["lab5m"]
