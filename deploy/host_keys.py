"""SSH host keys: a connection goes ahead only with the key the inventory's
`ssh.known_hosts` holds for the host. An unknown key is refused (or, with
`ssh.trust_on_first_use`, recorded); a changed one is always refused. The
messages name the host, the key's type and fingerprint, and what to do."""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
from pathlib import Path

import paramiko

from .inventory import Host

log = logging.getLogger(__name__)


class UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey):
        super().__init__(f"unknown host key for {hostname}")
        self.hostname, self.key = hostname, key


def fingerprint(key: paramiko.PKey) -> str:
    """As OpenSSH prints it: SHA256:base64 of the key blob, unpadded."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def _keyscan_type(key: paramiko.PKey) -> str:
    name = key.get_name()
    return "ed25519" if "ed25519" in name else "ecdsa" if name.startswith("ecdsa") else "rsa"


def _known_hosts_of(host: Host) -> Path:
    return Path(host.known_hosts).expanduser()


def unknown_key_message(host: Host, hostname: str, key: paramiko.PKey) -> str:
    path = _known_hosts_of(host)
    where = "" if path.is_file() else ", which does not exist"
    return (f"unknown SSH host key {key.get_name()} {fingerprint(key)} (not in {path}{where}); refusing to connect. "
            f"If `ssh-keygen -lf /etc/ssh/ssh_host_{_keyscan_type(key)}_key.pub` on the host shows this fingerprint, "
            f"accept it: ssh-keyscan -p {host.port} -t {_keyscan_type(key)} {host.address} >> {path} "
            f"(or set ssh.trust_on_first_use: true to record unknown keys)")


def changed_key_message(host: Host, key: paramiko.PKey, expected: list[paramiko.PKey]) -> str:
    path = _known_hosts_of(host)
    held = ", ".join(f"{k.get_name()} {fingerprint(k)}" for k in expected)
    return (f"SSH host key CHANGED: the host offers {key.get_name()} {fingerprint(key)}, {path} holds {held}; "
            f"refusing to connect, before any command (a man in the middle, or a reinstalled host: then remove "
            f"the old entry with ssh-keygen -R {lookup_name(host)} -f {path} and accept the new key)")


def lookup_name(host: Host) -> str:
    """The name known_hosts files (and paramiko) use: ADDRESS, or [ADDRESS]:PORT."""
    return host.address if host.port == 22 else f"[{host.address}]:{host.port}"


_record_lock = threading.Lock()


class KnownHostsPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a key known_hosts does not hold: refuse (the default), or
    with ssh.trust_on_first_use record it there. A host known with keys of other
    types counts as changed, never as new."""

    def __init__(self, host: Host):
        self.host = host
        self.path = _known_hosts_of(host)
        self.known = paramiko.HostKeys(str(self.path)) if self.path.is_file() else paramiko.HostKeys()

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        others = self.known.lookup(hostname)
        if others:
            raise paramiko.BadHostKeyException(hostname, key, next(iter(others.values())))
        if not self.host.trust_on_first_use:
            raise UnknownHostKey(hostname, key)
        with _record_lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
                f.flush()
                os.fsync(f.fileno())
        log.warning("%s: recorded its SSH host key %s %s in %s (ssh.trust_on_first_use)",
                    self.host.name, key.get_name(), fingerprint(key), self.path)
