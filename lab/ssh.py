"""The operator's SSH key for the lab's hosts, and the lab hosts' own keys in
the known_hosts file that every connection checks (ssh.known_hosts)."""
from __future__ import annotations

import threading
from pathlib import Path

from deploy.host_keys import lookup_name
from deploy.inventory import Host

from .system import sh


def ensure_key(path: Path) -> str:
    """Create the key pair at `path` (mode 0600) if missing; return the public key."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "embedded-lab-operator", "-f", str(path)])
    path.chmod(0o600)
    pub = path.with_name(path.name + ".pub")
    if not pub.exists():
        pub.write_text(sh(["ssh-keygen", "-y", "-f", str(path)]).stdout)
    return pub.read_text().strip()


def _tree_host_keys(tree: Path) -> list[str]:
    """`TYPE BASE64` of each host key in a host's tree (what its sshd serves)."""
    keys = []
    for pub in sorted((tree / "etc/ssh").glob("ssh_host_*_key.pub")):
        kind, blob = pub.read_text().split()[:2]
        keys.append(f"{kind} {blob}")
    return keys


def _entries(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def _names(line: str) -> set[str]:
    return set(line.split()[0].split(",")) if line.strip() and not line.startswith("#") else set()


# known_hosts is read, filtered and rewritten whole: hosts made or removed at once
# (destroy's threads) take turns, or one's rewrite would drop another's
_KNOWN_HOSTS_LOCK = threading.Lock()


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.write_text("".join(f"{line}\n" for line in lines))
    tmp.replace(path)


def record_host_keys(host: Host, tree: Path, *, generated: bool) -> None:
    """Write the host's keys into its known_hosts (ssh.known_hosts), as `ADDRESS TYPE KEY`.

    `generated`: the lab just made them, so they replace what was recorded for
    the host. Otherwise they are recorded only if nothing is (a tree made before
    the lab recorded keys): a key that changed inside a running host afterwards
    is not taken as the host's, and connecting to it fails with its fingerprint.
    """
    name = lookup_name(host)
    with _KNOWN_HOSTS_LOCK:
        lines = _entries(host.known_hosts)
        mine = [line for line in lines if name in _names(line)]
        if mine and not generated:
            return
        others = [line for line in lines if name not in _names(line)]
        _write(host.known_hosts, others + [f"{name} {key}" for key in _tree_host_keys(tree)])


def forget_host_keys(host: Host) -> None:
    """The host's tree is gone: so are its keys."""
    name = lookup_name(host)
    with _KNOWN_HOSTS_LOCK:
        lines = _entries(host.known_hosts)
        if any(name in _names(line) for line in lines):
            _write(host.known_hosts, [line for line in lines if name not in _names(line)])
