"""Tenant networks as users make them, with Neutron's defaults: port security
on, security groups enforced. As the `demo` user (member role only, its own
credentials): a network, a subnet, a router to the public network, a guest
with default port settings, a floating IP, SSH with its own key pair; ping,
TCP and port updates against its security groups. As the admin: a
port-security guest live-migrates away and back, and the hosts it left still
boot guests; no linuxbridge agent logged an ebtables failure meanwhile."""
from __future__ import annotations

import ipaddress
import shlex
import socket
import subprocess
import uuid

import paramiko
import pytest
from novaclient import client as nova_client

from checks.openstack import NOVA_MICROVERSION, user_session
from checks.tools import ensure_tools
from deploy.services.keystone import DEMO
from deploy.phases.p09_openstack_gateway.networks import PUBLIC_NETWORK
from deploy.waits import WaitTimeout, wait_for, wait_for_status
from scenarios.cloud import Cleanup, Cloud, GuestError, Stopwatch, fixed_ip, host_of, ssh, wait_gone, wait_server
from scenarios.test_live_migration import migrate

pytestmark = pytest.mark.scenario

TENANT_CIDR = "10.10.0.0/24"   # the demo project's own network (not the shared vm network)
LISTENER_PORT = 8080
AGENT_LOG = "/var/log/neutron/neutron-linuxbridge-agent.log"
EBTABLES_FAILURE = ("grep -nE \"RULE_DELETE failed|Exit code: 4; Cmd: \\['ebtables'\" || true")


class TenantCloud(Cloud):
    """The same clients as the admin's, with the demo user's own credentials."""

    def __post_init__(self) -> None:
        self.session = user_session(self.inventory, DEMO["user"], self.secrets.get("demo_keystone").reveal(),
                                    DEMO["project"])
        self.nova = nova_client.Client(NOVA_MICROVERSION, session=self.session)


def answers_ping(address: str) -> bool:
    """One echo from this machine (a new ICMP id each time: no old conntrack entry helps)."""
    return subprocess.run(["ping", "-c1", "-W1", address], capture_output=True).returncode == 0


def tcp_connects(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=2):
            return True
    except OSError:
        return False


def port_of(cloud: Cloud, server) -> dict:
    ports = cloud.neutron("GET", f"/ports?device_id={server.id}")["ports"]
    assert len(ports) == 1, f"server {server.name}: {len(ports)} ports"
    return ports[0]


def wait_port_active(cloud: Cloud, port_id: str, what: str) -> None:
    wait_for_status(lambda: cloud.neutron("GET", f"/ports/{port_id}")["port"], "ACTIVE",
                    f"port {port_id} ACTIVE after {what}", 120, failures=("ERROR",), state=lambda p: p["status"])


@pytest.fixture(scope="module")
def demo(cloud, inventory, secrets) -> TenantCloud:
    ensure_tools({"/usr/bin/ping": "iputils-ping"})
    return TenantCloud(inventory, secrets)


