"""RabbitMQ (the report's Qpid) and memcached, on the management address."""
from __future__ import annotations

from ...remote import WithStdin
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
        # rabbitmqctl reads the password from standard input when its argument is
        # left out (add_user, change_password, authenticate_user); printf is the
        # shell's own, so the password is on no command line.
        Command("03-rabbitmq-start",
                WithStdin('IFS= read -r pw && { printf "%s\\n" "$pw" | rabbitmqctl -q add_user openstack || '
                          'printf "%s\\n" "$pw" | rabbitmqctl -q change_password openstack; } && '
                          "rabbitmqctl set_permissions openstack '.*' '.*' '.*'", pw + "\n"),
                unless=WithStdin('IFS= read -r pw && printf "%s\\n" "$pw" | '
                                 "rabbitmqctl -q authenticate_user openstack >/dev/null 2>&1 && "
                                 "rabbitmqctl list_user_permissions openstack | grep -q '^/'", pw + "\n"),
                title="RabbitMQ user openstack with the secrets file's password"),
        memcached,
        Service("03-memcached-start", "memcached", restart_on=[memcached]),
    ]
