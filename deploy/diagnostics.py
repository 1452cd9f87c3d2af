"""When something failed: gather the evidence from every host into one folder.

What is collected is data (COLLECT below): commands run on each host, each
bounded in time and output size, secrets masked before anything is written.
Collection never raises: a host that cannot be reached gets a note saying so,
and the original failure stays the one reported.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .inventory import Host, Inventory
from .known_faults import recognise_by_source
from .remote import Pool
from .secrets import MASK, mask
from .services import config_files, log_dirs

log = logging.getLogger(__name__)

MAX_BYTES = 256 * 1024          # per file written
COMMAND_TIMEOUT = 30            # seconds per command on a host

# Where the OpenStack services (their SPECs), GlusterFS, libvirt and MariaDB/RabbitMQ log.
SERVICE_LOG_DIRS = (*log_dirs(), *(f"/var/log/{d}" for d in ("glusterfs", "libvirt/qemu", "mysql", "rabbitmq")))
# Config files shown (masked): every OpenStack service's, then the hosts' own.
CONFIG_FILES = (*config_files(), "/etc/libvirt/libvirtd.conf", "/etc/libvirt/qemu.conf", "/etc/fstab", "/etc/hosts")

# name of the file -> command, on every host.
COLLECT: dict[str, str] = {
    "failed-units.txt": "systemctl --failed --no-legend --plain || true",
    "failed-units-journal.txt": (
        "for u in $(systemctl --failed --no-legend --plain | awk '{print $1}'); do "
        "echo \"=== $u\"; systemctl status --no-pager -l \"$u\" 2>&1 | tail -n 20; "
        "journalctl -u \"$u\" -n 80 --no-pager 2>&1; done"),
    "journal-errors.txt": "journalctl -p err -n 200 --no-pager 2>&1 || true",
    "service-logs.txt": (
        f"for f in $(ls {' '.join(d + '/*.log' for d in SERVICE_LOG_DIRS)} "
        "2>/dev/null); do echo \"=== $f\"; tail -n 120 \"$f\"; done"),
    "configs.txt": (
        f"for f in $(ls {' '.join(CONFIG_FILES)} 2>/dev/null); "
        "do echo \"=== $f\"; grep -Ev '^[[:space:]]*(#|$)' \"$f\"; done"),
    "listening.txt": "ss -ltnp 2>/dev/null || true",
    # peers and volume info are local reads; volume status is asked on the controller only
    "gluster.txt": "command -v gluster >/dev/null && { gluster peer status; gluster volume info; } 2>&1 "
                   "|| echo 'no gluster here'",
    "mounts.txt": "findmnt -l 2>&1 | grep -E 'gluster|export|nova' || true",
    "virsh.txt": "command -v virsh >/dev/null && virsh -c qemu:///system list --all 2>&1 || echo 'no libvirt here'",
    "firewall.txt": "iptables -S 2>&1; iptables -t nat -S 2>&1",
}

# On the controller: the service tables as the database holds them (answers even
# when the APIs do not; when MariaDB itself is down, that is the evidence).
_SQL = "mysql --connect-timeout=5 -t -e"
COLLECT_CONTROLLER: dict[str, str] = {
    # cluster-wide and takes glusterd's cluster lock: asked on five hosts at once,
    # all but one answered "Another transaction is in progress"
    "gluster-status.txt": "gluster volume status 2>&1; gluster volume status all detail 2>&1",
    "openstack-services.txt": (
        f"{_SQL} \"SELECT host, \\`binary\\`, disabled, updated_at, UTC_TIMESTAMP() AS now_utc "
        "FROM nova.services WHERE deleted=0\" 2>&1; "
        f"{_SQL} \"SELECT host, \\`binary\\`, admin_state_up, heartbeat_timestamp FROM neutron.agents\" 2>&1; "
        f"{_SQL} \"SELECT host, \\`binary\\`, disabled, updated_at FROM cinder.services WHERE deleted=0\" 2>&1; "
        f"{_SQL} \"SELECT host, hypervisor_type, vcpus, memory_mb FROM nova.compute_nodes WHERE deleted=0\" 2>&1"),
}

# Lines like `password = x` or `transport_url = rabbit://u:x@h` in configs.
_SECRET_LINE = re.compile(r"(?im)^(\s*[\w.-]*(password|secret|token|key)[\w.-]*\s*[=:]\s*)(\S.*)$")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")


def scrub(text: str) -> str:
    """Mask the known secrets, and anything that looks like one."""
    text = mask(text)
    text = _SECRET_LINE.sub(lambda m: m.group(1) + MASK, text)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MASK + m.group(3), text)


def _bounded(text: str) -> str:
    data = text.encode(errors="replace")
    if len(data) <= MAX_BYTES:
        return text
    return f"[... {len(data) - MAX_BYTES} bytes cut ...]\n" + data[-MAX_BYTES:].decode(errors="replace")


def write_evidence(path: Path, text: str) -> Path:
    """One piece of evidence, bounded and with secrets masked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_bounded(scrub(text)))
    return path


def collect_host(pool: Pool, host: Host, folder: Path, extra: dict[str, str] | None = None) -> list[Path]:
    """Run every collection command on one host; write one file each."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    unreachable = None
    for name, command in {**COLLECT, **(extra or {})}.items():
        if unreachable:
            text = unreachable
        else:
            try:
                result = pool[host.name].run(command, check=False, timeout=COMMAND_TIMEOUT)
                text = result.stdout + (f"\n[stderr]\n{result.stderr}" if result.stderr.strip() else "")
            except Exception as e:  # evidence gathering must never hide the failure it documents
                text = f"[could not collect from {host.name}: {e}]"
                if getattr(e, "rc", 0) is None:  # no connection: do not wait for it once per command
                    unreachable = text
        written.append(write_evidence(folder / name, text))
    return written


def collect(inventory: Inventory, pool: Pool, folder: Path, hosts: Sequence[Host] | None = None) -> Path:
    """Collect from every host in parallel into folder/HOST/; return the folder."""
    targets = list(hosts or inventory.hosts)
    folder.mkdir(parents=True, exist_ok=True)

    def one(host: Host) -> list[Path]:
        extra = COLLECT_CONTROLLER if host.has_role("controller") else None
        return collect_host(pool, host, folder / host.name, extra)

    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as executor:
        list(executor.map(one, targets))
    log.info("diagnostics from %d hosts in %s", len(targets), folder)
    return folder


def known_faults_in(folder: Path) -> list[str]:
    """Known faults in the collected evidence, as 'host (files): fault: fix'."""
    return [line for source in sorted(p for p in folder.iterdir() if p.is_dir())
            for line in recognise_by_source(source.name, {path.name: path.read_text(errors="replace")
                                                          for path in sorted(source.rglob("*.txt"))}, shown=4)]
