"""Scenario fixtures: the report's 10-openstack-controller as an operator runs
it against a new cloud. Requesting `cloud` deploys every phase first (or, with
--no-deploy, trusts the cloud is there). Every resource is registered for
cleanup the moment it exists; timings (the plugin's `timing` fixture) go to
JUnit, the terminal summary and the run report."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import paramiko
import pytest

from deploy.phases.p09_openstack_gateway.networks import PUBLIC_NETWORK, VM_NETWORK
from scenarios.cloud import Cleanup, CleanupFailed, Cloud, GuestShell, Stopwatch, console_tail, fixed_ip, host_of, ssh, wait_gone, wait_server

# RAM (MiB) and root disk (GB) per image recipe: tiny lives in memory; debian's
# disk is 1 GiB. Every compute reports the shared volume's size as its disk.
FLAVORS = {"tiny": (256, 1), "debian": (1024, 1)}


@pytest.fixture(scope="session")
def cloud(phase_p09, inventory, secrets) -> Cloud:
    return Cloud(inventory, secrets)


LEAKS = pytest.StashKey[list[str]]()  # every cleanup failure of the session, named at its end


def _finish(config: pytest.Config, actions: Cleanup) -> None:
    """Run the deleters; a failure is an error of the test (at its teardown) and a line of the final summary."""
    try:
        actions.finish()
    except CleanupFailed as e:
        config.stash.setdefault(LEAKS, []).append(str(e).removeprefix("cleanup failed, left in the cloud: "))
        raise


@pytest.fixture
def cleanup(pytestconfig):
    actions = Cleanup()
    yield actions
    _finish(pytestconfig, actions)


@pytest.fixture(scope="session")
def session_cleanup(pytestconfig):
    actions = Cleanup()
    yield actions
    _finish(pytestconfig, actions)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A leak fails the run even if nothing else did (it already is an error of the test that made it)."""
    if session.config.stash.get(LEAKS, []) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    leaks = config.stash.get(LEAKS, [])
    if leaks:
        terminalreporter.section("cleanup failed: left in the cloud", red=True)
        for line in leaks:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def keypair(cloud: Cloud, session_cleanup: Cleanup):
    """A fresh key pair, its public half in Nova (the report's 03-keypair-add)."""
    key = paramiko.ECDSAKey.generate(bits=256)
    name = f"scenario-{uuid.uuid4().hex[:8]}"
    cloud.nova.keypairs.create(name, public_key=f"{key.get_name()} {key.get_base64()} {name}")
    session_cleanup.add(f"keypair {name}", lambda: cloud.nova.keypairs.delete(name))
    return name, key


@pytest.fixture(scope="session")
def flavors(cloud: Cloud, session_cleanup: Cleanup) -> dict[str, str]:
    """One flavor per image, named for it; made for the run and removed after."""
    out = {}
    for image in cloud.inventory.images:
        ram, disk = FLAVORS.get(image.build or "", (1024, 4))
        name = f"scenario.{image.name}.{uuid.uuid4().hex[:6]}"
        flavor = cloud.nova.flavors.create(name, ram, 1, disk)
        session_cleanup.add(f"flavor {name}", lambda f=flavor: cloud.nova.flavors.delete(f))
        out[image.name] = flavor.id
    return out


@pytest.fixture(scope="session")
def networks(cloud: Cloud) -> dict[str, str]:
    out = {}
    for name in (VM_NETWORK, PUBLIC_NETWORK):
        found = cloud.neutron("GET", f"/networks?name={name}")["networks"]
        assert len(found) == 1, f"network {name!r}: found {len(found)} (phase 09 creates it)"
        out[name] = found[0]["id"]
    return out


@dataclass
class Guest:
    server: object
    image: str
    login: str
    floating_ip: str
    key: paramiko.PKey
    cloud: Cloud
    recipe: str | None = None

    def refresh(self):
        self.server = self.cloud.nova.servers.get(self.server.id)
        return self.server

    @property
    def host(self) -> str:
        return host_of(self.server)

    @property
    def fixed_ip(self) -> str:
        return fixed_ip(self.server)

    def shell(self, timeout: float = 300) -> GuestShell:
        return ssh(self.cloud, self.server, self.floating_ip, self.login, self.key, timeout)

    def root_shell(self, timeout: float = 300) -> GuestShell:
        """For disks and mounts: tiny takes the key as root too; other images
        are entered as their login user, commands under sudo."""
        if self.recipe == "tiny" or self.login == "root":
            return ssh(self.cloud, self.server, self.floating_ip, "root", self.key, timeout)
        shell = self.shell(timeout)
        shell.prefix = "sudo -n "
        return shell

    def run_as_root(self, command: str, timeout: float = 300) -> str:
        """One command in a root shell of its own, closed after it."""
        with self.root_shell(timeout) as shell:
            return shell.run(command)


