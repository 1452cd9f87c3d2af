"""Running commands on this machine, and the host tools the lab needs."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from . import apt
from .errors import LabError


# command -> Debian package that provides it
TOOLS = {
    "systemd-nspawn": "systemd-container",
    "debootstrap": "debootstrap",
    "squid": "squid",
    "mkfs.xfs": "xfsprogs",
    "iptables": "iptables",
    "ip": "iproute2",
    "ssh-keygen": "openssh-client",
}


def sh(argv: Sequence[str], *, check: bool = True, env: dict | None = None, timeout: float = 600,
       input: str | None = None) -> subprocess.CompletedProcess:
    """Run a command on this machine; a failure is a LabError naming it."""
    p = subprocess.run(list(argv), capture_output=True, text=True, env=env, timeout=timeout, input=input)
    if check and p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        raise LabError(f"{' '.join(argv)} failed (exit {p.returncode}): {' / '.join(tail)}")
    return p


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the embedded lab needs root (containers, bridges, loop mounts): run as root")


def ensure_tools() -> None:
    """Install missing host tools from Debian's packages (the lab's own bootstrap)."""
    try:
        apt.ensure(TOOLS)
    except apt.InstallError as e:
        raise LabError(f"host tools: {e}") from None


def check_resources(state_dir: Path, disk_gib: float, memory_gib: float) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(state_dir).free / 2**30
    if free < disk_gib:
        raise LabError(f"not enough disk for the lab at {state_dir}: {free:.1f} GiB free, {disk_gib:.1f} GiB needed")
    available = 0.0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            available = int(line.split()[1]) / 2**20
    if available < memory_gib:
        raise LabError(f"not enough memory for the lab: {available:.1f} GiB available, {memory_gib:.1f} GiB needed")
