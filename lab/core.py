"""Lab lifecycle: the order in which networks, proxy, base tree, disks and
containers come up and go down. Every piece checks what exists first, so `up`
also repairs a lab whose processes were all killed."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from deploy.inventory import Host, Inventory
from deploy.remote import Remote, RemoteError

from . import disks, hosts, image, network, process, proxy
from .errors import LabError
from .ssh import ensure_key
from .system import check_resources, ensure_tools, require_root, sh

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
    _record(inv, host)
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


RECORD = "host.json"   # in each host's directory: what the lab made it as


def _record(inv: Inventory, host: Host) -> None:
    """Remember the host as made, so that a lab grown by another inventory (day 2:
    a fifth compute) is still stopped and removed whole by this one."""
    path = hosts.host_dir(inv, host) / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": host.name, "address": host.address, "roles": sorted(host.roles),
                                "interfaces": host.interfaces, "public_address": host.public_address}))


def made_hosts(inv: Inventory) -> list[Host]:
    """The inventory's hosts, then every host this lab made that the inventory does not name
    (as recorded when it was made; SSH settings as the inventory's first host's)."""
    named = {h.name for h in inv.hosts}
    extra = []
    for path in sorted((inv.lab.state_dir / "hosts").glob(f"*/{RECORD}")):
        try:
            made = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise LabError(f"{path}: unreadable record of a lab host ({e}): remove the host's directory "
                           "by hand after stopping it") from None
        if made["name"] not in named:
            extra.append(replace(inv.hosts[0], name=made["name"], address=made["address"],
                                 roles=frozenset(made["roles"]), interfaces=made["interfaces"],
                                 public_address=made["public_address"]))
    return [*inv.hosts, *extra]


def find_host(inv: Inventory, name: str) -> Host:
    for host in made_hosts(inv):
        if host.name == name:
            return host
    raise LabError(f"no lab host {name!r} (hosts: {', '.join(h.name for h in made_hosts(inv))})")


# A container's processes die within seconds of SIGKILL when the machine is quiet; seen
# taking over 15 s for the controller's while other hosts' trees were being removed.
KILL_DEADLINE = 120


def _kill(inv: Inventory, host: Host) -> int:
    """SIGKILL to the host's nspawn and every process of its container at once; how many."""
    pids = sorted({*([p] if (p := process.alive(hosts.pidfile(inv, host))) else []), *hosts.strays(inv, host)})
    if pids:
        process.kill_all(pids, f"every process of {host.name}", timeout=KILL_DEADLINE)
    hosts.pidfile(inv, host).unlink(missing_ok=True)
    return len(pids)


def power_cut(inv: Inventory, host: Host) -> int:
    """Stop a host the hard way, as a power cut does: its wires first, so that no peer hears
    the kernel close its connections (a power cut says nothing), then every process of its
    container at once (no shutdown; guests die with it). Its disk, tree and network stay;
    `up` sets the wires up and boots it again. Returns how many processes were killed."""
    require_root()
    if process.alive(hosts.pidfile(inv, host)) is None and not hosts.strays(inv, host):
        raise LabError(f"{host.name} is not running: nothing to cut")
    for link in network.links(inv, host):
        sh(["ip", "link", "set", link.host_side, "down"])   # a wire left up would make this no power cut
    killed = _kill(inv, host)
    log.warning("%s: power cut (%d processes killed)", host.name, killed)
    return killed


def down(inv: Inventory) -> None:
    require_root()
    made = made_hosts(inv)
    with ThreadPoolExecutor(max_workers=len(made)) as pool:
        list(pool.map(lambda h: hosts.stop(inv, h), made))


def destroy(inv: Inventory) -> None:
    """Remove every host the lab made (also those a grown inventory added), mount, loop
    device, bridge, rule and the proxy. Nothing a host holds is kept, so no shutdown is
    waited for: every host's processes are killed at once, then each host's pieces are
    removed, hosts at once. A host that fails is named after the others are removed."""
    require_root()
    made = made_hosts(inv)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(made)) as pool:
        # all killed before any tree is removed: removing trees loads the disk, which slows dying
        unkilled = {h.name: e for h, e in zip(made, pool.map(_error_of(lambda h: _kill(inv, h)), made)) if e}
    log.info("killed every host's processes in %.1fs", time.monotonic() - started)
    made = [h for h in made if h.name not in unkilled]   # a tree still in use is not removed

    def remove(host: Host) -> None:
        begun = time.monotonic()
        hosts.tree_down(inv, host, remove=True)
        if host.has_role("compute"):
            disks.down(inv, host, remove=True)
        network.host_down(inv, host)
        log.info("%s: removed in %.1fs", host.name, time.monotonic() - begun)

    with ThreadPoolExecutor(max_workers=max(len(made), 1)) as pool:
        failed = [f"{name}: {e}" for name, e in unkilled.items()]
        failed += [f"{h.name}: {e}" for h, e in zip(made, pool.map(_error_of(remove), made)) if e]
    proxy.down(inv)
    network.down(inv)
    left = network.leftovers(inv, made)
    if failed or left:
        raise LabError("destroy: " + "; ".join(failed + ([f"left behind: {', '.join(left)}"] if left else [])))


def _error_of(action: Callable[[Host], object]) -> Callable[[Host], Exception | None]:
    def run(host: Host) -> Exception | None:
        try:
            action(host)
        except Exception as e:   # the other hosts are still removed; this one is named at the end
            return e
        return None
    return run


def status(inv: Inventory) -> list[HostStatus]:
    out = []
    for host in made_hosts(inv):
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
