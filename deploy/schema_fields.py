"""Every field of the inventory: type, default, what is allowed. One place:
deploy/inventory.py reads the file through it, and the README's table
"Inventory schema" is `schema_table()` (a self-test keeps the two equal)."""
from __future__ import annotations

from collections.abc import Mapping

from .schema import (REQUIRED, Field, checksum, choice, dns_name_or_ipv4, host_name, host_path, int_range, ipv4,
                     local_path, mirror, network, pattern, proxy, size, url)

ROLES = ("controller", "compute", "gateway")
RECIPES = ("tiny", "debian")
RELEASES = ("zed",)   # what Debian 12 carries; the phases are written for it
DISK_FORMATS = ("qcow2", "raw", "vmdk", "vdi", "vhd", "vhdx", "iso", "ploop", "ami", "ari", "aki")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "docker", "compressed", "ami", "ari", "aki")
VISIBILITIES = ("public", "private", "shared", "community")
# phase 07's flavors; their sizes (and why the disks are small) are in
# deploy/phases/p07_openstack_controller/flavors.py
FLAVOR_NAMES = ("m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge")

USER = r"[a-z_][a-z0-9_-]{0,31}"
USER_TEXT = "a POSIX user name: lowercase letters, digits, _ and -, up to 32"
IFACE_TEXT = "a Linux interface name: 1-15 letters, digits, _ . -, starting with a letter or digit"
PATH_TEXT = "one line of text; relative to the inventory's directory"
LAB_DIR_TEXT = PATH_TEXT + "; not a system or home directory"
HOST_PATH_TEXT = ("an absolute, normalized path of letters, digits, inner spaces and ._+@%,=~- "
                  "(no : or quotes), not a system directory like /var")
VOLUME_TEXT = "a GlusterFS volume name: 1-64 letters, digits, _ and -, starting with a letter or digit"


def _bool(default: bool | None, doc: str | None = None) -> Field:
    return Field("boolean", "true or false", (bool,), default=default, default_doc=doc)


def _iface(default: object = None) -> Field:
    return Field("string", IFACE_TEXT, check=pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}", "is not an interface name"),
                 default=default)


def _port(default: object) -> Field:
    return Field("integer", "an integer 1-65535", (int,), int_range(1, 65535), default)


