"""Lab lifecycle: the order in which networks, proxy, base tree, disks and
containers come up and go down. Every piece checks what exists first, so `up`
also repairs a lab whose processes were all killed."""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from deploy.inventory import Host, Inventory
from deploy.remote import Remote, RemoteError

from . import disks, hosts, image, network, process, proxy
from .errors import LabError
from .ssh import ensure_key
from .system import check_resources, ensure_tools, require_root

log = logging.getLogger("lab")
BOOT_TIMEOUT = 120


@dataclass
class HostStatus:
    name: str
    address: str
    running: bool
    ssh: bool


def up(inv: Inventory) -> None:
    """Bring every host of the inventory up and answering SSH."""
    started = time.monotonic()
    require_root()
    ensure_tools()
    check_resources(inv.lab.state_dir, disk_gib=6.0, memory_gib=2.0)
    fresh = not network.leftovers(inv)
    if fresh:
        network.check_no_clash(inv)
    try:
        network.up(inv)
        proxy.up(inv)
        base = image.ensure_base(inv.lab.cache_dir, proxy.url(inv))
        public_key = ensure_key(inv.hosts[0].key)
        for host in inv.hosts:
            _host_up(inv, host, base, public_key)
    except Exception:
        if fresh:  # nothing half-made left behind by a first attempt
            log.error("lab up failed; removing what this attempt made")
            destroy(inv)
        raise
    with ThreadPoolExecutor(max_workers=len(inv.hosts)) as pool:
        list(pool.map(lambda h: _wait_ready(inv, h), inv.hosts))
    log.info("lab %s up: %d hosts in %.1fs", inv.lab.name, len(inv.hosts), time.monotonic() - started)


def _host_up(inv: Inventory, host: Host, base, public_key: str) -> None:
    netns_path = network.host_up(inv, host)
    binds = {}
    if host.has_role("compute"):
        binds[str(disks.up(inv, host))] = inv.glusterfs.brick_path
    hosts.tree_up(inv, host, base, public_key, proxy.url(inv))
    hosts.start(inv, host, netns_path, binds)


def _wait_ready(inv: Inventory, host: Host) -> None:
    remote = Remote(host, connect_timeout=BOOT_TIMEOUT)
    try:
        state = remote.run("systemctl is-system-running --wait || true", timeout=BOOT_TIMEOUT).stdout.strip()
    except RemoteError as e:
        console = inv.lab.state_dir / "log" / f"{host.name}.console"
        raise LabError(f"{host.name} did not answer SSH: {e} (console: {console})") from None
    finally:
        remote.close()
    if state not in ("running", "degraded"):
        raise LabError(f"{host.name}: systemd is {state!r} after boot")
    log.info("%s: up (%s)", host.name, state)


def down(inv: Inventory) -> None:
    require_root()
    with ThreadPoolExecutor(max_workers=len(inv.hosts)) as pool:
        list(pool.map(lambda h: hosts.stop(inv, h), inv.hosts))


def destroy(inv: Inventory) -> None:
    """Stop and remove every host, mount, loop device, bridge, rule and the proxy."""
    require_root()
    down(inv)
    for host in inv.hosts:
        hosts.tree_down(inv, host, remove=True)
        if host.has_role("compute"):
            disks.down(inv, host, remove=True)
        network.host_down(inv, host)
    proxy.down(inv)
    network.down(inv)
    left = network.leftovers(inv)
    if left:
        raise LabError(f"destroy left behind: {', '.join(left)}")


def status(inv: Inventory) -> list[HostStatus]:
    out = []
    for host in inv.hosts:
        running = process.alive(hosts.pidfile(inv, host)) is not None
        ssh = False
        if running:
            remote = Remote(host, connect_timeout=3)
            try:
                ssh = remote.run("true", timeout=5).ok
            except RemoteError:
                pass
            finally:
                remote.close()
        out.append(HostStatus(host.name, host.address, running, ssh))
    return out
