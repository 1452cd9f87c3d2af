"""The inventory: which hosts exist, what they are, and how the cloud is laid out.

`load_inventory(path)` reads the YAML file into frozen dataclasses and validates
it completely before anything touches a host. Every problem is an
`InventoryError` whose one-line message names the file and the field at fault.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROLES = ("controller", "compute", "gateway")


class InventoryError(ValueError):
    """A problem in the inventory file; the message names the field."""


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


IMAGE_KEYS = {"name", "build", "file", "url", "checksum", "disk_format", "container_format", "visibility", "login"}
RECIPES = ("tiny", "debian")


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
        """Generated passwords live beside the inventory, one file per inventory."""
        return self.path.with_name(self.path.stem + ".secrets.yaml")


# ---------------------------------------------------------------- YAML reading
class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; an inventory must not."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise InventoryError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _image(i: int, item: Any, base: Path) -> Image:
    f = _Fields(f"images[{i}]", item, IMAGE_KEYS)
    sources = [k for k in ("build", "file", "url") if k in f.data]
    if len(sources) != 1:
        raise InventoryError(f"images[{i}]: give exactly one of build, file, url (found {sources or 'none'})")
    build = f.get("build", str, None)
    if build is not None and build not in RECIPES:
        raise InventoryError(f"images[{i}].build: unknown recipe {build!r} (recipes: {', '.join(RECIPES)})")
    url = f.get("url", str, None)
    checksum = f.get("checksum", str, None)
    if url and not (checksum and checksum.startswith("sha256:") and len(checksum) == 71):
        raise InventoryError(f"images[{i}].checksum: a url needs checksum: sha256:<64 hex digits>")
    file = f.get("file", str, None)
    return Image(name=f.get("name", str), build=build, file=(base / file).resolve() if file else None,
                 url=url, checksum=checksum, disk_format=f.get("disk_format", str, "qcow2"),
                 container_format=f.get("container_format", str, "bare"),
                 visibility=f.get("visibility", str, "public"), login=f.get("login", str, None))


class _Fields:
    """Reads one mapping of the file, remembering its dotted path for messages."""

    def __init__(self, where: str, data: Any, allowed: set[str]):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InventoryError(f"{where}: expected a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InventoryError(f"{where}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")
        self.where, self.data = where, data

    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise InventoryError(f"{self.name(key)}: required")
            return default
        value = self.data[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise InventoryError(f"{self.name(key)}: expected {want}, got {value!r}")
        return value

    def address(self, key: str, default: Any = ...) -> str | None:
        value = self.get(key, str, default)
        if value is None:
            return None
        try:
            return str(ipaddress.IPv4Address(value))
        except ValueError:
            raise InventoryError(f"{self.name(key)}: {value!r} is not an IPv4 address") from None

    def network(self, key: str) -> ipaddress.IPv4Network:
        value = self.get(key, str)
        try:
            return ipaddress.IPv4Network(value)
        except ValueError as e:
            raise InventoryError(f"{self.name(key)}: {value!r} is not a network ({e})") from None


# ---------------------------------------------------------------- loading
TOP_KEYS = {"lab", "ssh", "networks", "hosts", "glusterfs", "openstack", "time", "packages", "images"}
HOST_KEYS = {"name", "address", "roles", "interfaces", "public_address", "user", "port", "key", "sudo"}


def load_inventory(path: str | os.PathLike, *, check_keys: bool = True) -> Inventory:
    """Read and validate an inventory file. Raises InventoryError naming the field.

    `check_keys=False` skips the readability check of SSH key files, for callers
    that only print a plan, and for the embedded lab, which creates its key.
    """
    path = Path(path).resolve()
    try:
        text = path.read_text()
    except OSError as e:
        raise InventoryError(f"{path}: cannot read inventory ({e.strerror})") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except InventoryError as e:
        raise InventoryError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        raise InventoryError(f"{path}: not valid YAML: {str(e).splitlines()[0]}") from None
    try:
        inventory = _parse(path, raw)
        _validate(inventory)
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


def _parse(path: Path, raw: Any) -> Inventory:
    top = _Fields("", raw, TOP_KEYS)
    base = path.parent

    lab_f = _Fields("lab", top.get("lab", dict, {}), {"embedded", "name", "state_dir", "cache_dir", "brick_size"})
    state_dir = (base / lab_f.get("state_dir", str, ".lab")).resolve()
    lab = Lab(
        embedded=lab_f.get("embedded", bool, False),
        name=lab_f.get("name", str, "lab"),
        state_dir=state_dir,
        cache_dir=(base / lab_f.get("cache_dir", str, str(state_dir / "cache"))).resolve(),
        brick_size=str(lab_f.get("brick_size", (str, int), "2G")),
    )

    ssh = _Fields("ssh", top.get("ssh", dict, {}), {"user", "key", "port", "sudo", "known_hosts", "trust_on_first_use"})
    # the embedded lab writes the host keys it generates there
    known_hosts = base / Path(ssh.get("known_hosts", str, str(state_dir / "ssh/known_hosts") if lab.embedded
                                      else "~/.ssh/known_hosts")).expanduser()
    trust_on_first_use = ssh.get("trust_on_first_use", bool, False)
    ssh_user = ssh.get("user", str, "root")
    ssh_key = ssh.get("key", str, "~/.ssh/id_ed25519")
    ssh_port = ssh.get("port", int, 22)
    ssh_sudo = ssh.get("sudo", bool, None)  # None: sudo exactly when the user is not root

    nets = _Fields("networks", top.get("networks", dict), {"management", "public", "vm"})
    networks = {}
    for key in ("management", "public", "vm"):
        f = _Fields(f"networks.{key}", nets.get(key, dict), {"cidr", "operator_address"})
        networks[key] = Network(f.network("cidr"), f.address("operator_address", None))

    raw_hosts = top.get("hosts", list)
    hosts = []
    for i, item in enumerate(raw_hosts):
        name = item.get("name") if isinstance(item, dict) else None
        f = _Fields(f"hosts[{i}] ({name})" if isinstance(name, str) else f"hosts[{i}]", item, HOST_KEYS)
        name = f.get("name", str)
        roles = f.get("roles", list)
        for role in roles:
            if role not in ROLES:
                raise InventoryError(f"{f.name('roles')}: unknown role {role!r} (roles: {', '.join(ROLES)})")
        interfaces = _Fields(f.name("interfaces"), f.get("interfaces", dict, {}), {"management", "public", "provider"})
        ifaces = {k: interfaces.get(k, str) for k in interfaces.data}
        ifaces.setdefault("management", "eth0")
        hosts.append(Host(
            name=name,
            address=f.address("address"),
            roles=frozenset(roles),
            user=(user := f.get("user", str, ssh_user)),
            port=f.get("port", int, ssh_port),
            key=(base / Path(f.get("key", str, ssh_key)).expanduser()).resolve(),
            sudo=_sudo(f, ssh_sudo, user),
            interfaces=ifaces,
            public_address=f.address("public_address", None),
            known_hosts=known_hosts,
            trust_on_first_use=trust_on_first_use,
        ))

    gf = _Fields("glusterfs", top.get("glusterfs", dict), {"volume", "replica", "brick_path", "mount_point",
                                                          "volumes_volume"})
    glusterfs = GlusterFS(
        volume=gf.get("volume", str, "vm-instances"),
        replica=gf.get("replica", int),
        brick_path=gf.get("brick_path", str, "/export/gluster"),
        mount_point=gf.get("mount_point", str, "/var/lib/nova/instances"),
        volumes_volume=gf.get("volumes_volume", str, "cinder-volumes"),
    )
    if glusterfs.volumes_volume == glusterfs.volume:
        raise InventoryError(f"{gf.name('volumes_volume')}: must differ from glusterfs.volume "
                             f"({glusterfs.volume!r}): Cinder's volumes get a GlusterFS volume of their own")
    os_f = _Fields("openstack", top.get("openstack", dict, {}), {"release", "region"})
    time_f = _Fields("time", top.get("time", dict, {}), {"ntp_servers"})
    pkg = _Fields("packages", top.get("packages", dict, {}), {"mirror", "proxy"})
    images = [_image(i, item, base) for i, item in enumerate(top.get("images", list, []))]
    names = [im.name for im in images]
    for name in names:
        if names.count(name) > 1:
            raise InventoryError(f"images[{names.index(name)}].name: {name!r} named twice")

    return Inventory(
        path=path,
        hosts=tuple(hosts),
        management=networks["management"],
        public=networks["public"],
        vm=networks["vm"],
        glusterfs=glusterfs,
        lab=lab,
        region=os_f.get("region", str, "RegionOne"),
        release=os_f.get("release", str, "zed"),
        ntp_servers=tuple(time_f.get("ntp_servers", list, [])),
        package_mirror=pkg.get("mirror", str, "auto"),
        package_proxy=pkg.get("proxy", str, ""),
        images=tuple(images),
    )


def _sudo(f: _Fields, default: bool | None, user: str) -> bool:
    explicit = f.get("sudo", bool, default)
    return explicit if explicit is not None else user != "root"


def _validate(inv: Inventory) -> None:
    if not inv.hosts:
        raise InventoryError("hosts: at least one host is required")
    seen_names: dict[str, int] = {}
    seen_addresses: dict[str, str] = {}
    for i, host in enumerate(inv.hosts):
        where = f"hosts[{i}] ({host.name})"
        if not host.name.replace("-", "").isalnum() or host.name[0] == "-":
            raise InventoryError(f"{where}.name: {host.name!r} is not a valid host name")
        if host.name in seen_names:
            raise InventoryError(f"{where}.name: duplicate host name, already used by hosts[{seen_names[host.name]}]")
        seen_names[host.name] = i
        if host.address in seen_addresses:
            raise InventoryError(f"{where}.address: {host.address} is already the address of {seen_addresses[host.address]}")
        seen_addresses[host.address] = host.name
        if ipaddress.IPv4Address(host.address) not in inv.management.cidr:
            raise InventoryError(f"{where}.address: {host.address} is outside networks.management.cidr {inv.management.cidr}")
        if not host.roles:
            raise InventoryError(f"{where}.roles: at least one role is required")
        if "gateway" in host.roles:
            if not host.public_interface:
                raise InventoryError(f"{where}.interfaces.public: required on the gateway")
            if not host.public_address:
                raise InventoryError(f"{where}.public_address: required on the gateway")
        if len(set(host.interfaces.values())) != len(host.interfaces):
            raise InventoryError(f"{where}.interfaces: one interface named for two networks: {host.interfaces}")
            if ipaddress.IPv4Address(host.public_address) not in inv.public.cidr:
                raise InventoryError(f"{where}.public_address: {host.public_address} is outside networks.public.cidr {inv.public.cidr}")
    for role in ("controller", "gateway"):
        count = len(inv.with_role(role))
        if count != 1:
            raise InventoryError(f"hosts: exactly one host must have role {role!r}, found {count}")
    for i, host in enumerate(inv.hosts):
        if "provider" in host.interfaces and not host.has_role("gateway"):
            raise InventoryError(f"hosts[{i}] ({host.name}).interfaces.provider: only the gateway has a provider interface")
    computes = inv.with_role("compute")
    if not computes:
        raise InventoryError("hosts: at least one host must have role 'compute'")
    replica = inv.glusterfs.replica
    if replica < 1 or len(computes) % replica:
        raise InventoryError(
            f"glusterfs.replica: {replica} does not fit the {len(computes)} compute hosts "
            "(their number must be a multiple of the replica count)")
    for key, net in (("management", inv.management), ("public", inv.public)):
        op = net.operator_address
        if op is not None and ipaddress.IPv4Address(op) not in net.cidr:
            raise InventoryError(f"networks.{key}.operator_address: {op} is outside {net.cidr}")
    if inv.management.cidr.overlaps(inv.public.cidr):
        raise InventoryError("networks.public.cidr: overlaps networks.management.cidr")
    if not (inv.lab.name.isalnum() and inv.lab.name.islower() and len(inv.lab.name) <= 6):
        raise InventoryError(f"lab.name: {inv.lab.name!r} must be 1-6 lowercase letters or digits (it prefixes interface names)")
    for key in ("brick_path", "mount_point"):
        if not getattr(inv.glusterfs, key).startswith("/"):
            raise InventoryError(f"glusterfs.{key}: must be an absolute path")
    if inv.package_proxy and not inv.package_proxy.startswith("http://"):
        raise InventoryError(f"packages.proxy: {inv.package_proxy!r} must be an http:// URL or empty")
