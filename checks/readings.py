"""What the checks read, turned into verdicts: small pure functions over the
text a host or an API answered, so that each verdict is self-tested against
the broken case too (tests/test_readings.py). A function returns None (or an
empty list) when all is well, else what is wrong, in words that name it."""
from __future__ import annotations

import configparser
import json
import re
import xml.etree.ElementTree as ET

CAP_SYS_TIME = 25          # linux/capability.h
NOVA_DEFAULT_VIRT_TYPE = "kvm"  # nova's [libvirt] virt_type when no file sets it


# ------------------------------------------------------------------ NAT
def nat_source_problem(peer: str | None, client: str, client_address: str, gateway: str,
                       gateway_public: str, failure: str = "") -> str | None:
    """Where a connection from `client` (behind the gateway) to a listener on the
    public network came from: it must be the gateway's public address."""
    where = f"NAT on the gateway {gateway}: "
    if peer is None:
        return where + (f"{client} could not connect to the listener on the public network "
                        f"({failure or 'no connection'})")
    if peer == client_address:
        return where + (f"the connection from {client} arrived from {client}'s own address {peer}: the gateway "
                        "forwards it without masquerading (MASQUERADE on the wrong interface, or shadowed)")
    if peer != gateway_public:
        return where + (f"the connection from {client} arrived from {peer}, not the gateway's public address "
                        f"{gateway_public}")
    return None


# ------------------------------------------------------------------ API endpoints
def version_document_problem(status: int, body: str) -> str | None:
    """An endpoint's version document: 200 or 300 (multiple choices) with JSON holding `version` or `versions`."""
    if status not in (200, 300):
        return f"HTTP {status}, not a version document"
    try:
        doc = json.loads(body)
    except ValueError:
        return f"HTTP {status} but not JSON: {body[:80]!r}"
    if not isinstance(doc, dict) or not ({"version", "versions"} & set(doc)):
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        return f"HTTP {status}, JSON without 'version' or 'versions' ({keys})"
    return None


def version_url(catalog_url: str) -> str:
    """The catalog URL without its project part (`/v3/%(project_id)s` -> `/v3`), where the version document is."""
    return re.sub(r"/?%\((project_id|tenant_id)\)s", "", catalog_url)


# ------------------------------------------------------------------ time
def clock_skew_bound(before: float, remote: float, after: float) -> float:
    """How far the remote clock is off at least: how far its reading lies outside
    the window [before, after] of the round trip that fetched it (0 inside it).
    A slow round trip widens the window; it never makes a good clock look bad."""
    return max(before - remote, remote - after, 0.0)


def can_set_clock(proc_status: str) -> bool:
    """Whether CAP_SYS_TIME is in the bounding set shown by /proc/PID/status (CapBnd)."""
    found = re.search(r"^CapBnd:\s*([0-9a-fA-F]+)$", proc_status, re.M)
    return bool(found) and bool(int(found[1], 16) >> CAP_SYS_TIME & 1)


def chrony_problem(host: str, running: bool, sources_csv: str, tracking_csv: str,
                   servers: tuple[str, ...]) -> str | None:
    """chronyd runs and is synchronised, to one of the inventory's servers if it names any.
    `sources_csv`: `chronyc -c -N sources`; `tracking_csv`: `chronyc -c tracking`."""
    if not running:
        return (f"{host}: chronyd is not running, though the host can set its clock (CAP_SYS_TIME). "
                f"Fix: `systemctl start chrony` on {host} (or re-run the deploy); read `journalctl -u chrony`")
    rows = [line.split(",") for line in sources_csv.splitlines() if line.count(",") >= 2]
    selected = [r[2] for r in rows if r[1] == "*"]
    listed = ", ".join(f"{r[2]} ({r[1]})" for r in rows) or "none"
    fields = tracking_csv.strip().split(",")
    leap = fields[-1] if len(fields) >= 14 else "unknown"  # the last of tracking's 14 fields
    if not selected or leap != "Normal":
        return f"{host}: chronyd is not synchronised (leap status {leap}; sources: {listed})"
    if servers and selected[0] not in servers:
        return (f"{host}: chronyd is synchronised to {selected[0]}, not to one of the inventory's servers "
                f"{list(servers)}")
    return None


