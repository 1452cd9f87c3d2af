"""One systemd-nspawn container per inventory host: its tree is an overlay on
the cached base tree, with its own hostname, machine-id, SSH host keys and
the operator's key; it boots systemd in the host's network namespace."""
from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from deploy.inventory import Host, Inventory

from . import network, process, ssh
from .system import sh

log = logging.getLogger("lab.hosts")


def host_dir(inv: Inventory, host: Host) -> Path:
    return inv.lab.state_dir / "hosts" / host.name


def root(inv: Inventory, host: Host) -> Path:
    return host_dir(inv, host) / "root"


def pidfile(inv: Inventory, host: Host) -> Path:
    return inv.lab.state_dir / "run" / f"{host.name}.pid"


def _mounted(path: Path) -> bool:
    return sh(["findmnt", "-n", str(path)], check=False).returncode == 0


def tree_up(inv: Inventory, host: Host, base: Path, public_key: str, proxy_url: str) -> Path:
    """Mount the host's overlay tree; give it its identity the first time."""
    d = host_dir(inv, host)
    stamp = d / "base"
    if stamp.exists() and stamp.read_text() != str(base):
        raise_rebuild = f"{host.name}: its tree was made from another base ({stamp.read_text()}); run `python -m lab destroy`"
        from .errors import LabError
        raise LabError(raise_rebuild)
    for sub in ("upper", "work", "root"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    stamp.write_text(str(base))
    merged = root(inv, host)
    if not _mounted(merged):
        sh(["mount", "-t", "overlay", "overlay", "-o",
            f"lowerdir={base},upperdir={d / 'upper'},workdir={d / 'work'}", str(merged)])
    generated = not (d / "identity").exists()
    if generated:
        _identity(inv, host, merged, public_key, proxy_url)
        (d / "identity").write_text(host.name)
    ssh.record_host_keys(host, merged, generated=generated)
    _container_settings(merged)
    return merged


LOGIND_DROPIN = """\
# Written by the embedded lab. In these containers a user manager (user@0)
# that stops after the last SSH session hangs until its 90 s stop timeout, and
# every SSH login meanwhile waits for it: keep it running instead.
[Login]
UserStopDelaySec=infinity
"""


def _container_settings(merged: Path) -> None:
    """What the container needs beside the identity; rewritten at every up, so
    trees made by an older lab get it too (effective from the host's next boot)."""
    dropin = merged / "etc/systemd/logind.conf.d/50-embedded-lab.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    if not dropin.exists() or dropin.read_text() != LOGIND_DROPIN:
        dropin.write_text(LOGIND_DROPIN)


def _identity(inv: Inventory, host: Host, merged: Path, public_key: str, proxy_url: str) -> None:
    (merged / "etc/hostname").write_text(host.name + "\n")
    (merged / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
    # minbase writes no /etc/hosts; GlusterFS's localhost mounts need one.
    (merged / "etc/hosts").write_text(f"127.0.0.1\tlocalhost\n{host.address}\t{host.name}\n")
    # debootstrap copied the machine's resolver, which the lab cannot reach: a
    # lookup would wait for it to time out. No nameserver: names come from /etc/hosts.
    resolv = merged / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    resolv.write_text("# The embedded lab has no DNS: host names come from /etc/hosts.\n")
    (merged / "etc/apt/apt.conf.d/01embedded-lab-proxy").write_text(
        f'// The embedded lab: packages only through the machine\'s proxy.\nAcquire::http::Proxy "{proxy_url}";\n')
    ssh_dir = merged / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(public_key + "\n")
    (ssh_dir / "authorized_keys").chmod(0o600)
    sh(["ssh-keygen", "-A", "-f", str(merged)])
    for key in (merged / "etc/ssh").glob("ssh_host_*"):
        key.chmod(0o600 if not key.name.endswith(".pub") else 0o644)


def strays(inv: Inventory, host: Host) -> list[int]:
    """Processes of the host's container that outlived their nspawn (its init was
    orphaned when nspawn was killed): those in the host's network namespace, and
    everything they started."""
    try:
        inode = os.stat(f"/run/netns/{network.netns(inv, host)}").st_ino
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.stat(entry / "ns" / "net").st_ino == inode:
                    found.append(int(entry.name))
            except OSError:
                continue
    return sorted({p for pid in found for p in [pid, *process.descendants(pid)]})


def _kill_strays(inv: Inventory, host: Host) -> None:
    pids = strays(inv, host)
    if pids:
        log.warning("%s: killing %d processes left from a container whose nspawn died", host.name, len(pids))
        process.kill_all(pids, f"leftovers of {host.name}")


def start(inv: Inventory, host: Host, netns_path: str, binds: dict[str, str]) -> int:
    """Boot the container unless it runs already; returns its nspawn pid."""
    pid = process.alive(pidfile(inv, host))
    if pid:
        return pid
    _kill_strays(inv, host)
    argv = ["/usr/bin/systemd-nspawn", "--boot", "--keep-unit", "--register=no",
            f"--machine={inv.lab.name}-{host.name}", f"--hostname={host.name}",
            f"--directory={root(inv, host)}", f"--network-namespace-path={netns_path}",
            "--capability=all", "--drop-capability=CAP_SYS_TIME",
            "--resolv-conf=off", "--timezone=off", "--link-journal=no", "--console=read-only",
            "--bind=/dev/fuse", "--bind=/dev/net/tun"]
    if "vmx" in Path("/proc/cpuinfo").read_text().split() or "svm" in Path("/proc/cpuinfo").read_text().split():
        argv.append("--bind=/dev/kvm")  # only where hardware virtualization is really there
    argv += [f"--bind={src}:{dst}" for src, dst in binds.items()]
    log_file = inv.lab.state_dir / "log" / f"{host.name}.console"
    # nspawn keeps /proc/sys read-only when it did not make the network namespace
    # itself; the host's own namespace is ours to configure (forwarding, bridges).
    env = {**os.environ, "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"}
    pid = process.start(argv, pidfile(inv, host), log_file, env=env)
    log.info("%s: booting (nspawn pid %d, console %s)", host.name, pid, log_file)
    return pid


def stop(inv: Inventory, host: Host) -> None:
    # SIGTERM asks nspawn to shut the container down cleanly; a host still
    # running a guest may not stop in time, then the tree is killed.
    process.stop(pidfile(inv, host), f"container {host.name}", grace=20)
    _kill_strays(inv, host)


def tree_down(inv: Inventory, host: Host, remove: bool) -> None:
    merged = root(inv, host)
    if _mounted(merged):
        sh(["umount", str(merged)])
    if remove and host_dir(inv, host).exists():
        shutil.rmtree(host_dir(inv, host), onerror=_gone_is_fine)
    if remove:
        ssh.forget_host_keys(host)


def _gone_is_fine(func, path: str, exc_info) -> None:
    """rmtree: an entry that vanished between listing and unlinking is what we want
    (seen once on an overlay upper dir just unmounted); any other error stands."""
    if not isinstance(exc_info[1], FileNotFoundError):
        raise exc_info[1]
