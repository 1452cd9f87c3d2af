"""07-openstack-controller: the control plane on the controller.

MariaDB, RabbitMQ (the report's Qpid) and memcached (modules here); then
every OpenStack service of deploy/services in its SPEC's order (Keystone v3,
the image, compute, network and volume services, ...; Cinder in place of the
report's nova-volume): Keystone first, then the others' steps each in a lane
of its own, the lanes at once (their db syncs and starts wait on different
things; on two cores one service's start waits while another's sync runs).
Each service's settings and steps are in its own
module there; the steps keep the report's script names (05-keystone-create-db,
07-keystone-config, ...).
"""
from __future__ import annotations

from pathlib import Path

from ... import glance_images
from ...inventory import Host
from ...services import all_services
from ...steps import Packages, Step
from .. import Context, OperatorTask, Phase, p06_openstack_all
from . import database, flavors, messaging


def steps(ctx: Context, host: Host) -> list[Step]:
    if not host.has_role("controller"):
        return []
    result: list[Step] = database.steps(ctx) + messaging.steps(ctx)
    for service in all_services():
        own = service.steps(ctx)
        for step in own if service.own_lane else ():
            step.lane = service.name   # beside the other services, once Keystone is in place
        result += own
    for step in flavors.steps(ctx):    # Nova's flavors, once Nova answers: in Nova's lane
        step.lane = "nova"
        result.append(step)
    return [transaction(result), *result]


def transaction(steps: list[Step]) -> Packages:
    """One apt transaction for every package of the phase's steps (dependencies
    resolved, triggers run once); each service's own install step then finds its
    packages in place."""
    names = list(dict.fromkeys(n for s in steps if isinstance(s, Packages) for n in s.names))
    return Packages("01-install-packages", names, hold_services=True,
                    title=f"the {len(names)} packages of the phase, one transaction")


def packages(ctx: Context, host: Host) -> list[Step]:
    """The controller's transaction. Early (after phase 06's debconf answers) it needs
    only phases 01-04 (04 gives nova, cinder and glance their numeric ids), so it
    runs from the end of phase 04 on, beside the computes' phases 05 and 06."""
    return steps(ctx, host)[:1]


def image_cache() -> Path:
    from images import DEFAULT_CACHE
    return DEFAULT_CACHE


# The report's 18-add-cirros and 19-add-ubuntu: images built here while the
# controller installs, uploaded once Glance answers.
ADD_IMAGES = OperatorTask(
    "18-add-images",
    prepare=lambda ctx: glance_images.local_files(ctx.inventory, image_cache()),
    apply=lambda ctx, files, progress: glance_images.converge(ctx.inventory, ctx.secrets, files, progress),
)

PHASE = Phase(7, "openstack-controller", ("controller",), steps, operator=ADD_IMAGES, early_after=4,
              early=lambda ctx, host: p06_openstack_all.after_debconf(packages(ctx, host)))
