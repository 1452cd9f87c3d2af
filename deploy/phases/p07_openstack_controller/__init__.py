"""07-openstack-controller: the control plane on the controller.

MariaDB, RabbitMQ (the report's Qpid) and memcached; Keystone v3; Glance;
Placement; Nova's control services; Neutron's server. Each service's
settings are the dicts in its own module; its steps keep the report's script
names (05-keystone-create-db, 07-keystone-config, ...).
"""
from __future__ import annotations

from ...inventory import Host
from ...steps import Step
from .. import Context, Phase
from . import database, glance, keystone, messaging, neutron, nova, placement


def steps(ctx: Context, host: Host) -> list[Step]:
    if not host.has_role("controller"):
        return []
    result: list[Step] = []
    for service in (database, messaging, keystone, glance, placement, nova, neutron):
        result += service.steps(ctx)
    return result


PHASE = Phase(7, "openstack-controller", ("controller",), steps)
