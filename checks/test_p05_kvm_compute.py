"""Checks of 05-kvm-compute: libvirt answers with the chosen domain type, a
domain really starts; libvirt's remote socket speaks mutual TLS only (another
compute's suite certificate is admitted, no certificate or a self-made one is
refused, plain TCP is refused) and answers the other computes only."""
import socket
import uuid

import pytest

from checks.probes import tls_stranger
from deploy.phases.p05_kvm_compute import CA_FILE, LIBVIRT_TCP_PORT, LIBVIRT_TLS_PORT

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


def other_computes(inventory, me):
    others = [h for h in inventory.with_role("compute") if h.name != me.name]
    if not others:
        pytest.skip("only one compute host: nothing migrates")
    return others


@pytest.mark.compute
def test_libvirt_admits_the_other_computes_over_tls(host, inventory, pool):
    """What a live migration's source does: connect to this host's libvirt as
    qemu+tls://ADDRESS/system with its own suite certificate, checking this
    host's certificate against the address."""
    me = inventory.host(host.backend.hostname)
    failed = {}
    for other in other_computes(inventory, me):
        answer = pool[other.name].run(f"virsh -c qemu+tls://{me.address}/system hostname", check=False)
        if not answer.ok or answer.stdout.strip() != me.name:
            failed[other.name] = (answer.stderr or answer.stdout).strip()[-300:]
    assert not failed, f"{me.name}: libvirt over TLS at {me.address}:{LIBVIRT_TLS_PORT} refused: {failed}"


@pytest.mark.compute
def test_libvirt_refuses_plain_tcp_and_clients_without_a_suite_certificate(host, inventory, pool):
    """From another compute (admitted by the firewall): plain TCP to 16509 is
    refused; a TLS client with no certificate, or with a self-signed one that
    names an admitted compute, is refused after the handshake."""
    me = inventory.host(host.backend.hostname)
    other = other_computes(inventory, me)[0]
    remote = pool[other.name]
    plain = remote.run(f"timeout 2 bash -c '</dev/tcp/{me.address}/{LIBVIRT_TCP_PORT}'", check=False)
    assert plain.rc != 0, f"{me.name}: libvirt's plain TCP {me.address}:{LIBVIRT_TCP_PORT} accepts {other.name}"
    for kind in ("none", "foreign"):
        verdict = tls_stranger(remote, me.address, int(LIBVIRT_TLS_PORT), CA_FILE, kind, other.name)
        assert verdict.startswith("refused"), (
            f"{me.name}: libvirt TLS {me.address}:{LIBVIRT_TLS_PORT} took a client from {other.name} with "
            f"{'no certificate' if kind == 'none' else 'a self-signed certificate for ' + other.name}: {verdict}")


@pytest.mark.compute
def test_migration_port_closed_to_others(host, inventory, pool):
    """From the controller (not a compute) and, for the gateway, from the public network. A dropped
    connection shows as a timeout; 2 s is far above any round trip on these networks."""
    me = inventory.host(host.backend.hostname)
    probe = f"timeout 2 bash -c '</dev/tcp/{me.address}/{LIBVIRT_TLS_PORT}'"
    controller = inventory.controller
    assert pool[controller.name].run(probe, check=False).rc != 0, \
        f"{me.name}: libvirt TLS {LIBVIRT_TLS_PORT} answers the controller, a non-compute host"
    if me.public_address:
        try:
            socket.create_connection((me.public_address, int(LIBVIRT_TLS_PORT)), timeout=3).close()
            opened = True
        except OSError:
            opened = False
        assert not opened, f"{me.name}: libvirt TLS {LIBVIRT_TLS_PORT} answers on public {me.public_address}"


@pytest.mark.compute
def test_libvirt_migrates_only_over_tls(host, inventory, remote, pool):
    """A small test domain (no disk) live-migrated from this host to the next
    compute, as Nova asks (peer to peer, qemu+tls://ADDRESS/system): without
    the TLS flag the daemons refuse, so guest memory never crosses in clear;
    with it the domain arrives running."""
    me = inventory.host(host.backend.hostname)
    computes = [h for h in inventory.with_role("compute")]
    if len(computes) < 2:
        pytest.skip("only one compute host: nothing migrates")
    target = computes[(computes.index(next(h for h in computes if h.name == me.name)) + 1) % len(computes)]
    name = f"check-migrate-{uuid.uuid4().hex[:8]}"
    xml = TEST_DOMAIN.format(virt_type=virt_type_of(host), name=name)
    uri = f"qemu+tls://{target.address}/system"
    remote.put(f"/tmp/{name}.xml", xml.encode())
    try:
        remote.run(["virsh", "-c", "qemu:///system", "create", f"/tmp/{name}.xml"])
        clear = remote.run(["virsh", "-c", "qemu:///system", "migrate", "--live", "--p2p", name, uri], check=False)
        assert not clear.ok, f"{me.name} -> {target.name}: a migration without TLS was carried out"
        assert "TLS" in clear.stderr, f"{me.name} -> {target.name}: migration without TLS failed otherwise: {clear.stderr}"
        tls = remote.run(["virsh", "-c", "qemu:///system", "migrate", "--live", "--p2p", "--tls", name, uri],
                         check=False, timeout=180)
        assert tls.ok, f"{me.name} -> {target.name}: migration over TLS failed: {(tls.stderr or tls.stdout).strip()}"
        state = pool[target.name].run(["virsh", "-c", "qemu:///system", "domstate", name], check=False)
        assert state.stdout.strip() == "running", f"{target.name}: the migrated domain is {state.stdout.strip()!r}"
    finally:
        for h in (me, target):
            pool[h.name].run(["virsh", "-c", "qemu:///system", "destroy", name], check=False)
        host.run("rm -f /tmp/%s.xml", name)
