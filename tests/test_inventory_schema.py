"""A table of malformed inventories, one mistake each, through the suite's own
entry point (`python -m deploy plan --inventory=...`, in-process): each must end
with exit code 2 and one line on stderr naming exactly the field at fault (or the
line and column of the file), and nothing may have been contacted."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml

import lab
from deploy import remote
from deploy.__main__ import main
from deploy.schema_fields import schema_table

ROOT = Path(__file__).resolve().parent.parent
BASE_TEXT = (ROOT / "inventory.yaml").read_text()


def put(path: str, value: Any) -> Callable[[dict], None]:
    """A change of the default inventory: set (or with value DROP, remove) one field."""
    def change(data: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        for p in parents:
            data = data[p]
        if value is DROP:
            del data[last]
        else:
            data[last] = value
    return change


DROP = object()


def text(replace: str, by: str) -> Callable[[], str]:
    assert replace in BASE_TEXT
    return lambda: BASE_TEXT.replace(replace, by, 1)


def line_of(fragment: str, offset: int = 0) -> int:
    return BASE_TEXT.splitlines().index(fragment) + 1 + offset


REGION_LINE = line_of("  region: RegionOne")
GATEWAY_PUB = "hosts[0] (compute1).public_address"
C2 = "hosts[1] (compute2)"

# id -> (change, the field the one-line error must name, [a text the line must also carry])
CASES: dict[str, tuple[Any, str, str]] = {
    # ------------------------------------------------ the file itself
    "empty file": (lambda: "", "the file is empty", "networks, hosts and glusterfs"),
    "only comments": (lambda: "# nothing here\n", "the file is empty", ""),
    "yaml syntax": (lambda: "hosts: [\n", "line 2, column 1", "not valid YAML"),
    "not utf-8": (lambda: BASE_TEXT.replace("region: RegionOne", "region: Regi\udcffon").encode("utf-8", "surrogateescape"),
                  f"line {REGION_LINE}, column 15", "0xff is not UTF-8"),
    "list as a key": (text("openstack:\n", "openstack:\n  [a, b]: 1\n"), f"line {REGION_LINE - 1}, column 3",
                      "a mapping key is a list"),
    "number as a key": (text("openstack:\n", "openstack:\n  7: x\n"), f"line {REGION_LINE - 1}, column 3", "7"),
    "deep nesting": (lambda: "lab: " + "[" * 3000 + "]" * 3000 + "\n", "line 1, column 37", "nested more than"),
    "duplicate key": (text("  region: RegionOne\n", "  region: RegionOne\n  region: Two\n"),
                      f"line {REGION_LINE + 1}, column 3", "duplicate key 'region'"),
    "control character": (text("region: RegionOne", "region: Region\x07One"), f"line {REGION_LINE}, column 17",
                          "U+0007"),
    "python tag": (text("region: RegionOne", 'region: !!python/object/apply:os.system ["id"]'),
                   f"line {REGION_LINE}, column 11", "could not determine a constructor"),
    "top level a list": (lambda: "- a\n- b\n", "the inventory", "expected a mapping"),
    "top level a word": (lambda: "hello\n", "the inventory", "got string 'hello'"),
    # ------------------------------------------------ sections
    "unknown top key": (put("hots", []), "hots", "did you mean 'hosts'?"),
    "missing hosts": (put("hosts", DROP), "hosts", "required"),
    "missing glusterfs": (put("glusterfs", DROP), "glusterfs", "required"),
    "networks not a mapping": (put("networks", "x"), "networks", "expected a mapping"),
    "no hosts": (put("hosts", []), "hosts", "at least one host"),
    "images not a list": (put("images", "tiny"), "images", "expected list"),
    # ------------------------------------------------ lab
    "lab.embedded a word": (put("lab.embedded", "yes"), "lab.embedded", "got string 'yes'"),
    "lab.name capitals": (put("lab.name", "Lab1"), "lab.name", "'Lab1'"),
    "lab.name too long": (put("lab.name", "mylab12"), "lab.name", "'mylab12'"),
    "lab.state_dir NUL": (put("lab.state_dir", "a\0b"), "lab.state_dir", "control character"),
    "lab.cache_dir newline": (put("lab.cache_dir", "a\nb"), "lab.cache_dir", r"'a\nb'"),
    "lab.brick_size negative": (put("lab.brick_size", "-8G"), "lab.brick_size", "'-8G'"),
    "lab.brick_size no unit": (put("lab.brick_size", 8), "lab.brick_size", "got integer 8"),
    "lab.brick_size too small": (put("lab.brick_size", "100M"), "lab.brick_size", "XFS"),
    "lab.state_dir the root": (put("lab.state_dir", "/"), "lab.state_dir", "system or home directory"),
    "lab unknown key": (put("lab.embeded", True), "lab.embeded", "did you mean 'embedded'?"),
    # ------------------------------------------------ ssh
    "ssh.port negative": (put("ssh.port", -22), "ssh.port", "-22 is out of range"),
    "ssh.port 20 digits": (put("ssh.port", 10 ** 19), "ssh.port", "out of range"),
    "ssh.port a string": (put("ssh.port", "22"), "ssh.port", "got string '22'"),
    "ssh.port a boolean": (put("ssh.port", True), "ssh.port", "got boolean True"),
    "ssh.port a number": (put("ssh.port", 22.5), "ssh.port", "got number 22.5"),
    "ssh.user injection": (put("ssh.user", "root;id"), "ssh.user", "'root;id'"),
    "ssh.sudo a word": (put("ssh.sudo", "no"), "ssh.sudo", "expected boolean"),
    "ssh.key empty": (put("ssh.key", ""), "ssh.key", "is empty"),
    # ------------------------------------------------ networks
    "cidr host bits": (put("networks.management.cidr", "192.168.0.1/24"), "networks.management.cidr", "host bits"),
    "cidr prefix 33": (put("networks.vm.cidr", "10.0.0.0/33"), "networks.vm.cidr", "is not a network"),
    "cidr no prefix": (put("networks.management.cidr", "192.168.0.0"), "networks.management.cidr", "ADDRESS/PREFIX"),
    "public network too small": (put("networks.public.cidr", "198.51.100.0/30"), "networks.public.cidr", "too small"),
    "vm network loopback": (put("networks.vm.cidr", "127.0.0.0/8"), "networks.vm.cidr", "loopback"),
    "vm overlaps management": (put("networks.vm.cidr", "192.168.0.0/25"), "networks.vm.cidr",
                               "overlaps networks.management.cidr"),
    "public overlaps management": (put("networks.public.cidr", "192.168.0.0/16"), "networks.public.cidr", "overlaps"),
    "operator outside": (put("networks.management.operator_address", "192.168.1.254"),
                         "networks.management.operator_address", "is outside"),
    "operator broadcast": (put("networks.public.operator_address", "198.51.100.255"),
                           "networks.public.operator_address", "broadcast address"),
    "operator on the vm network": (put("networks.vm.operator_address", "10.0.0.254"), "networks.vm.operator_address",
                                   "unknown key"),
    "embedded lab without operator": (put("networks.public.operator_address", DROP), "networks.public.operator_address",
                                      "required when lab.embedded"),
    "missing vm network": (put("networks.vm", DROP), "networks.vm", "required"),
    # ------------------------------------------------ hosts
    "name unicode": (put("hosts.1.name", "cömpute2"), "hosts[1].name", "is not a host name"),
    "name fullwidth digit": (put("hosts.1.name", "compute\uff12"), "hosts[1].name", "is not a host name"),
    "name capitals": (put("hosts.1.name", "Compute2"), "hosts[1].name", "'Compute2'"),
    "name leading dash": (put("hosts.1.name", "-compute2"), "hosts[1].name", "'-compute2'"),
    "name localhost": (put("hosts.1.name", "localhost"), "hosts[1].name", "own name"),
    "name gateway off the gateway": (put("hosts.1.name", "gateway"), "hosts[1] (gateway).name", "other name"),
    "name too long": (put("hosts.1.name", "c" * 64), "hosts[1].name", "is not a host name"),
    "name a number": (put("hosts.1.name", 5), "hosts[1].name", "got integer 5"),
    "name twice": (put("hosts.1.name", "compute1"), "hosts[1] (compute1).name", "already used by hosts[0]"),
    "address network address": (put("hosts.1.address", "192.168.0.0"), f"{C2}.address", "network address"),
    "address broadcast": (put("hosts.1.address", "192.168.0.255"), f"{C2}.address", "broadcast address"),
    "address is the operator's": (put("hosts.1.address", "192.168.0.254"), f"{C2}.address", "operator's address"),
    "address twice": (put("hosts.2.address", "192.168.0.2"), "hosts[2] (compute3).address",
                      "192.168.0.2 is already the address of compute2"),
    "address fullwidth digit": (put("hosts.1.address", "\uff11192.168.0.2"), f"{C2}.address", "not an IPv4"),
    "address leading zero": (put("hosts.1.address", "192.168.0.02"), f"{C2}.address", "not an IPv4"),
    "address outside management": (put("hosts.1.address", "10.9.9.9"), f"{C2}.address", "is outside"),
    "roles empty": (put("hosts.1.roles", []), f"{C2}.roles", "at least one role"),
    "role twice": (put("hosts.1.roles", ["compute", "compute"]), f"{C2}.roles[1]", "listed twice"),
    "roles a word": (put("hosts.1.roles", "compute"), f"{C2}.roles", "expected list"),
    "interface injection": (put("hosts.1.interfaces.management", "eth1;touch /tmp/x"), f"{C2}.interfaces.management",
                            "is not an interface name"),
    "interface too long": (put("hosts.1.interfaces.management", "e" * 16), f"{C2}.interfaces.management",
                           "is not an interface name"),
    "interface unknown key": (put("hosts.1.interfaces.mgmt", "eth1"), f"{C2}.interfaces.mgmt", "unknown key"),
    "gateway public outside public": (put("hosts.0.public_address", "203.0.113.1"), GATEWAY_PUB, "is outside"),
    "gateway public in management": (put("hosts.0.public_address", "192.168.0.9"), GATEWAY_PUB,
                                     "outside networks.public.cidr"),
    "gateway public is the operator's": (put("hosts.0.public_address", "198.51.100.254"), GATEWAY_PUB,
                                         "operator's address"),
    "gateway public in the floating half": (put("hosts.0.public_address", "198.51.100.200"), GATEWAY_PUB,
                                            "floating addresses"),
    "gateway without public address": (put("hosts.0.public_address", DROP), GATEWAY_PUB, "required on the gateway"),
    "public address without interface": (put("hosts.1.public_address", "198.51.100.2"), f"{C2}.public_address",
                                         "needs interfaces.public"),
    "host port zero": (put("hosts.1.port", 0), f"{C2}.port", "0 is out of range"),
    "host sudo a word": (put("hosts.1.sudo", "yes"), f"{C2}.sudo", "expected boolean"),
    "host not a mapping": (put("hosts.1", "compute2"), "hosts[1]", "expected a mapping"),
    # ------------------------------------------------ glusterfs
    "replica zero": (put("glusterfs.replica", 0), "glusterfs.replica", "out of range"),
    "replica does not divide": (put("glusterfs.replica", 3), "glusterfs.replica", "does not fit the 4 compute hosts"),
    "brick_path injection": (put("glusterfs.brick_path", "/export/gluster;touch /tmp/x"), "glusterfs.brick_path",
                             "is not a normalized path"),
    "brick_path dot-dot": (put("glusterfs.brick_path", "/export/../etc"), "glusterfs.brick_path", "normalized"),
    "brick_path system dir": (put("glusterfs.brick_path", "/etc"), "glusterfs.brick_path", "system directory"),
    "brick_path colon": (put("glusterfs.brick_path", "/export/a:b"), "glusterfs.brick_path", "normalized"),
    "mount_point relative": (put("glusterfs.mount_point", "instances"), "glusterfs.mount_point", "not an absolute"),
    "mount_point in brick_path": (put("glusterfs.mount_point", "/export/gluster/inst"), "glusterfs.mount_point",
                                  "inside one another"),
    "mount_point newline": (put("glusterfs.mount_point", "/var/lib/nova/i\nUUID=x / ext4"), "glusterfs.mount_point",
                            "normalized"),
    "volume with a space": (put("glusterfs.volume", "vm instances"), "glusterfs.volume", "is not a volume name"),
    "volume injection": (put("glusterfs.volume", "vm;rm"), "glusterfs.volume", "is not a volume name"),
    "volumes_volume same": (put("glusterfs.volumes_volume", "vm-instances"), "glusterfs.volumes_volume",
                            "must differ"),
    # ------------------------------------------------ openstack
    "release unknown": (put("openstack.release", "antelope"), "openstack.release", "'antelope' is not known"),
    "region injection": (put("openstack.region", "RegionOne;touch /tmp/x"), "openstack.region", "not a region name"),
    "region newline": (put("openstack.region", "RegionOne\n[DEFAULT]"), "openstack.region", "not a region name"),
    "region a number": (put("openstack.region", 1), "openstack.region", "got integer 1"),
    "openstack unknown key": (put("openstack.regoin", "X"), "openstack.regoin", "did you mean 'region'?"),
    # ------------------------------------------------ time
    "ntp_servers a word": (put("time.ntp_servers", "pool.ntp.org"), "time.ntp_servers", "expected list"),
    "ntp server newline": (put("time.ntp_servers", ["ntp.example.com\nallow all"]), "time.ntp_servers[0]",
                           "not a host name"),
    "ntp server twice": (put("time.ntp_servers", ["ntp1", "ntp1"]), "time.ntp_servers[1]", "listed twice"),
    "ntp server bad address": (put("time.ntp_servers", ["1.2.3.999"]), "time.ntp_servers[0]", "not an IPv4"),
    # ------------------------------------------------ packages
    "mirror newline": (put("packages.mirror", "http://deb.debian.org/debian\nTrusted: yes"), "packages.mirror",
                       "not a URL"),
    "mirror ftp": (put("packages.mirror", "ftp://deb.debian.org/debian"), "packages.mirror", "not a URL"),
    "proxy quote": (put("packages.proxy", 'http://p:3128";Acquire::AllowInsecureRepositories "true'),
                    "packages.proxy", "must be an http:// URL"),
    "proxy port": (put("packages.proxy", "http://192.168.0.254:99999"), "packages.proxy", "http:// URL"),
    # ------------------------------------------------ images
    "image two sources": (put("images.0.url", "http://x/y.img"), "images[0]", "exactly one of build, file, url"),
    "image unknown recipe": (put("images.0.build", "cirros"), "images[0].build", "'cirros' is not known"),
    "image url without checksum": (put("images.0", {"name": "c", "url": "http://x/c.img"}), "images[0].checksum",
                                   "required with url"),
    "image checksum not hex": (put("images.0", {"name": "c", "url": "http://x/c.img", "checksum": "sha256:" + "z" * 64}),
                               "images[0].checksum", "hex"),
    "image checksum with build": (put("images.0.checksum", "sha256:" + "0" * 64), "images[0].checksum",
                                  "only an image with a url"),
    "image file outside": (put("images.0", {"name": "c", "file": "../../etc/shadow"}), "images[0].file",
                           "outside the inventory's directory"),
    "image name twice": (put("images.1.name", "tiny"), "images[1].name", "named twice"),
    "image disk_format": (put("images.0.disk_format", "qcow3"), "images[0].disk_format", "did you mean 'qcow2'?"),
    "image visibility": (put("images.0.visibility", "everyone"), "images[0].visibility", "is not known"),
    "image not a mapping": (put("images.0", "tiny"), "images[0]", "expected a mapping"),
}


@pytest.fixture
def no_connection(monkeypatch):
    """Any SSH connection or lab start fails the test, and is recorded."""
    attempts: list[str] = []

    def refuse(what: str):
        def call(*args, **kwargs):
            attempts.append(what)
            raise AssertionError(f"{what} was attempted")
        return call
    monkeypatch.setattr(paramiko.SSHClient, "connect", refuse("paramiko connect"))
    monkeypatch.setattr(remote.Remote, "_connect_once", refuse("Remote connect"))
    monkeypatch.setattr(lab, "up", refuse("lab up"))
    return attempts


def test_the_table_is_large_and_covers_every_section():
    assert len(CASES) >= 60
    fields = {field for _, field, _ in CASES.values()}
    for section in ("lab.", "ssh.", "networks.", "hosts[", "glusterfs.", "openstack.", "time.", "packages.",
                    "images[", "line "):
        assert any(f.startswith(section) for f in fields), section


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_malformed_inventory_names_its_field_in_one_line(case, tmp_path, capsys, no_connection):
    change, field, also = CASES[case]
    path = tmp_path / "inventory.yaml"
    if change.__code__.co_argcount == 0:
        content = change()
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    else:
        data = yaml.safe_load(BASE_TEXT)
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    code = main(["plan", f"--inventory={path}"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), err
    lines = err.splitlines()
    assert len(lines) == 1, err
    prefix = f"deploy: {path}: "
    assert lines[0].startswith(prefix), lines[0]
    rest = lines[0][len(prefix):]
    assert rest.startswith(field + ": ") or rest.startswith(field + " ("), rest
    assert also in rest, rest
    assert no_connection == []


def test_default_inventories_still_plan(capsys, no_connection):
    for inventory in (ROOT / "inventory.yaml", ROOT / "tests/lab/two-hosts.yaml"):
        assert main(["plan", f"--inventory={inventory}"]) == 0, capsys.readouterr().err
    assert "== 09-openstack-gateway on smkcmp" in capsys.readouterr().out
    assert no_connection == []


def test_readme_lists_the_schema():
    """The README's table is the schema's own (regenerate with deploy.schema_fields.schema_table())."""
    readme = (ROOT / "README.md").read_text()
    assert schema_table() in readme
