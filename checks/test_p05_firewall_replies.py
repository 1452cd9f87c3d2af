"""The deny-lists of phases 02 (GlusterFS's ports) and 05 (libvirt's migration
ports) close those ports to new connections from outside; they must not cut
the replies of a host's own connections out. Linux picks a client's source
port from 32768-60999, which holds GlusterFS's brick range 49152-60999, so a
deny by port alone drops the answer to one outgoing connection in three (it
did: the NAT check failed at random after a deploy)."""
import pytest

from checks.probes import connection_source
from deploy.phases.p02_glusterfs_all import BRICK_PORTS
from deploy.phases.p05_kvm_compute import MIGRATION_PORTS

pytestmark = [pytest.mark.p05, pytest.mark.usefixtures("phase_p05")]


def _range(ports: str) -> tuple[int, int]:
    low, high = ports.split(":")
    return int(low), int(high)


@pytest.mark.controller
@pytest.mark.compute
@pytest.mark.parametrize("ports", [_range(BRICK_PORTS), MIGRATION_PORTS], ids=["brick-ports", "migration-ports"])
def test_replies_to_outgoing_connections_pass_the_deny_lists(host, inventory, remote, ports):
    """From a source port inside a denied range, the host connects to a listener
    on the operator's public address (outside the management network, as any
    server on the internet would be): the connection arrives."""
    name = host.backend.hostname
    listen_on = inventory.public.operator_address
    if listen_on is None:
        pytest.skip("networks.public.operator_address is not set: this machine has no address on the public "
                    "network to listen on")
    peer, failure = connection_source(remote, listen_on, ports)
    assert peer is not None, (f"{name}: a connection to {listen_on} from a source port in {ports[0]}-{ports[1]} "
                              f"failed ({failure}): the host's firewall drops the replies to its own connections")
