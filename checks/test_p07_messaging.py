"""Checks of phase 07's message queue and cache, as a host on the management
network meets them: RabbitMQ refuses its package's `guest` and knows exactly
one user per service; memcached (no authentication of its own) answers its
clients only."""
import pytest

from deploy.phases.p07_openstack_controller.messaging import MEMCACHED_PORT, RABBIT_REMOVED, memcached_clients
from deploy.services.shared import RABBIT_USERS

pytestmark = [pytest.mark.p07, pytest.mark.usefixtures("phase_p07")]

PROBE_TIMEOUT = 3  # seconds; a dropped connection shows as a timeout, a round trip here takes milliseconds


@pytest.mark.controller
def test_rabbitmq_refuses_guest(host, remote):
    """The broker is asked to authenticate guest/guest (the package's default account)."""
    answer = remote.run("printf 'guest\\n' | rabbitmqctl -q authenticate_user guest", check=False)
    assert answer.rc != 0, f"{remote.host.name}: RabbitMQ authenticates guest/guest: {answer.stdout.strip()}"


@pytest.mark.controller
def test_rabbitmq_has_one_user_per_service_and_no_other(host, remote):
    listed = remote.run("rabbitmqctl -q list_users --no-table-headers").stdout.split("\n")
    users = {line.split("\t")[0].strip() for line in listed if line.strip()}
    assert users == set(RABBIT_USERS), (f"{remote.host.name}: RabbitMQ users {sorted(users)}, expected one per "
                                        f"service {sorted(RABBIT_USERS)} (and none of {RABBIT_REMOVED})")


@pytest.mark.controller
def test_memcached_answers_its_clients_only(inventory, pool):
    controller = inventory.controller
    clients = {h.name for h in memcached_clients(inventory)}
    probe = f"timeout {PROBE_TIMEOUT} bash -c '</dev/tcp/{controller.address}/{MEMCACHED_PORT}'"
    wrong = []
    for h in inventory.hosts:
        reached = pool[h.name].run(probe, check=False).rc == 0
        if reached != (h.name in clients):
            wrong.append(f"{h.name} {'reaches' if reached else 'cannot reach'} it"
                         f" ({'a client' if h.name in clients else 'not a client'})")
    assert not wrong, f"memcached on {controller.name} {controller.address}:{MEMCACHED_PORT}: " + "; ".join(wrong)
