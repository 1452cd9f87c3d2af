"""09-openstack-gateway: what the report's nova-network did on the gateway,
done by Neutron's agents; the VM network; the dashboard.

The report's 02-nova-start (nova-network, the VNC proxies), 03-nova-network-
create, 04-nova-secgroup-add, 05-dashboard-install ... 07-dashboard-start.
On the gateway: the DHCP, metadata and layer-3 agents (the linuxbridge agent
came in phase 08, with the public network mapped), Horizon under Apache on
the public address, and the public noVNC port forwarded to the controller's
proxy (it validates console tokens in the cell database, which the gateway,
a compute, must not reach). On the controller: the networks, the router and
the default security group's rules, once the gateway's agents report alive.
"""
from __future__ import annotations

from ...inventory import Host
from ...steps import Step
from .. import Context, Phase, p06_openstack_all
from ..p08_openstack_compute import AGENT_FACTS
from . import agents, dashboard, networks


def steps(ctx: Context, host: Host) -> list[Step]:
    if host.has_role("controller"):
        return networks.steps(ctx)
    if not host.has_role("gateway"):
        return []
    return agents.steps(ctx, host) + dashboard.steps(ctx, host)


def packages(ctx: Context, host: Host) -> list[Step]:
    """The gateway's agents and dashboard, services held. Early (after phase 06's debconf
    answers): from the end of phase 05 on, after the compute's own (phase 08's)."""
    return [agents.packages(), dashboard.packages()] if host.has_role("gateway") else []


PHASE = Phase(9, "openstack-gateway", ("gateway", "controller"), steps, discover=AGENT_FACTS,
              early=lambda ctx, host: p06_openstack_all.after_debconf(packages(ctx, host)), early_after=5)
