"""The inventory: which hosts exist, what they are, and how the cloud is laid out.

`load_inventory(path)` reads the YAML file into frozen dataclasses and validates
it completely before anything touches a host: every field against the schema
(deploy/schema_fields.py), then the relations between fields
(deploy/inventory_checks.py). Every problem is an `InventoryError` whose
one-line message names the file, the field at fault, its value and what is
allowed.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yamlfile
from .schema import InventoryError, read_section, show
from .schema_fields import ITEMS, RECIPES, ROLES, SCHEMA

__all__ = ["Host", "Image", "Inventory", "InventoryError", "Lab", "Network", "GlusterFS", "RECIPES", "ROLES",
           "check_key_files", "load_inventory"]


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    roles: frozenset[str]
    user: str
    port: int
    key: Path
    sudo: bool
    interfaces: dict[str, str]
    public_address: str | None = None
    known_hosts: Path = Path("~/.ssh/known_hosts")   # the host keys SSH accepts (ssh.known_hosts)
    trust_on_first_use: bool = False                 # record an unknown key there (never a changed one)

    def has_role(self, role: str) -> bool:
        return role == "all" or role in self.roles

    @property
    def management_interface(self) -> str:
        return self.interfaces["management"]

    @property
    def public_interface(self) -> str | None:
        return self.interfaces.get("public")

    @property
    def provider_interface(self) -> str | None:
        """The gateway's interface that Neutron bridges for the public network.
        A NIC of its own keeps the host's public address (and the firewall rules
        that name its interface) off Neutron's bridge; else the public one."""
        return self.interfaces.get("provider") or self.public_interface


@dataclass(frozen=True)
class Network:
    cidr: ipaddress.IPv4Network
    operator_address: str | None = None


@dataclass(frozen=True)
class GlusterFS:
    volume: str
    replica: int
    brick_path: str
    mount_point: str
    # Cinder's volumes: a second volume on the same bricks' filesystem
    volumes_volume: str = "cinder-volumes"


@dataclass(frozen=True)
class Image:
    """A guest image for Glance: built here by a recipe (`python -m images`), a
    local file, or downloaded from a URL whose checksum is known."""
    name: str
    build: str | None = None       # a recipe of the images package: tiny, debian
    file: Path | None = None
    url: str | None = None
    checksum: str | None = None    # sha256:HEX, required with url
    disk_format: str = "qcow2"
    container_format: str = "bare"
    visibility: str = "public"
    login: str | None = None       # the SSH user the guest accepts its key as


@dataclass(frozen=True)
class Lab:
    embedded: bool
    name: str          # prefix of the lab's bridges, namespaces and containers
    state_dir: Path    # this lab's host trees, disks, pids and logs
    cache_dir: Path    # caches shared by labs on this machine: base tree, proxy
    brick_size: str


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: tuple[Host, ...]
    management: Network
    public: Network
    vm: Network
    glusterfs: GlusterFS
    lab: Lab
    region: str
    release: str
    ntp_servers: tuple[str, ...]
    package_mirror: str
    package_proxy: str
    images: tuple[Image, ...] = field(default=())
    flavors: tuple[str, ...] = ()   # phase 07 makes them (openstack.flavors)
    secrets_file: Path | None = None   # secrets.file; None: beside the inventory

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(f"no host named {name!r} in {self.path}")

    def with_role(self, role: str) -> list[Host]:
        return [h for h in self.hosts if h.has_role(role)]

    @property
    def controller(self) -> Host:
        return self.with_role("controller")[0]

    @property
    def gateway(self) -> Host:
        return self.with_role("gateway")[0]

    @property
    def secrets_path(self) -> Path:
        """Generated passwords live beside the inventory, one file per inventory, unless
        secrets.file names one (inventories of one cloud share it)."""
        return self.secrets_file or self.path.with_name(self.path.stem + ".secrets.yaml")


# ---------------------------------------------------------------- loading
def load_inventory(path: str | os.PathLike, *, check_keys: bool = True) -> Inventory:
    """Read and validate an inventory file. Raises InventoryError naming the field.

    `check_keys=False` skips the readability check of SSH key files, for callers
    that only print a plan, and for the embedded lab, which creates its key.
    """
    from .inventory_checks import check_relations

    path = Path(path).resolve()
    try:
        raw = yamlfile.read(path)
    except OSError as e:
        raise InventoryError(f"{path}: cannot read inventory ({e.strerror})") from None
    except yamlfile.YamlFileError as e:
        raise InventoryError(f"{path}: {e}") from None
    if raw is None:
        raise InventoryError(f"{path}: the file is empty (an inventory has at least networks, hosts and glusterfs; "
                             "see inventory.yaml)")
    try:
        inventory = _parse(path, raw)
        check_relations(inventory)
        if check_keys and not inventory.lab.embedded:
            check_key_files(inventory)
    except InventoryError as e:
        raise InventoryError(f"{path}: {e}") from None
    return inventory


def check_key_files(inventory: Inventory) -> None:
    """Every host's SSH key must be a readable file."""
    for i, host in enumerate(inventory.hosts):
        if not os.access(host.key, os.R_OK) or not host.key.is_file():
            raise InventoryError(f"hosts[{i}] ({host.name}).key: cannot read SSH key file {host.key}")


