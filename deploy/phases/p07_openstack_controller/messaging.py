"""RabbitMQ (the report's Qpid), one user per service and no `guest`, and
memcached reachable only from its clients; both on the management address."""
from __future__ import annotations

from ...firewall import NEW_ONLY, Chain, RuleSet, firewall_steps
from ...inventory import Host, Inventory
from ...remote import WithStdin
from ...services.shared import RABBIT_USERS
from ...steps import Command, File, Line, Packages, Service, Step
from .. import Context

MEMCACHED_PORT = "11211"


def steps(ctx: Context) -> list[Step]:
    inv = ctx.inventory
    address = inv.controller.address
    env = File("02-rabbitmq-install", "/etc/rabbitmq/rabbitmq-env.conf",
               "# Written by the deploy suite: listen on the management address only.\n"
               f"NODE_IP_ADDRESS={address}\nERL_EPMD_ADDRESS={address}\nNODENAME=rabbit@{inv.controller.name}\n")
    memcached = Line("02-memcached-install", "/etc/memcached.conf", f"-l {address}",
                     match=lambda l: l.startswith("-l "), title=f"memcached listens on {address}")
    return [
        Packages("02-rabbitmq-install", ["rabbitmq-server", "memcached", "python3-memcache"], hold_services=True),
        env,
        Service("03-rabbitmq-start", "rabbitmq-server", restart_on=[env]),
        *(rabbit_user(ctx, user) for user in RABBIT_USERS),
        # The package's `guest` (password guest), and the one user all services
        # shared before each had its own: no longer anybody's.
        *(Command("03-rabbitmq-start", f"rabbitmqctl -q delete_user {old}",
                  unless=f"! rabbitmqctl -q list_users | cut -f1 | grep -qx {old}",
                  title=f"RabbitMQ user {old} removed") for old in RABBIT_REMOVED),
        memcached,
        *firewall_steps("02-memcached-install", memcached_rules(inv)),
        Service("03-memcached-start", "memcached", restart_on=[memcached]),
    ]


RABBIT_REMOVED = ("guest", "openstack")


def rabbit_user(ctx: Context, user: str) -> Step:
    # rabbitmqctl reads the password from standard input when its argument is
    # left out (add_user, change_password, authenticate_user); printf is the
    # shell's own, so the password is on no command line.
    pw = ctx.secrets.get(f"rabbit_{user}").reveal()
    return Command(
        "03-rabbitmq-start",
        WithStdin(f'IFS= read -r pw && {{ printf "%s\\n" "$pw" | rabbitmqctl -q add_user {user} || '
                  f'printf "%s\\n" "$pw" | rabbitmqctl -q change_password {user}; }} && '
                  f"rabbitmqctl set_permissions {user} '.*' '.*' '.*'", pw + "\n"),
        unless=WithStdin(f'IFS= read -r pw && printf "%s\\n" "$pw" | '
                         f"rabbitmqctl -q authenticate_user {user} >/dev/null 2>&1 && "
                         f"rabbitmqctl list_user_permissions {user} | grep -q '^/'", pw + "\n"),
        title=f"RabbitMQ user {user} with the secrets file's password")


def memcached_clients(inv: Inventory) -> list[Host]:
    """Who asks memcached: the controller (Keystone's cache, the APIs' token
    cache) and the dashboard's host (Horizon's sessions)."""
    return [inv.controller] + [h for h in inv.with_role("gateway") if h.name != inv.controller.name]


def memcached_rules(inv: Inventory) -> RuleSet:
    """memcached has no authentication: only its clients reach it."""
    rules = [["-i", "lo", "-j", "ACCEPT"]]
    rules += [["-s", h.address, "-p", "tcp", "--dport", MEMCACHED_PORT, "-j", "ACCEPT"] for h in memcached_clients(inv)]
    rules.append(["-p", "tcp", "--dport", MEMCACHED_PORT, *NEW_ONLY, "-j", "DROP"])
    return RuleSet("memcached", [Chain("filter", "INPUT", rules)])
