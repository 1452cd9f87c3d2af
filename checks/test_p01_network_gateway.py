"""Checks of 01-network-gateway: the gateway forwards and NATs the management
network out through its public interface; every host knows every other by name."""
import pytest

from deploy.phases.p01_network_gateway import NAT_UNIT, nat_rules

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
    for rule in nat_rules(inventory):
        table, chain, match = rule[1], rule[2], rule[3:]
        cmd = host.run("iptables -w -t %s -C %s " + " ".join(["%s"] * len(match)), table, chain, *match)
        assert cmd.rc == 0, f"{host.backend.hostname}: iptables -t {table} {chain} lacks rule: {' '.join(match)}"


@pytest.mark.gateway
def test_nat_unit_enabled_for_boot(host):
    assert host.service(NAT_UNIT).is_enabled, f"{host.backend.hostname}: {NAT_UNIT} is not enabled"


@pytest.mark.all
def test_every_host_resolves_every_other(host, inventory):
    wrong = []
    for other in inventory.hosts:
        answer = host.run("getent hosts %s", other.name).stdout.split()
        if not answer or answer[0] != other.address:
            wrong.append(f"{other.name} -> {answer[0] if answer else 'nothing'} (expected {other.address})")
    gateway = host.run("getent hosts gateway").stdout.split()
    if not gateway or gateway[0] != inventory.gateway.address:
        wrong.append(f"gateway -> {gateway[0] if gateway else 'nothing'} (expected {inventory.gateway.address})")
    assert not wrong, f"{host.backend.hostname} resolves wrongly: " + "; ".join(wrong)


@pytest.mark.all
def test_localhost_resolves(host):
    answer = host.run("getent ahostsv4 localhost").stdout.split()
    assert answer[:1] == ["127.0.0.1"], f"{host.backend.hostname}: localhost resolves to {answer[:1]}, expected 127.0.0.1"