def host_where(i: int, item: Any) -> str:
    """`hosts[2] (compute3)`: the host's name is shown once it is a valid one."""
    from .schema import Bad, host_name
    name = item.get("name") if isinstance(item, dict) else None
    try:
        return f"hosts[{i}] ({host_name(name)})" if isinstance(name, str) else f"hosts[{i}]"
    except Bad:
        return f"hosts[{i}]"


def _local(base: Path, text: str) -> Path:
    return (base / Path(text).expanduser()).resolve()


def _parse(path: Path, raw: Any) -> Inventory:
    top = read_section("", raw, SCHEMA)
    base = path.parent
    lab_f = top["lab"]
    state_dir = _local(base, lab_f["state_dir"])
    lab = Lab(embedded=lab_f["embedded"], name=lab_f["name"], state_dir=state_dir,
              cache_dir=_local(base, lab_f["cache_dir"]) if lab_f["cache_dir"] is not None else state_dir / "cache",
              brick_size=lab_f["brick_size"])
    ssh = top["ssh"]
    # the embedded lab writes the host keys it generates there
    if ssh["known_hosts"] is not None:
        known_hosts = _local(base, ssh["known_hosts"])
    else:
        known_hosts = state_dir / "ssh/known_hosts" if lab.embedded else Path("~/.ssh/known_hosts").expanduser()
    hosts = []
    for i, item in enumerate(top["hosts"]):
        h = read_section(host_where(i, item), item, ITEMS["hosts"])
        user = h["user"] if h["user"] is not None else ssh["user"]
        sudo = h["sudo"] if h["sudo"] is not None else ssh["sudo"]
        hosts.append(Host(
            name=h["name"], address=h["address"], roles=frozenset(h["roles"]), user=user,
            port=h["port"] if h["port"] is not None else ssh["port"],
            key=_local(base, h["key"] if h["key"] is not None else ssh["key"]),
            sudo=sudo if sudo is not None else user != "root",
            interfaces={k: v for k, v in h["interfaces"].items() if v is not None},
            public_address=h["public_address"],
            known_hosts=known_hosts, trust_on_first_use=ssh["trust_on_first_use"]))
    nets = top["networks"]
    networks = {key: Network(nets[key]["cidr"], nets[key].get("operator_address")) for key in nets}
    gf = top["glusterfs"]
    os_f, pkg = top["openstack"], top["packages"]
    return Inventory(
        path=path,
        hosts=tuple(hosts),
        management=networks["management"],
        public=networks["public"],
        vm=networks["vm"],
        glusterfs=GlusterFS(volume=gf["volume"], replica=gf["replica"], brick_path=gf["brick_path"],
                            mount_point=gf["mount_point"], volumes_volume=gf["volumes_volume"]),
        lab=lab,
        region=os_f["region"],
        release=os_f["release"],
        ntp_servers=tuple(top["time"]["ntp_servers"]),
        package_mirror=pkg["mirror"],
        package_proxy=pkg["proxy"],
        images=tuple(_image(i, item, base) for i, item in enumerate(top["images"])),
        flavors=tuple(os_f["flavors"]),
        secrets_file=_local(base, top["secrets"]["file"]) if top["secrets"]["file"] is not None else None,
    )


def _image(i: int, item: Any, base: Path) -> Image:
    where = f"images[{i}]"
    f = read_section(where, item, ITEMS["images"])
    sources = [k for k in ("build", "file", "url") if f[k] is not None]
    if len(sources) != 1:
        raise InventoryError(f"{where}: give exactly one of build, file, url (found {', '.join(sources) or 'none'})")
    if f["url"] is not None and f["checksum"] is None:
        raise InventoryError(f"{where}.checksum: required with url (allowed: sha256: and 64 hex digits)")
    if f["url"] is None and f["checksum"] is not None:
        raise InventoryError(f"{where}.checksum: only an image with a url has a checksum (found {sources[0]})")
    return Image(name=f["name"], build=f["build"], file=_image_file(f"{where}.file", f["file"], base),
                 url=f["url"], checksum=f["checksum"], disk_format=f["disk_format"],
                 container_format=f["container_format"], visibility=f["visibility"], login=f["login"])


def _image_file(where: str, text: str | None, base: Path) -> Path | None:
    """A relative `file:` stays inside the inventory's directory (symlinks
    resolved): `../../home/me/disk.img` would upload a private file as an image
    for every project. A file elsewhere is named by its absolute path, on purpose."""
    if text is None:
        return None
    if text.startswith("~"):
        raise InventoryError(f"{where}: {show(text)} starts with ~ (allowed: a path relative to the inventory's "
                             "directory, or an absolute path)")
    if Path(text).is_absolute():
        return Path(text).resolve()
    resolved = (base / text).resolve()
    if not resolved.is_relative_to(base.resolve()):
        raise InventoryError(f"{where}: {show(text)} leads outside the inventory's directory {base} (allowed: a "
                             "path inside it, or an absolute path to name a file elsewhere on purpose)")
    return resolved