def _volume(default: str, more: str = "") -> Field:
    return Field("string", VOLUME_TEXT + more, check=pattern(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", "is not a volume name"),
                 default=default)


def _section(fields: Mapping[str, Field], default: object = REQUIRED, allowed: str = "a mapping") -> Field:
    return Field("mapping", allowed, (dict,), default=default, section=fields)


SSH = {
    "user": Field("string", USER_TEXT, check=pattern(USER, "is not a user name"), default="root"),
    "key": Field("path", PATH_TEXT + "; ~ is the home directory", check=local_path, default="~/.ssh/id_ed25519"),
    "port": _port(22),
    "sudo": _bool(None, "true unless user is root"),
    "known_hosts": Field("path", PATH_TEXT + "; ~ is the home directory; the host keys SSH accepts",
                         check=local_path, default=None,
                         default_doc="the lab's state_dir/ssh/known_hosts if embedded, else ~/.ssh/known_hosts"),
    "trust_on_first_use": _bool(False),
}

HOST = {
    "name": Field("string", "a host name: 1-63 lowercase ASCII letters, digits and - (RFC 1123), "
                  "not all digits, not localhost, unique; gateway only for the gateway", check=host_name),
    "address": Field("string", "an IPv4 address inside networks.management.cidr, unique, not its network, "
                     "broadcast or operator address", check=ipv4),
    "roles": Field("list", f"one or more of {', '.join(ROLES)}; exactly one controller and one gateway, "
                   "at least one compute", (list,), item=Field("string", ", ".join(ROLES), check=choice(*ROLES))),
    "interfaces": _section({
        "management": _iface("eth0"),
        "public": _iface(),
        "provider": _iface(),
    }, default={}, allowed="management, public (required on the gateway), provider (gateway only); distinct names"),
    "public_address": Field("string", "an IPv4 address inside networks.public.cidr, below its upper half "
                            "(floating addresses); required on the gateway, needs interfaces.public",
                            check=ipv4, default=None),
    "user": Field("string", USER_TEXT, check=pattern(USER, "is not a user name"), default=None, default_doc="ssh.user"),
    "port": Field("integer", "an integer 1-65535", (int,), int_range(1, 65535), None, "ssh.port"),
    "key": Field("path", PATH_TEXT, check=local_path, default=None, default_doc="ssh.key"),
    "sudo": _bool(None, "ssh.sudo"),
}


def _network(max_prefix: int, operator: bool, allowed: str) -> Field:
    fields = {"cidr": Field("string", f"an IPv4 network ADDRESS/PREFIX, prefix /{max_prefix} or shorter, "
                            "not loopback/link-local/multicast; " + allowed, check=network(max_prefix))}
    if operator:
        fields["operator_address"] = Field("string", "this machine's IPv4 address in the network, not its network "
                                           "or broadcast address; required for the embedded lab",
                                           check=ipv4, default=None)
    return _section(fields)


NETWORKS = {
    "management": _network(30, True, "the hosts' addresses"),
    "public": _network(28, True, "the gateway's public address; its upper half is for floating addresses"),
    "vm": _network(29, False, "the guests' network; no overlap with management or public"),
}

LAB = {
    "embedded": _bool(False),
    "name": Field("string", "1-6 lowercase letters and digits, starting with a letter (it prefixes interface names)",
                  check=pattern(r"[a-z][a-z0-9]{0,5}", "is not a lab name"), default="lab"),
    "state_dir": Field("path", LAB_DIR_TEXT, check=local_path, default=".lab"),
    "cache_dir": Field("path", LAB_DIR_TEXT, check=local_path, default=None, default_doc="STATE_DIR/cache"),
    "brick_size": Field("string", "a size with unit M, G or T, at least 300M (XFS's smallest), like 8G",
                        check=size, default="2G"),
}

GLUSTERFS = {
    "volume": _volume("vm-instances"),
    "replica": Field("integer", "an integer 1-64 dividing the number of compute hosts", (int,), int_range(1, 64)),
    "brick_path": Field("string", HOST_PATH_TEXT, check=host_path, default="/export/gluster"),
    "mount_point": Field("string", HOST_PATH_TEXT + "; not inside brick_path or around it",
                         check=host_path, default="/var/lib/nova/instances"),
    "volumes_volume": _volume("cinder-volumes", "; not the same as volume"),
}

OPENSTACK = {
    "release": Field("string", " or ".join(RELEASES), check=choice(*RELEASES), default="zed"),
    "region": Field("string", "1-64 ASCII letters, digits, inner spaces and ._-",
                    check=pattern(r"[A-Za-z0-9]([A-Za-z0-9 ._-]{0,62}[A-Za-z0-9])?", "is not a region name"),
                    default="RegionOne"),
    "flavors": Field("list", f"names among {', '.join(FLAVOR_NAMES)}, each once (sizes: README \"Flavors\"); "
                     "[] for none", (list,), default=list(FLAVOR_NAMES),
                     default_doc=", ".join(f"`{n}`" for n in FLAVOR_NAMES),
                     item=Field("string", ", ".join(FLAVOR_NAMES), check=choice(*FLAVOR_NAMES))),
}

TIME = {"ntp_servers": Field("list", "host names or IPv4 addresses, each once", (list,), default=[],
                             item=Field("string", "a host name or IPv4 address", check=dns_name_or_ipv4))}

PACKAGES = {
    "mirror": Field("string", "auto (keep the hosts' sources) or an http(s):// URL of a Debian mirror",
                    check=mirror, default="auto"),
    "proxy": Field("string", 'an http:// URL (http://HOST[:PORT][/]) or "" for none', check=proxy, default=""),
}

SECRETS = {
    "file": Field("path", PATH_TEXT + "; the generated passwords; the suite's CA lives beside it (FILE's stem + .pki/). "
                  "Inventories of one cloud share it (a grown copy of the inventory, say)", check=local_path,
                  default=None, default_doc="INVENTORY.secrets.yaml beside the inventory"),
}

IMAGE = {
    "name": Field("string", "1-64 letters, digits and ._-, unique",
                  check=pattern(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", "is not an image name")),
    "build": Field("string", f"a recipe of python -m images: {', '.join(RECIPES)}", check=choice(*RECIPES),
                   default=None),
    "file": Field("path", "a file inside the inventory's directory (relative), or anywhere by an absolute path",
                  check=local_path, default=None),
    "url": Field("string", "an http(s):// URL; needs checksum", check=url(("http", "https")), default=None),
    "checksum": Field("string", "sha256: and 64 hex digits; with url only", check=checksum, default=None),
    "disk_format": Field("string", ", ".join(DISK_FORMATS), check=choice(*DISK_FORMATS), default="qcow2"),
    "container_format": Field("string", ", ".join(CONTAINER_FORMATS), check=choice(*CONTAINER_FORMATS),
                              default="bare"),
    "visibility": Field("string", ", ".join(VISIBILITIES), check=choice(*VISIBILITIES), default="public"),
    "login": Field("string", USER_TEXT, check=pattern(USER, "is not a user name"), default=None),
}

SCHEMA = {
    "lab": _section(LAB, default={}),
    "ssh": _section(SSH, default={}),
    "networks": _section(NETWORKS, allowed="management, public, vm"),
    "hosts": Field("list", "one or more hosts", (list,)),
    "glusterfs": _section(GLUSTERFS),
    "openstack": _section(OPENSTACK, default={}),
    "time": _section(TIME, default={}),
    "packages": _section(PACKAGES, default={}),
    "secrets": _section(SECRETS, default={}),
    "images": Field("list", "images for Glance, each with exactly one of build, file, url", (list,), default=[]),
}
ITEMS = {"hosts": HOST, "images": IMAGE}   # lists of mappings, read one item at a time


def _default(field: Field) -> str:
    if field.default_doc is not None:
        return field.default_doc
    if field.default is REQUIRED:
        return "required"
    if field.default is None or field.default == {}:
        return "-"
    if isinstance(field.default, bool):
        return str(field.default).lower()
    return f"`{field.default!r}`" if field.default in ("", []) else f"`{field.default}`"


def _rows(prefix: str, fields: Mapping[str, Field]) -> list[str]:
    rows = []
    for key, field in fields.items():
        path = f"{prefix}{key}"
        if field.section is not None:
            rows += _rows(path + ".", field.section)
        elif path in ITEMS:
            rows += _rows(path + "[].", ITEMS[path])
        else:
            rows.append(f"| `{path}` | {field.kind} | {_default(field)} | {field.allowed} |")
    return rows


def schema_table() -> str:
    """The README's table: one row per field."""
    return "\n".join(["| field | type | default | allowed |", "| --- | --- | --- | --- |", *_rows("", SCHEMA)])
