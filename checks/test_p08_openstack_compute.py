"""Checks of 08-openstack-compute: every compute is a hypervisor of the chosen
type, its nova-compute is up in the report's service table, and its
linuxbridge agent is alive."""
import pytest
from novaclient import client as nova_client

from checks.openstack import NOVA_MICROVERSION, Neutron, admin_session, service_table, unhealthy_services

pytestmark = [pytest.mark.p08, pytest.mark.usefixtures("phase_p08")]


@pytest.fixture(scope="module")
def nova(inventory, secrets):
    return nova_client.Client(NOVA_MICROVERSION, session=admin_session(inventory, secrets))


@pytest.fixture(scope="module")
def hypervisors(inventory, secrets):
    """Hypervisors as of 2.87: from 2.88 on, listing them asks every compute for
    its uptime over RPC, and one busy compute then fails the whole list."""
    return nova_client.Client("2.87", session=admin_session(inventory, secrets)).hypervisors


@pytest.fixture(scope="module")
def session(inventory, secrets):
    return admin_session(inventory, secrets)


def expected_type(pool, name: str) -> str:
    record = pool[name].run(["cat", "/etc/deploy/hypervisor"]).stdout.strip()
    return {"virt_type=kvm": "QEMU", "virt_type=qemu": "QEMU"}.get(record, record)


@pytest.mark.compute
def test_every_compute_is_a_hypervisor(hypervisors, inventory, pool):
    listed = {h.hypervisor_hostname.split(".")[0]: h for h in hypervisors.list()}
    wrong = []
    for host in inventory.with_role("compute"):
        hv = listed.get(host.name)
        if hv is None:
            wrong.append(f"{host.name}: not a hypervisor")
        elif hv.state != "up" or hv.hypervisor_type != expected_type(pool, host.name):
            wrong.append(f"{host.name}: {hv.hypervisor_type} {hv.state}")
    assert not wrong, f"hypervisor list ({sorted(listed)}): " + "; ".join(wrong)


@pytest.mark.compute
def test_every_compute_answers_rpc_calls(nova, inventory):
    """Listing hypervisors at 2.88+ asks each compute for its uptime over RPC:
    repeated, it goes through every API worker, as attaching a volume or
    migrating would."""
    for attempt in range(4):
        uptimes = {h.hypervisor_hostname.split(".")[0]: h.uptime for h in nova.hypervisors.list()}
        silent = sorted(h.name for h in inventory.with_role("compute") if not uptimes.get(h.name))
        assert not silent, f"call {attempt + 1}: no uptime from {silent} (their nova-compute did not answer)"


@pytest.mark.compute
def test_service_table_all_smiling(nova, inventory, report_section):
    """The report's Table 4: conductor and scheduler, and nova-compute on every compute, all `:-)` and enabled."""
    services = nova.services.list()
    table = service_table(services)
    print("\n" + table)
    report_section("Nova service table (the report's Table 4)", table)
    computes = {s.host for s in services if s.binary == "nova-compute"}
    missing = {h.name for h in inventory.with_role("compute")} - computes
    assert not missing, f"no nova-compute on {sorted(missing)}:\n{table}"
    wrong = unhealthy_services(services)
    assert not wrong, f"services not up and enabled in the service table: {wrong}\n{table}"


@pytest.mark.compute
def test_linuxbridge_agent_alive_on_every_compute(session, inventory):
    agents = Neutron(session).get("/agents")["agents"]
    alive = {a["host"] for a in agents if a["agent_type"] == "Linux bridge agent" and a["alive"]}
    missing = {h.name for h in inventory.with_role("compute")} - alive
    assert not missing, f"Linux bridge agent not alive on {sorted(missing)}: {[(a['host'], a['agent_type'], a['alive']) for a in agents]}"
