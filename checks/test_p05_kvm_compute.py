"""Checks of 05-kvm-compute: libvirt answers with the chosen domain type, a
domain really starts, and the migration ports are open to the other computes
only."""
import socket
import uuid

import pytest

from deploy.phases.p05_kvm_compute import LIBVIRT_TCP_PORT

pytestmark = [pytest.mark.p05, pytest.mark.usefixtures("phase_p05")]

TEST_DOMAIN = """<domain type='{virt_type}'>
  <name>{name}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='network'/></os>
  <devices><serial type='pty'/></devices>
</domain>
"""


def virt_type_of(host) -> str:
    record = host.file("/etc/deploy/hypervisor").content_string.strip()
    assert record.startswith("virt_type="), f"{host.backend.hostname}: /etc/deploy/hypervisor says {record!r}"
    return record.split("=", 1)[1]


@pytest.mark.compute
def test_hypervisor_choice_follows_the_cpu(host):
    flags = host.run("grep -Ewc 'vmx|svm' /proc/cpuinfo").stdout.strip()
    expected = "kvm" if flags != "0" and host.file("/dev/kvm").exists else "qemu"
    assert virt_type_of(host) == expected, f"{host.backend.hostname}: chose {virt_type_of(host)}, CPU says {expected}"


@pytest.mark.compute
def test_libvirt_offers_the_domain_type(host):
    caps = host.check_output("virsh -c qemu:///system capabilities")
    virt_type = virt_type_of(host)
    assert f"<domain type='{virt_type}'" in caps, f"{host.backend.hostname}: libvirt offers no {virt_type} domains"


@pytest.mark.compute
def test_a_domain_starts(host, remote):
    name = f"check-{uuid.uuid4().hex[:8]}"
    xml = TEST_DOMAIN.format(virt_type=virt_type_of(host), name=name)
    remote.put(f"/tmp/{name}.xml", xml.encode())
    try:
        remote.run(["virsh", "-c", "qemu:///system", "create", f"/tmp/{name}.xml"])
        state = host.check_output("virsh -c qemu:///system domstate %s", name)
        assert state == "running", f"{host.backend.hostname}: test domain is {state}"
    finally:
        host.run("virsh -c qemu:///system destroy %s", name)
        host.run("rm -f /tmp/%s.xml", name)


@pytest.mark.compute
def test_migration_port_reachable_from_other_computes(host, inventory, pool):
    me = inventory.host(host.backend.hostname)
    others = [h for h in inventory.with_role("compute") if h.name != me.name]
    if not others:
        pytest.skip("only one compute host: nothing migrates")
    probe = f"timeout 2 bash -c '</dev/tcp/{me.address}/{LIBVIRT_TCP_PORT}'"
    failed = [o.name for o in others if pool[o.name].run(probe, check=False).rc != 0]
    assert not failed, f"libvirt TCP {me.address}:{LIBVIRT_TCP_PORT} not reachable from {failed}"


@pytest.mark.compute
def test_migration_port_closed_to_others(host, inventory, pool):
    """From the controller (not a compute) and, for the gateway, from the public network. A dropped
    connection shows as a timeout; 2 s is far above any round trip on these networks."""
    me = inventory.host(host.backend.hostname)
    probe = f"timeout 2 bash -c '</dev/tcp/{me.address}/{LIBVIRT_TCP_PORT}'"
    controller = inventory.controller
    assert pool[controller.name].run(probe, check=False).rc != 0, \
        f"{me.name}: libvirt TCP {LIBVIRT_TCP_PORT} answers the controller, a non-compute host"
    if me.public_address:
        try:
            socket.create_connection((me.public_address, int(LIBVIRT_TCP_PORT)), timeout=3).close()
            opened = True
        except OSError:
            opened = False
        assert not opened, f"{me.name}: libvirt TCP {LIBVIRT_TCP_PORT} answers on public {me.public_address}"