@pytest.fixture(scope="session")
def image_ids(cloud: Cloud) -> dict[str, str]:
    """Glance ids of the inventory's images, looked up once: novaclient's image
    lookup switches the shared client to the image service for its call, and a
    server created meanwhile from another thread would be POSTed to Glance."""
    return {i.name: cloud.nova.glance.find_image(i.name).id for i in cloud.inventory.images}


def create_server(cloud: Cloud, cleanup: Cleanup, key_name: str, flavors, networks, image_ids, image: str,
                  host: str | None = None, name: str | None = None, config_drive: bool = False):
    """A server of the image on the VM network, its delete registered at once; Nova boots it
    while the caller goes on. Returns the server and a stopwatch started at its creation."""
    name = name or f"scn-{image}-{uuid.uuid4().hex[:6]}"
    watch = Stopwatch()
    server = cloud.nova.servers.create(name, image_ids[image], flavors[image], key_name=key_name,
                                       nics=[{"net-id": networks[VM_NETWORK]}], host=host,
                                       config_drive=config_drive)
    cleanup.add(f"server {name}", lambda: (cloud.nova.servers.delete(server),
                                           wait_gone(cloud, lambda: cloud.nova.servers.get(server.id),
                                                     f"server {name}")))
    return server, watch


def reachable_guest(cloud: Cloud, cleanup: Cleanup, evidence, networks, key, server, watch, image: str,
                    timing=None) -> Guest:
    """The server ACTIVE (its boot to ACTIVE timed when `timing` is given), with a floating
    IP; a failed test keeps the guest's whole console."""
    spec = next(i for i in cloud.inventory.images if i.name == image)
    # runs before the server's delete (newest first): a failed test keeps every guest's whole console
    cleanup.add(f"console of {server.name}", lambda: evidence.failed and evidence.save(
        f"guests/{server.name}.console.txt", console_tail(cloud, server, lines=None)))
    server = wait_server(cloud, server, "ACTIVE", timeout=600)
    if timing is not None:
        timing(f"{image} boot to ACTIVE", watch())
    port = cloud.neutron("GET", f"/ports?device_id={server.id}")["ports"][0]
    fip = cloud.neutron("POST", "/floatingips", {"floatingip": {
        "floating_network_id": networks[PUBLIC_NETWORK], "port_id": port["id"]}})["floatingip"]
    cleanup.add(f"floating IP {fip['floating_ip_address']}",
                lambda: cloud.neutron("DELETE", f"/floatingips/{fip['id']}"))
    guest = Guest(server, image, spec.login or "root", fip["floating_ip_address"], key, cloud, spec.build)
    guest.boot_watch = watch
    return guest


@pytest.fixture
def boot(cloud: Cloud, cleanup: Cleanup, keypair, flavors, networks, image_ids, timing, evidence):
    """boot(image, host=None) -> Guest: ACTIVE, with a floating IP; deleted after the test."""
    key_name, key = keypair

    def make(image: str, host: str | None = None, name: str | None = None, config_drive: bool = False) -> Guest:
        server, watch = create_server(cloud, cleanup, key_name, flavors, networks, image_ids, image, host, name,
                                      config_drive)
        return reachable_guest(cloud, cleanup, evidence, networks, key, server, watch, image, timing)

    return make


@pytest.fixture(scope="session")
def booting_ahead(cloud: Cloud, session_cleanup: Cleanup, keypair, flavors, networks, image_ids) -> dict:
    """image -> (server, stopwatch): a server of each inventory image after the first,
    created when the first scenario that asks starts (the first image's login test,
    right after the guest-per-compute test and its four boots at once). Under
    emulation a full Debian boots for a minute or two on one core; it does so while
    the scenarios after that one run (one small guest at a time, mostly waiting),
    and the test that logs in to it comes last (tests/test_markers.py pins the order)."""
    key_name, _ = keypair
    return {i.name: create_server(cloud, session_cleanup, key_name, flavors, networks, image_ids, i.name)
            for i in cloud.inventory.images[1:]}


@pytest.fixture
def booted_ahead(cloud: Cloud, cleanup: Cleanup, evidence, networks, keypair, booting_ahead):
    """booted_ahead(image) -> Guest once ACTIVE, with a floating IP, for an image of
    `booting_ahead`; None for an image booted in its test."""
    def take(image: str) -> Guest | None:
        if image not in booting_ahead:
            return None
        server, watch = booting_ahead[image]
        return reachable_guest(cloud, cleanup, evidence, networks, keypair[1], server, watch, image)
    return take