@pytest.fixture(scope="module")
def tenant_guest(demo: TenantCloud, cloud: Cloud, inventory, flavors, image_ids):
    """The demo user's own path: key pair, network, subnet, router, a group
    allowing only SSH from the operator, a tiny guest, a floating IP."""
    cleanup = Cleanup()
    tag = uuid.uuid4().hex[:6]
    key = paramiko.ECDSAKey.generate(bits=256)
    key_name = f"demo-{tag}"
    try:
        demo.nova.keypairs.create(key_name, public_key=f"{key.get_name()} {key.get_base64()} {key_name}")
        cleanup.add(f"keypair {key_name}", lambda: demo.nova.keypairs.delete(key_name))
        net = demo.neutron("POST", "/networks", {"network": {"name": f"demo-net-{tag}"}})["network"]
        cleanup.add(f"network {net['name']}", lambda: demo.neutron("DELETE", f"/networks/{net['id']}"))
        assert net["port_security_enabled"] is True, "a new network has port security on (Neutron's default)"
        subnet = demo.neutron("POST", "/subnets", {"subnet": {
            "name": f"demo-subnet-{tag}", "network_id": net["id"], "ip_version": 4, "cidr": TENANT_CIDR}})["subnet"]
        cleanup.add(f"subnet {subnet['name']}", lambda: demo.neutron("DELETE", f"/subnets/{subnet['id']}"))
        public = demo.neutron("GET", f"/networks?name={PUBLIC_NETWORK}")["networks"]
        assert len(public) == 1, f"the demo user sees {len(public)} networks named {PUBLIC_NETWORK}"
        router = demo.neutron("POST", "/routers", {"router": {
            "name": f"demo-router-{tag}", "external_gateway_info": {"network_id": public[0]["id"]}}})["router"]
        cleanup.add(f"router {router['name']}", lambda: demo.neutron("DELETE", f"/routers/{router['id']}"))
        demo.neutron("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
        cleanup.add(f"router interface on {subnet['name']}", lambda: demo.neutron(
            "PUT", f"/routers/{router['id']}/remove_router_interface", {"subnet_id": subnet["id"]}))
        group = demo.neutron("POST", "/security-groups", {"security_group": {
            "name": f"demo-ssh-{tag}", "description": "SSH from the operator only"}})["security_group"]
        cleanup.add(f"security group {group['name']}", lambda: demo.neutron("DELETE", f"/security-groups/{group['id']}"))
        operator = f"{inventory.public.operator_address}/32"
        demo.neutron("POST", "/security-group-rules", {"security_group_rule": {
            "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": operator}})
        image = inventory.images[0].name
        watch = Stopwatch()
        server = demo.nova.servers.create(f"demo-{image}-{tag}", image_ids[image], flavors[image], key_name=key_name,
                                          nics=[{"net-id": net["id"]}], security_groups=[group["name"]])
        cleanup.add(f"server {server.name}", lambda: (demo.nova.servers.delete(server), wait_gone(
            demo, lambda: demo.nova.servers.get(server.id), f"server {server.name}")))
        server = wait_server(demo, server, "ACTIVE", timeout=600)
        port = port_of(demo, server)
        assert port["port_security_enabled"] is True, f"{server.name}'s port: port security {port['port_security_enabled']}"
        fip = demo.neutron("POST", "/floatingips", {"floatingip": {
            "floating_network_id": public[0]["id"], "port_id": port["id"]}})["floatingip"]
        cleanup.add(f"floating IP {fip['floating_ip_address']}",
                    lambda: demo.neutron("DELETE", f"/floatingips/{fip['id']}"))
        shell = ssh(demo, server, fip["floating_ip_address"], "root", key, timeout=600)
        yield {"server": server, "port": port, "group": group, "address": fip["floating_ip_address"],
               "shell": shell, "key": key, "watch": watch, "tag": tag}
        shell.close()
    finally:
        failed = cleanup.run()
        assert not failed, f"the demo project's resources were not all removed: {failed}"


def test_the_demo_user_reaches_its_own_guest(tenant_guest, timing):
    """SSH with the demo user's own key pair, through its own router and floating IP."""
    timing("demo guest boot to SSH", tenant_guest["watch"]())
    shell = tenant_guest["shell"]
    assert shell.run("hostname").strip().split(".")[0] == tenant_guest["server"].name
    addresses = shell.run("ip -4 -o addr show")
    assert f" {fixed_ip(tenant_guest['server'])}/" in addresses, addresses


def test_security_groups_are_enforced(tenant_guest, demo):
    """Only SSH from the operator is allowed: no ping, and a TCP listener in the
    guest is not reached; an ICMP rule makes it answer, removing it stops it;
    a TCP rule for the listener reaches it."""
    address, group, shell = tenant_guest["address"], tenant_guest["group"], tenant_guest["shell"]
    # busybox nc: -ll with -e serves every connection
    shell.run("printf '#!/bin/sh\\necho listening\\n' > /tmp/hello && chmod 755 /tmp/hello && "
              f"setsid busybox nc -ll -p {LISTENER_PORT} -e /tmp/hello >/dev/null 2>&1 </dev/null &")
    wait_for(lambda: "listening" in shell.run(f"busybox nc 127.0.0.1 {LISTENER_PORT} </dev/null || true"), 30,
             f"a listener on port {LISTENER_PORT} inside the guest")
    assert not any(answers_ping(address) for _ in range(3)), f"{address} answers ping with only SSH allowed"
    assert not tcp_connects(address, LISTENER_PORT), f"{address}:{LISTENER_PORT} reached with only SSH allowed"

    icmp = demo.neutron("POST", "/security-group-rules", {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"}})
    wait_for(lambda: answers_ping(address), 60, f"{address} answering ping once ICMP is allowed")
    demo.neutron("DELETE", f"/security-group-rules/{icmp['security_group_rule']['id']}")
    wait_for(lambda: not answers_ping(address) and not answers_ping(address), 60,
             f"{address} no longer answering ping once the ICMP rule is removed")

    tcp = demo.neutron("POST", "/security-group-rules", {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
        "port_range_min": LISTENER_PORT, "port_range_max": LISTENER_PORT}})
    wait_for(lambda: tcp_connects(address, LISTENER_PORT), 60, f"{address}:{LISTENER_PORT} reached once allowed")
    demo.neutron("DELETE", f"/security-group-rules/{tcp['security_group_rule']['id']}")


def test_port_updates_keep_the_guest_reachable(tenant_guest, demo, agent_logs):
    """A second security group (allowing ICMP) and an allowed address pair added
    to the running guest's port: the port stays ACTIVE, the guest answers SSH,
    and the second group's rule takes effect."""
    port, address, tag = tenant_guest["port"], tenant_guest["address"], tenant_guest["tag"]
    second = demo.neutron("POST", "/security-groups", {"security_group": {"name": f"demo-icmp-{tag}"}})["security_group"]
    demo.neutron("POST", "/security-group-rules", {"security_group_rule": {
        "security_group_id": second["id"], "direction": "ingress", "ethertype": "IPv4", "protocol": "icmp"}})
    try:
        demo.neutron("PUT", f"/ports/{port['id']}", {"port": {"security_groups": [tenant_guest["group"]["id"], second["id"]]}})
        wait_port_active(demo, port["id"], "adding a second security group")
        wait_for(lambda: answers_ping(address), 60, f"{address} answering ping through the second group")
        pair = str(ipaddress.ip_network(TENANT_CIDR)[200])
        demo.neutron("PUT", f"/ports/{port['id']}", {"port": {"allowed_address_pairs": [{"ip_address": pair}]}})
        wait_port_active(demo, port["id"], f"allowing the address pair {pair}")
        wait_for(lambda: answers_ping(address), 60, f"{address} answering ping after the address pair")
        assert tenant_guest["shell"].run("echo still-here").strip() == "still-here"
        with paramiko.SSHClient() as fresh:   # a new session, not only the one already open
            fresh.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            fresh.connect(address, username="root", pkey=tenant_guest["key"], timeout=15, allow_agent=False,
                          look_for_keys=False)
    finally:
        demo.neutron("PUT", f"/ports/{port['id']}", {"port": {"security_groups": [tenant_guest["group"]["id"]],
                                                              "allowed_address_pairs": []}})
        demo.neutron("DELETE", f"/security-groups/{second['id']}")
    assert agent_logs.failures() == [], "\n".join(agent_logs.failures())


class AgentLogs:
    """The linuxbridge agents' logs on every host that runs one, read from the
    line count they had when the test began."""

    def __init__(self, pool, hosts):
        self.pool, self.hosts = pool, hosts
        self.start = {h: self._lines(h) for h in hosts}

    def _lines(self, host: str) -> int:
        out = self.pool[host].run(f"wc -l < {AGENT_LOG} 2>/dev/null || echo 0", check=False).stdout.strip()
        return int(out or 0)

    def failures(self) -> list[str]:
        found = []
        for host in self.hosts:
            text = self.pool[host].run(f"tail -n +{self.start[host] + 1} {AGENT_LOG} | {EBTABLES_FAILURE}",
                                       check=False).stdout
            found += [f"{host} ({AGENT_LOG}): {line[:300]}" for line in text.splitlines()[:5]]
        return found


@pytest.fixture
def agent_logs(pool, inventory) -> AgentLogs:
    hosts = [h.name for h in inventory.hosts if h.has_role("compute") or h.has_role("gateway")]
    return AgentLogs(pool, hosts)


def answering_on(cloud: Cloud, pool, guest, host: str, when: str, timeout: float = 60) -> None:
    """Wait for the guest's floating address to answer ping; if it does not, fail
    with where the network has the guest: its port's status and binding, and
    each compute's bridge forwarding entry for its MAC (a stale one points the
    traffic at a host the guest left)."""
    try:
        wait_for(lambda: answers_ping(guest.floating_ip), timeout, f"{guest.floating_ip} answering on {host} {when}")
    except WaitTimeout as e:
        port = port_of(cloud, guest.server)
        facts = [f"port {port['id']}: status {port['status']}, bound to {port.get('binding:host_id')}"]
        for name in [h.name for h in cloud.inventory.with_role("compute")]:
            entries = pool[name].run(f"bridge fdb show | grep -i -- {shlex.quote(port['mac_address'])} || true",
                                     check=False).stdout.strip()
            facts.append(f"{name} fdb: {entries or '(none)'}")
        raise GuestError(f"{e}\n" + "\n".join(facts)) from None


def test_a_port_security_guest_migrates_and_its_hosts_still_boot(boot, cloud, inventory, timing, agent_logs, pool):
    """Live-migrate a guest with port security on away and back (its ARP
    protection is rewritten on both hosts); then a new guest boots on each
    host it left, in normal time; no agent logged an ebtables failure."""
    if len(inventory.with_role("compute")) < 2:
        pytest.skip(f"live migration needs two compute hosts; the inventory has {len(inventory.with_role('compute'))}")
    image = inventory.images[0].name
    guest = boot(image)
    assert port_of(cloud, guest.server)["port_security_enabled"] is True
    origin = guest.host
    # answering before it moves: a guest migrated while it boots could fail for
    # reasons of its own boot, and then the migration's fault would not be told apart
    answering_on(cloud, pool, guest, origin, "before any migration", timeout=300)
    _, away = migrate(cloud, guest, timing, "port security away")
    answering_on(cloud, pool, guest, away, "after the migration away")
    migrate(cloud, guest, timing, "port security back", to=origin)
    answering_on(cloud, pool, guest, origin, "after the migration back")
    for left in (origin, away):
        watch = Stopwatch()
        fresh = boot(image, host=left)
        seconds = watch()
        timing(f"boot to ACTIVE on {left} after a migration left it", seconds)
        assert host_of(fresh.server) == left
        assert seconds < 180, f"a guest on {left} took {seconds}s to go ACTIVE after a migration left the host"
        shell = fresh.shell(timeout=300)
        shell.close()
    assert agent_logs.failures() == [], "\n".join(agent_logs.failures())