# ------------------------------------------------------------------ hypervisor
def domain_type(domain_xml: str) -> str:
    """The `type` of a libvirt domain (`virsh dumpxml`): kvm or qemu."""
    return ET.fromstring(domain_xml).get("type", "")


def host_domain_type(cpu_virt_flags: int, dev_kvm: bool) -> str:
    """What the host can run: kvm only with vmx/svm in /proc/cpuinfo and a /dev/kvm; else qemu."""
    return "kvm" if cpu_virt_flags > 0 and dev_kvm else "qemu"


def config_files(cmdline: list[str], listdir=None) -> list[str]:
    """The config files an oslo.config program reads, in order, from its command line
    (`--config-file F`, `--config-dir D`: D's *.conf sorted); oslo's default if none."""
    files: list[str] = []
    args = iter(cmdline)
    for arg in args:
        for option in ("--config-file", "--config-dir"):
            if arg == option or arg.startswith(option + "="):
                value = arg.split("=", 1)[1] if "=" in arg else next(args, "")
                files += [value] if option == "--config-file" else sorted((listdir or (lambda d: []))(value))
    return files or ["/etc/nova/nova.conf"]


def effective_virt_type(files: list[tuple[str, str]]) -> tuple[str, str]:
    """Nova's [libvirt] virt_type as the files (path, text), read in order, leave it: (value, where set)."""
    value, where = NOVA_DEFAULT_VIRT_TYPE, "nova's default"
    for path, text in files:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read_string(text, source=path)
        except configparser.Error as e:
            raise ValueError(f"{path}: not a config file nova can read: {e}") from None
        if parser.has_option("libvirt", "virt_type"):
            value, where = parser.get("libvirt", "virt_type").strip(), path
    return value, where


# ------------------------------------------------------------------ GlusterFS
def replica_layout_problems(info: str, volume: str, computes: list[str], brick_path: str, replica: int,
                            owner_uid: int) -> list[str]:
    """`gluster volume info VOLUME`: a started replica over one brick per compute under
    `brick_path`, each replica set on distinct hosts, the virt option group, owned by its service."""
    wrong = []
    kind = re.search(r"^Type: (\S+)", info, re.M)
    if not kind or kind[1] not in ("Replicate", "Distributed-Replicate"):
        wrong.append(f"type {kind[1] if kind else 'unknown'}, not replicated")
    n = len(computes)
    layout = f"{n // replica} x {replica} = {n}"
    count = re.search(r"^Number of Bricks: (.*)$", info, re.M)
    if not count or count[1].strip() != layout:
        wrong.append(f"bricks {count[1].strip() if count else 'unknown'}, expected {layout}")
    if not re.search(r"^Status: Started$", info, re.M):
        wrong.append("not started")
    bricks = re.findall(r"^Brick\d+: ([^:\s]+):(\S+)$", info, re.M)
    hosts = [h for h, _ in bricks]
    if sorted(hosts) != sorted(computes):
        wrong.append(f"bricks on {hosts}, expected one on each of {computes}")
    outside = [f"{h}:{p}" for h, p in bricks if not p.startswith(brick_path.rstrip("/") + "/")]
    if outside:
        wrong.append(f"bricks outside {brick_path}: {outside}")
    for i in range(0, len(hosts), replica):
        group = hosts[i:i + replica]
        if len(set(group)) != len(group):
            wrong.append(f"replica set {i // replica + 1} has two copies on one host: {group}")
    if not re.search(r"^features\.shard: on$", info, re.M):
        wrong.append("the virt option group is not applied (features.shard is not on)")
    if not re.search(rf"^storage\.owner-uid: {owner_uid}$", info, re.M):
        wrong.append(f"its root is not owned by uid {owner_uid}")
    return [f"{volume}: {w}" for w in wrong]
