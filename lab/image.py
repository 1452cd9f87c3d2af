"""The base tree every lab host starts from: Debian 12 minbase with systemd
and SSH, built once by debootstrap (through the lab's proxy) and cached."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from pathlib import Path

from .mirror import machine_sources, main_archive, sources_list
from .system import sh

log = logging.getLogger("lab.image")

SUITE = "bookworm"
INCLUDE = ["systemd", "systemd-sysv", "dbus", "openssh-server", "iproute2", "python3", "ca-certificates",
           "iputils-ping", "procps", "netbase", "kmod", "less"]


CONFIG_VERSION = 2  # bump when _configure changes: the cached tree is then rebuilt


def recipe() -> str:
    return f"debootstrap --variant=minbase --include={','.join(INCLUDE)} {SUITE} (config {CONFIG_VERSION})"


def base_dir(cache_dir: Path) -> Path:
    digest = hashlib.sha256(recipe().encode()).hexdigest()[:12]
    return cache_dir / f"base-{SUITE}-{digest}"


def ensure_base(cache_dir: Path, proxy_url: str) -> Path:
    """The cached base tree; built (into a temporary dir, renamed when done) if missing."""
    final = base_dir(cache_dir)
    if (final / "etc" / "os-release").exists():
        return final
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    sources = machine_sources()
    started = time.monotonic()
    log.info("building the base tree (%s) via %s", recipe(), proxy_url)
    env = {**os.environ, "http_proxy": proxy_url, "DEBIAN_FRONTEND": "noninteractive"}
    sh(["debootstrap", "--variant=minbase", f"--include={','.join(INCLUDE)}", SUITE, str(tmp),
        main_archive(sources)], env=env, timeout=1800)
    _configure(tmp, sources_list(sources))
    tmp.rename(final)
    log.info("base tree built in %.0fs: %s", time.monotonic() - started, final)
    _drop_stale(cache_dir, final)
    return final


def _drop_stale(cache_dir: Path, keep: Path) -> None:
    """Older base trees, unless a lab's overlay still stands on one."""
    mounts = Path("/proc/mounts").read_text()
    for old in cache_dir.glob(f"base-{SUITE}-*"):
        if old != keep and f"lowerdir={old}" not in mounts:
            shutil.rmtree(old, ignore_errors=True)


def _configure(root: Path, sources: str) -> None:
    """What every lab host shares; the proxy, which depends on the lab, is per host."""
    (root / "etc/apt/sources.list").write_text(sources)
    (root / "etc/apt/apt.conf.d/00embedded-lab").write_text(
        "// The mirror may serve a dated snapshot, as on the machine itself.\n"
        'Acquire::Check-Valid-Until "false";\n'
        'APT::Install-Recommends "false";\n')
    # Each host gets its own identity at first boot of its tree.
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/machine-id").write_text("")
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/hostname").unlink(missing_ok=True)
    # Clean apt's downloads: every host would otherwise carry them in its lower layer.
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
