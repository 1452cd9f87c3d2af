"""RabbitMQ (the report's Qpid) and memcached, on the management address."""
from __future__ import annotations

from ...steps import Command, File, Line, Packages, Service, Step
from .. import Context


def steps(ctx: Context) -> list[Step]:
    inv = ctx.inventory
    address = inv.controller.address
    env = File("02-rabbitmq-install", "/etc/rabbitmq/rabbitmq-env.conf",
               "# Written by the deploy suite: listen on the management address only.\n"
               f"NODE_IP_ADDRESS={address}\nERL_EPMD_ADDRESS={address}\nNODENAME=rabbit@{inv.controller.name}\n")
    memcached = Line("02-memcached-install", "/etc/memcached.conf", f"-l {address}",
                     match=lambda l: l.startswith("-l "), title=f"memcached listens on {address}")
    pw = ctx.secrets.get("rabbit_openstack").reveal()
    return [
        Packages("02-rabbitmq-install", ["rabbitmq-server", "memcached", "python3-memcache"], hold_services=True),
        env,
        Service("03-rabbitmq-start", "rabbitmq-server", restart_on=[env]),
        Command("03-rabbitmq-start",
                f"{{ rabbitmqctl add_user openstack '{pw}' || rabbitmqctl change_password openstack '{pw}'; }} && "
                "rabbitmqctl set_permissions openstack '.*' '.*' '.*'",
                unless=f"rabbitmqctl authenticate_user openstack '{pw}' >/dev/null 2>&1 && "
                       "rabbitmqctl list_user_permissions openstack | grep -q '^/'",
                title="RabbitMQ user openstack with the secrets file's password"),
        memcached,
        Service("03-memcached-start", "memcached", restart_on=[memcached]),
    ]
