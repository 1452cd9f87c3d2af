"""Inventory validation: every broken case fails with one line naming the field."""
from pathlib import Path

import pytest
import yaml

from deploy.inventory import InventoryError, load_inventory

ROOT = Path(__file__).resolve().parent.parent


def base() -> dict:
    return yaml.safe_load((ROOT / "inventory.yaml").read_text())


def write(tmp_path: Path, data: dict | str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_default_inventory_is_the_report_testbed():
    inv = load_inventory(ROOT / "inventory.yaml", check_keys=False)
    assert [(h.name, h.address) for h in inv.hosts] == [
        ("compute1", "192.168.0.1"), ("compute2", "192.168.0.2"), ("compute3", "192.168.0.3"),
        ("compute4", "192.168.0.4"), ("controller", "192.168.0.5")]
    assert inv.controller.name == "controller" and inv.gateway.name == "compute1"
    assert inv.gateway.has_role("compute")
    assert str(inv.vm.cidr) == "10.0.0.0/24"
    assert (inv.glusterfs.volume, inv.glusterfs.replica) == ("vm-instances", 4)
    assert inv.glusterfs.brick_path == "/export/gluster"
    assert inv.glusterfs.mount_point == "/var/lib/nova/instances"
    assert inv.glusterfs.volumes_volume == "cinder-volumes"
    assert (inv.gateway.public_interface, inv.gateway.provider_interface) == ("eth0", "eth2")
    assert inv.lab.embedded


def mutate(fn):
    data = base()
    fn(data)
    return data


CASES = {
    "unknown top key": (lambda d: d.update(colour="blue"), "colour: unknown key (allowed: lab, ssh, networks,"),
    "unknown host key": (lambda d: d["hosts"][1].update(adress="192.168.0.9"), "hosts[1] (compute2).adress: unknown key (did you mean 'address'?"),
    "duplicate name": (lambda d: d["hosts"][1].update(name="compute1"), "hosts[1] (compute1).name: duplicate host name"),
    "duplicate address": (lambda d: d["hosts"][2].update(address="192.168.0.2"), "hosts[2] (compute3).address: 192.168.0.2 is already"),
    "bad address": (lambda d: d["hosts"][0].update(address="192.168.0.300"), "hosts[0] (compute1).address: '192.168.0.300' is not an IPv4"),
    "address outside network": (lambda d: d["hosts"][0].update(address="10.9.9.9"), "hosts[0] (compute1).address: 10.9.9.9 is outside"),
    "no controller": (lambda d: d["hosts"][4].update(roles=["compute"]), "exactly one host must have role 'controller', found 0"),
    "no gateway": (lambda d: d["hosts"][0].update(roles=["compute"]), "exactly one host must have role 'gateway', found 0"),
    "unknown role": (lambda d: d["hosts"][0].update(roles=["compute", "router"]), "hosts[0] (compute1).roles[1]: 'router' is not known (allowed: controller, compute, gateway)"),
    "replica does not fit": (lambda d: d["glusterfs"].update(replica=3), "glusterfs.replica: 3 does not fit the 4 compute hosts"),
    "replica not a number": (lambda d: d["glusterfs"].update(replica="four"), "glusterfs.replica: expected integer (an integer 1-64 dividing the number of compute hosts), got string 'four'"),
    "gateway without public interface": (lambda d: d["hosts"][0]["interfaces"].pop("public"), "hosts[0] (compute1).interfaces.public: required on the gateway"),
    "missing networks": (lambda d: d.pop("networks"), "networks: required"),
    "bad cidr": (lambda d: d["networks"]["vm"].update(cidr="10.0.0.0/33"), "networks.vm.cidr: '10.0.0.0/33' is not a network"),
    "relative brick path": (lambda d: d["glusterfs"].update(brick_path="export"), "glusterfs.brick_path: 'export' is not an absolute path"),
    "proxy not http": (lambda d: d["packages"].update(proxy="ftp://x"), "packages.proxy: 'ftp://x' must be an http:// URL"),
    "hosts not a list": (lambda d: d.update(hosts={"a": 1}), "hosts: expected list (one or more hosts), got a mapping of 1 keys"),
    "volumes on the instances volume": (lambda d: d["glusterfs"].update(volumes_volume="vm-instances"),
                                        "glusterfs.volumes_volume: must differ from glusterfs.volume"),
    "provider interface off the gateway": (lambda d: d["hosts"][1]["interfaces"].update(provider="eth2"),
                                           "hosts[1] (compute2).interfaces.provider: only the gateway"),
    "one interface for two networks": (lambda d: d["hosts"][0]["interfaces"].update(provider="eth0"),
                                       "hosts[0] (compute1).interfaces: one interface named for two networks"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_broken_inventory_names_the_field(tmp_path, case):
    change, expected = CASES[case]
    path = write(tmp_path, mutate(change))
    with pytest.raises(InventoryError) as err:
        load_inventory(path, check_keys=False)
    message = str(err.value)
    assert "\n" not in message, message
    assert message.startswith(str(path) + ": "), message
    assert expected in message, message


def test_duplicate_yaml_key_is_refused(tmp_path):
    text = (ROOT / "inventory.yaml").read_text().replace("openstack:\n", "openstack:\n  region: A\n", 1)
    first = text.splitlines().index("  region: A") + 1
    with pytest.raises(InventoryError, match=rf"line {first + 2}, column 3: duplicate key 'region' \(first at line {first}\)"):
        load_inventory(write(tmp_path, text), check_keys=False)


def test_unreadable_key_file_is_refused(tmp_path):
    data = base()
    data["lab"]["embedded"] = False
    data["ssh"]["key"] = str(tmp_path / "no-such-key")
    with pytest.raises(InventoryError, match=r"hosts\[0\] \(compute1\)\.key: cannot read SSH key file .*no-such-key"):
        load_inventory(write(tmp_path, data))


def test_readable_key_file_is_accepted(tmp_path):
    data = base()
    data["lab"]["embedded"] = False
    key = tmp_path / "id"
    key.write_text("key")
    data["ssh"]["key"] = str(key)
    data["hosts"][4]["user"] = "debian"
    inv = load_inventory(write(tmp_path, data))
    assert inv.host("controller").user == "debian" and inv.host("controller").sudo
    assert inv.host("compute1").user == "root" and not inv.host("compute1").sudo


def test_not_yaml(tmp_path):
    with pytest.raises(InventoryError, match="not valid YAML"):
        load_inventory(write(tmp_path, "hosts: [\n"), check_keys=False)


def test_missing_file(tmp_path):
    with pytest.raises(InventoryError, match="cannot read inventory"):
        load_inventory(tmp_path / "nope.yaml")


# ---------------------------------------------------------------- the secrets file, read as strictly
SECRETS_CASES = {
    "yaml syntax": (b"a: [\n", "line 2, column 1: not valid YAML"),
    "not utf-8": (b"a: x\nb: \xff\n", "line 2, column 4: byte 0xff is not UTF-8"),
    "duplicate name": (b"a: x\na: y\n", "line 2, column 1: duplicate key 'a' (first at line 1)"),
    "list as a name": (b"[a]: x\n", "line 1, column 1: a mapping key is a list"),
    "number as a value": (b"a: x\nnova_db: 12345\n", "line 2, column 10: nova_db: expected a string (quote it), got a number"),
    "not a mapping": (b"- a\n", "line 1, column 1: expected a mapping of names to strings, got a list"),
}


@pytest.mark.parametrize("case", SECRETS_CASES, ids=list(SECRETS_CASES))
def test_broken_secrets_file_names_line_and_column(tmp_path, case):
    from deploy.secrets import Secrets, SecretsError

    content, expected = SECRETS_CASES[case]
    path = tmp_path / "inventory.secrets.yaml"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(SecretsError) as err:
        Secrets(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {expected}") and "\n" not in message, message


# ---------------------------------------------------------------- image files: inside the inventory's directory, or named absolutely
def image_inventory(tmp_path: Path, file: str) -> Path:
    data = base()
    data["images"] = [{"name": "local", "file": file}]
    return write(tmp_path, data)


def test_image_file_inside_the_inventory_directory_is_taken(tmp_path):
    (tmp_path / "images").mkdir()
    inv = load_inventory(image_inventory(tmp_path, "images/disk.qcow2"), check_keys=False)
    assert inv.images[0].file == (tmp_path / "images/disk.qcow2").resolve()


def test_image_file_named_absolutely_is_taken_on_purpose(tmp_path):
    inv = load_inventory(image_inventory(tmp_path, "/srv/images/disk.qcow2"), check_keys=False)
    assert inv.images[0].file == Path("/srv/images/disk.qcow2")


@pytest.mark.parametrize("file", ["../secret.img", "images/../../secret.img", "link/disk.img", "~/disk.img"])
def test_image_file_leading_outside_is_refused(tmp_path, file):
    (tmp_path / "project").mkdir()
    (tmp_path / "project/link").symlink_to(tmp_path)   # a symlink out of the directory
    with pytest.raises(InventoryError, match=r"images\[0\]\.file: '.*' (leads outside|starts with ~)"):
        load_inventory(image_inventory(tmp_path / "project", file), check_keys=False)


def test_defaults_fill_a_minimal_inventory(tmp_path):
    """Only what has no default: the defaults of the schema's table apply."""
    text = """
networks: {management: {cidr: 10.1.0.0/24}, public: {cidr: 10.2.0.0/24}, vm: {cidr: 10.3.0.0/24}}
hosts:
  - {name: ctl, address: 10.1.0.5, roles: [controller]}
  - {name: cmp, address: 10.1.0.1, roles: [compute, gateway], interfaces: {management: eth1, public: eth0},
     public_address: 10.2.0.1}
glusterfs: {replica: 1}
"""
    inv = load_inventory(write(tmp_path, text), check_keys=False)
    assert (inv.region, inv.release, inv.package_mirror, inv.package_proxy) == ("RegionOne", "zed", "auto", "")
    assert (inv.glusterfs.volume, inv.glusterfs.brick_path) == ("vm-instances", "/export/gluster")
    assert inv.host("ctl").interfaces == {"management": "eth0"} and inv.host("ctl").port == 22
    assert (inv.lab.embedded, inv.lab.brick_size, inv.lab.cache_dir) == (False, "2G", tmp_path / ".lab/cache")


def test_secrets_live_beside_the_inventory_unless_secrets_file_names_one(tmp_path):
    """A grown copy of an inventory shares the cloud's secrets (and so its CA) through secrets.file."""
    assert load_inventory(write(tmp_path, base()), check_keys=False).secrets_path == tmp_path / "inventory.secrets.yaml"
    (tmp_path / "grown").mkdir()
    grown = base() | {"secrets": {"file": "../inventory.secrets.yaml"}}
    path = tmp_path / "grown/inventory.yaml"
    path.write_text(yaml.safe_dump(grown))
    assert load_inventory(path, check_keys=False).secrets_path == tmp_path / "inventory.secrets.yaml"
