"""Checks of 01-network-gateway: the gateway forwards and NATs the management
network out through its public interface (a connection from a host behind it
to the operator's public address arrives from the gateway's); every host
knows every other by name."""
import pytest

from checks.probes import connection_source
from checks.readings import nat_source_problem
from deploy.phases.p01_network_gateway import nat_rules

pytestmark = [pytest.mark.p01, pytest.mark.usefixtures("phase_p01")]


@pytest.mark.gateway
def test_ip_forwarding_enabled(host):
    value = host.sysctl("net.ipv4.ip_forward")
    assert value == 1, f"{host.backend.hostname}: net.ipv4.ip_forward is {value}, expected 1"


@pytest.mark.gateway
def test_ip_forwarding_persists(host):
    conf = host.file("/etc/sysctl.d/60-ip-forward.conf")
    assert conf.exists and "net.ipv4.ip_forward = 1" in conf.content_string, \
        f"{host.backend.hostname}: /etc/sysctl.d/60-ip-forward.conf does not set net.ipv4.ip_forward = 1"


@pytest.mark.gateway
def test_nat_rules_present(host, inventory):
    missing = [c for c in nat_rules(inventory).checks() if host.run(c).rc != 0]
    assert not missing, f"{host.backend.hostname}: rules missing: " + "; ".join(c.split(" -C ", 1)[1] for c in missing)


@pytest.mark.gateway
def test_management_traffic_leaves_with_the_gateway_public_address(inventory, pool):
    """A host behind the gateway (a compute, else the controller) opens a TCP
    connection to a listener this process holds on the operator's public
    address; the listener sees the gateway's public address as its source."""
    gateway = inventory.gateway
    listen_on = inventory.public.operator_address
    if listen_on is None:
        pytest.skip("networks.public.operator_address is not set: this machine has no address on the public "
                    "network to listen on")
    client = sorted((h for h in inventory.hosts if not h.has_role("gateway")),
                    key=lambda h: not h.has_role("compute"))[0]
    peer, failure = connection_source(pool[client.name], listen_on)
    problem = nat_source_problem(peer, client.name, client.address, gateway.name, gateway.public_address, failure)
    assert problem is None, problem


@pytest.mark.gateway
def test_nat_rules_restored_at_boot(host, inventory):
    unit = nat_rules(inventory).unit
    assert host.service(unit).is_enabled, f"{host.backend.hostname}: {unit} is not enabled"


@pytest.mark.all
def test_every_host_resolves_every_other(host, inventory):
    wrong = []
    for other in inventory.hosts:
        answer = host.run("getent ahostsv4 %s", other.name).stdout.split()
        if not answer or answer[0] != other.address:
            wrong.append(f"{other.name} -> {answer[0] if answer else 'nothing'} (expected {other.address})")
    gateway = host.run("getent ahostsv4 gateway").stdout.split()
    if not gateway or gateway[0] != inventory.gateway.address:
        wrong.append(f"gateway -> {gateway[0] if gateway else 'nothing'} (expected {inventory.gateway.address})")
    assert not wrong, f"{host.backend.hostname} resolves wrongly: " + "; ".join(wrong)


@pytest.mark.all
def test_localhost_resolves(host):
    answer = host.run("getent ahostsv4 localhost").stdout.split()
    assert answer[:1] == ["127.0.0.1"], f"{host.backend.hostname}: localhost resolves to {answer[:1]}, expected 127.0.0.1"
