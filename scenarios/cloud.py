"""What an operator does to a new cloud, as small helpers for the scenarios:
API clients, resources cleaned up in reverse order of creation (a cleanup
that fails is an error of the test, naming what was left behind),
Tempest-style waiters (poll with a deadline, log each state change, fail fast
on ERROR), and SSH into guests that dumps the guest's console when it cannot
get in."""
from __future__ import annotations

import logging
import shlex
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko
from cinderclient import client as cinder_client
from novaclient import client as nova_client

from checks.openstack import CINDER_MICROVERSION, NOVA_MICROVERSION, SERVER_FAILURES, Neutron, admin_session
from deploy.inventory import Inventory
from deploy.migration import fault_of, host_of, server_detail, task_state  # noqa: F401 (the scenarios' too)
from deploy.secrets import Secrets
from deploy.waits import WaitFailed, WaitTimeout, wait_for, wait_for_status

log = logging.getLogger("scenarios")


class GuestError(AssertionError):
    """A guest failed to boot, answer or behave; the message carries its console tail."""


class GuestCommandFailed(AssertionError):
    """A command in a guest exited non-zero; the message names the guest, the command and its output."""


@dataclass
class Cloud:
    """API clients as the admin of the cloud under test."""
    inventory: Inventory
    secrets: Secrets

    def __post_init__(self) -> None:
        self.session = admin_session(self.inventory, self.secrets)
        self.nova = nova_client.Client(NOVA_MICROVERSION, session=self.session)
        self.cinder = cinder_client.Client(CINDER_MICROVERSION, session=self.session)

    def neutron(self, method: str, path: str, body: dict | None = None) -> dict:
        """Neutron's answer as JSON; an error status fails (NeutronError, an AssertionError)."""
        return Neutron(self.session).call(method, path, body)


class CleanupFailed(AssertionError):
    """A resource the scenario made could not be removed: it is left in the cloud."""


@dataclass
class Cleanup:
    """Deleters registered the moment a resource exists, run newest first; one
    that fails does not stop the others, and `finish` names every failure."""
    actions: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def add(self, what: str, action: Callable[[], None]) -> None:
        self.actions.append((what, action))

    def run(self) -> list[str]:
        """Run every deleter; return what failed, as 'WHAT: ERROR'."""
        failed = []
        while self.actions:
            what, action = self.actions.pop()
            try:
                action()
            except Exception as e:  # cleanup goes on; the test's own failure stays the headline
                if type(e).__name__ == "NotFound":
                    continue  # the test removed it itself
                log.warning("cleanup of %s failed: %s", what, e)
                failed.append(f"{what}: {type(e).__name__}: {e}")
        return failed

    def finish(self) -> list[str]:
        """Run every deleter; raise CleanupFailed naming each one that failed (the leaks)."""
        failed = self.run()
        if failed:
            raise CleanupFailed("cleanup failed, left in the cloud: " + "; ".join(failed))
        return failed


def console_tail(cloud: Cloud, server, lines: int | None = 40) -> str:
    """The last lines of a guest's console (None: all of it)."""
    try:
        return cloud.nova.servers.get_console_output(server, length=lines) or "(empty console)"
    except Exception as e:  # the guest may be gone already
        return f"(no console: {e})"


def wait_server(cloud: Cloud, server, status: str, timeout: float = 300):
    """Poll until the server has `status` and no task; ERROR fails at once with Nova's fault.
    Either way the message carries the guest's console tail."""
    try:
        return wait_for_status(lambda: cloud.nova.servers.get(server.id), status, f"server {server.name} {status}",
                               timeout, failures=SERVER_FAILURES, ready=lambda s: task_state(s) is None,
                               detail=server_detail)
    except (WaitFailed, WaitTimeout) as e:
        raise GuestError(f"{e}\nconsole of {server.name}:\n{console_tail(cloud, server)}") from None


def wait_gone(cloud: Cloud, get: Callable[[], object], what: str, timeout: float = 180) -> None:
    def gone() -> bool:
        try:
            get()
            return False
        except Exception as e:
            if type(e).__name__ == "NotFound":
                return True
            raise

    wait_for(gone, timeout, f"{what} deleted", interval=1.0)


def fixed_ip(server) -> str:
    for addresses in server.addresses.values():
        for a in addresses:
            if a.get("OS-EXT-IPS:type") == "fixed" and a.get("version") == 4:
                return a["addr"]
    raise AssertionError(f"server {server.name} has no fixed IPv4 address: {server.addresses}")


@dataclass
class GuestShell:
    """An SSH session into a guest, as its image's login user."""
    client: paramiko.SSHClient
    name: str
    prefix: str = ""   # "sudo -n " for a login user that is not root

    def run(self, command: str, timeout: float = 120) -> str:
        if self.prefix:
            command = self.prefix + "sh -c " + shlex.quote(command)
        _, stdout, stderr = self.client.exec_command(command, timeout=timeout)
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        rc = stdout.channel.recv_exit_status()
        if rc != 0:
            raise GuestCommandFailed(f"{self.name}: {command!r} exited {rc}: {(err or out).strip()[-600:]}")
        return out

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "GuestShell":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def ssh(cloud: Cloud, server, address: str, user: str, key: paramiko.PKey, timeout: float = 300) -> GuestShell:
    """SSH into a guest once it answers with our key; on timeout the message holds its console."""
    def attempt():
        try:
            with socket.create_connection((address, 22), timeout=5) as s:
                s.settimeout(5)
                if not s.recv(4).startswith(b"SSH-"):
                    return None
        except OSError:
            return None
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # a new guest: its key is new
        try:
            client.connect(address, username=user, pkey=key, timeout=15, banner_timeout=15, auth_timeout=15,
                           allow_agent=False, look_for_keys=False)
        except BaseException:
            client.close()
            raise
        return client

    try:
        # until the guest has taken its key, sshd refuses or drops us: not ready yet
        client = wait_for(attempt, timeout, f"SSH as {user} to {server.name} at {address}", interval=2.0,
                          transient=(paramiko.SSHException, OSError, EOFError))
    except WaitTimeout as e:
        raise GuestError(f"{e}\nconsole of {server.name}:\n{console_tail(cloud, server)}") from None
    return GuestShell(client, server.name)


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> float:
        return round(time.monotonic() - self.started, 1)
