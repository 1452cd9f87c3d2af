"""A caching HTTP proxy (squid) for the lab's hosts: it listens on the
machine's management address only and fetches only from the Debian mirror
this machine uses. Its cache lives in the shared cache dir, kept by destroy."""
from __future__ import annotations

import logging
import shutil
import socket
from pathlib import Path

from deploy.inventory import Inventory
from deploy.waits import wait_for

from . import process
from .mirror import machine_sources, mirror_hosts
from .system import sh

log = logging.getLogger("lab.proxy")
PORT = 3128


def paths(inv: Inventory) -> dict[str, Path]:
    run = inv.lab.state_dir / "run"
    return {"conf": run / "squid.conf", "pid": run / "squid.pid", "squidpid": run / "squid.own.pid",
            "log": inv.lab.state_dir / "log" / "squid.log", "cache": inv.lab.cache_dir / f"proxy-{inv.lab.name}"}


def url(inv: Inventory) -> str:
    return f"http://{inv.management.operator_address}:{PORT}"


def config(inv: Inventory) -> str:
    p = paths(inv)
    hosts = " ".join(mirror_hosts(machine_sources()))
    return f"""# Written by the embedded lab. Only the lab's hosts, only the Debian mirror.
http_port {inv.management.operator_address}:{PORT}
acl lab src {inv.management.cidr} {inv.management.operator_address}
acl mirror dstdomain {hosts}
acl Safe_ports port 80
http_access deny !Safe_ports
http_access deny CONNECT
http_access allow lab mirror
http_access deny all
cache_dir ufs {p['cache']} 8000 16 256
maximum_object_size 1 GB
cache_mem 64 MB
cache_replacement_policy heap LFUDA
# Package files never change under the same name; indexes do.
refresh_pattern -i \\.(deb|udeb)$ 525600 100% 525600 override-expire
refresh_pattern -i (Release|InRelease|Packages|Sources|Translation|\\.diff/Index)(\\.(gz|bz2|xz))?$ 0 0% 0
refresh_pattern . 0 20% 4320
pid_filename {p['squidpid']}
access_log stdio:{p['log'].with_name('squid-access.log')}
cache_log {p['log'].with_name('squid-cache.log')}
coredump_dir {p['cache']}
shutdown_lifetime 2 seconds
"""


def _answers(inv: Inventory) -> bool:
    try:
        socket.create_connection((inv.management.operator_address, PORT), timeout=1).close()
        return True
    except OSError:
        return False


def up(inv: Inventory) -> None:
    p = paths(inv)
    text = config(inv)
    changed = not p["conf"].exists() or p["conf"].read_text() != text
    p["conf"].parent.mkdir(parents=True, exist_ok=True)
    p["log"].parent.mkdir(parents=True, exist_ok=True)
    p["conf"].write_text(text)
    if process.alive(p["pid"]) and not changed:
        return
    process.stop(p["pid"], "squid", grace=10)
    p["squidpid"].unlink(missing_ok=True)  # a killed squid leaves it; a stale one stops the next start
    p["cache"].mkdir(parents=True, exist_ok=True)
    shutil.chown(p["cache"], "proxy", "proxy")
    for log_file in (p["log"].with_name("squid-access.log"), p["log"].with_name("squid-cache.log")):
        log_file.touch()
        shutil.chown(log_file, "proxy", "proxy")
    if not (p["cache"] / "00").exists():
        sh(["squid", "-f", str(p["conf"]), "-z", "-N"], timeout=120)
    process.start(["/usr/sbin/squid", "-f", str(p["conf"]), "-N"], p["pid"], p["log"])
    wait_for(lambda: _answers(inv), 60, f"squid on {url(inv)}")
    log.info("package proxy up on %s", url(inv))


def down(inv: Inventory) -> None:
    process.stop(paths(inv)["pid"], "squid", grace=15)
