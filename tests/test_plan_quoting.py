"""Every command the plan renders keeps each inventory value one word.

Property: render all phases for an inventory with plain marker values and for
one with hostile values in their place; `shlex.split` of each hostile command
must give exactly the plain command's words with the markers replaced. A value
left unquoted splits into more words (or runs as shell syntax) and fails this.
Hostile-but-valid values go through the validator; values the validator
refuses are put in directly, to show quoting holds whatever it lets through.
"""
from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest
import yaml

from deploy.inventory import Inventory, load_inventory
from deploy.phases import Context, all_phases
from deploy.phases.p02_glusterfs_all import brick_dir
from deploy.phases.p04_glusterfs_all import fstab_line
from deploy.secrets import Secrets

ROOT = Path(__file__).resolve().parent.parent

# marker -> hostile value the validator accepts (spaces where allowed, unusual but legal paths)
VALID = {"/srv/BRICKS0": "/srv/my bricks/gluster+1@a=b,c~d",
         "/var/lib/nova/INSTANCES0": "/var/lib/nova/my instances %1",
         "REGION0": "Region One.b_c-d"}
# marker -> values the validator refuses: shell syntax of every kind
HOSTILE = {"/srv/BRICKS0": "/srv/a;b $(touch /tmp/x) `id` 'q\" c*",
           "/var/lib/nova/INSTANCES0": "/var/lib/nova/i n;s'\"$HOME|&>",
           "REGION0": "R'; touch /tmp/x #",
           "VOLA0": "v;rm -rf /",
           "VOLB0": "w$(id)`id`",
           "ETHM0": "eth1;reboot"}


def inventory(tmp_path: Path, values: dict[str, str]) -> Inventory:
    data = yaml.safe_load((ROOT / "inventory.yaml").read_text())
    data["glusterfs"].update(brick_path=values["/srv/BRICKS0"], mount_point=values["/var/lib/nova/INSTANCES0"])
    data["openstack"]["region"] = values["REGION0"]
    path = tmp_path / f"inventory-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_inventory(path, check_keys=False)


def with_markers(inv: Inventory, values: dict[str, str]) -> Inventory:
    """`inv` with values put in directly, past the validator."""
    gf = dataclasses.replace(inv.glusterfs, brick_path=values["/srv/BRICKS0"],
                             mount_point=values["/var/lib/nova/INSTANCES0"],
                             volume=values["VOLA0"], volumes_volume=values["VOLB0"])
    hosts = tuple(dataclasses.replace(h, interfaces={**h.interfaces, "management": values["ETHM0"]})
                  for h in inv.hosts)
    return dataclasses.replace(inv, glusterfs=gf, region=values["REGION0"], hosts=hosts)


def commands(inv: Inventory) -> list[tuple[str, str]]:
    """(where, command) for every command and check the plan would send, in order."""
    ctx = Context(inv, Secrets.placeholders())
    out = []
    for phase in all_phases():
        for host in phase.targets(inv):
            steps = phase.steps(ctx, host) + (phase.early(ctx, host) if phase.early else [])
            for step in steps:
                texts = [str(fact) for fact in step.facts()]
                for action in step.fresh():
                    texts += [t for t in (action.command, action.await_condition, action.nudge) if t]
                out += [(f"{phase.title} on {host.name}: {step.key}", t) for t in texts]
    return out


def assert_words_intact(plain: Inventory, hostile: Inventory, values: dict[str, str]) -> list[list[str]]:
    want, got = commands(plain), commands(hostile)
    assert len(want) == len(got)
    words = []
    for (where, p), (_, h) in zip(want, got):
        expected = shlex.split(p)
        for marker, value in values.items():
            expected = [w.replace(marker, value) for w in expected]
        assert shlex.split(h) == expected, f"{where}: {h}"
        words.append(expected)
    return words


def test_hostile_but_valid_values_stay_one_word(tmp_path):
    plain, hostile = inventory(tmp_path, dict(zip(VALID, VALID))), inventory(tmp_path, VALID)
    words = assert_words_intact(plain, hostile, VALID)
    every = {w for command in words for w in command}
    brick = brick_dir(hostile)
    assert brick == "/srv/my bricks/gluster+1@a=b,c~d/brick"
    assert {brick, f"compute1:{brick}", "/var/lib/nova/my instances %1", "Region One.b_c-d"} <= every
    bootstrap = next(w for w in words if "--bootstrap-region-id" in w)
    assert bootstrap[bootstrap.index("keystone-manage") + 1] == "bootstrap"
    assert bootstrap[bootstrap.index("--bootstrap-region-id") + 1] == "Region One.b_c-d"


def test_values_the_validator_refuses_are_still_quoted(default_inventory):
    plain = with_markers(default_inventory, dict(zip(HOSTILE, HOSTILE)))
    assert_words_intact(plain, with_markers(default_inventory, HOSTILE), HOSTILE)


def test_fstab_gets_a_mount_point_with_spaces_escaped(tmp_path):
    inv = inventory(tmp_path, VALID)
    line = fstab_line(inv)
    assert line.split()[:3] == ["localhost:/vm-instances", r"/var/lib/nova/my\040instances\040%1", "glusterfs"]


@pytest.mark.parametrize("field, value, where", [
    ("region", "RegionOne\n[DEFAULT]\ndebug = true", "region_name"),
    ("ntp_servers", ("ntp1\nallow all",), "time.ntp_servers"),
    ("ntp_servers", ("ntp1 allow",), "time.ntp_servers"),
    ("package_proxy", 'http://p:3128";\nAcquire::AllowInsecureRepositories "true', "packages.proxy"),
    ("package_mirror", "http://m/debian\nTrusted: yes", "packages.mirror"),
])
def test_a_config_value_with_a_line_break_is_refused(default_inventory, field, value, where):
    inv = dataclasses.replace(default_inventory, **{field: value})
    with pytest.raises(ValueError, match=where):
        commands(inv)


def test_a_mount_point_with_a_line_break_never_reaches_fstab(default_inventory):
    gf = dataclasses.replace(default_inventory.glusterfs, mount_point="/mnt/x\nUUID=1 / ext4 defaults 0 0")
    with pytest.raises(ValueError, match="line break"):
        fstab_line(dataclasses.replace(default_inventory, glusterfs=gf))
