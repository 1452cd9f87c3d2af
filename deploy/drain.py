"""Drain a compute for maintenance and bring it back (`python -m deploy drain
HOST`, `python -m deploy undrain HOST`), through Nova's API as the admin.

drain: disable the host's nova-compute with a reason (the scheduler places
nothing new there), live-migrate every server on it, of every project, one
after another with the scenarios' waiter (deploy.migration.live_migrate), the
scheduler choosing each target, and require the host empty at the end.
Only an ACTIVE guest live-migrates, and cold migration is not set up in this
cloud (Nova would ask over SSH between computes): any other guest on the host
refuses the drain by name before anything changes. undrain: enable the service
again (and clear forced_down). Both may be run again: a drained, empty host
stays so; an enabled host stays enabled.

Every function takes a novaclient Client of microversion 2.53 or later
(services by id; deploy.openstack_api.NOVA_MICROVERSION)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from collections.abc import Callable, Collection
from dataclasses import dataclass

from .migration import TIMEOUT, live_migrate, server_detail
from .waits import WaitFailed, WaitTimeout

if TYPE_CHECKING:   # only for the hints: the library imports novaclient where it is used
    from novaclient.v2.client import Client as Nova

COMPUTE = "nova-compute"
DEFAULT_REASON = "drained by python -m deploy drain"


class DrainRefused(RuntimeError):
    """Nothing to drain by that name: the message names the host and the computes Nova has."""


class DrainFailed(RuntimeError):
    """The host could not be left empty; the message names the guest at fault."""


@dataclass(frozen=True)
class Moved:
    name: str
    id: str
    source: str
    target: str
    seconds: float

    def line(self) -> str:
        return f"moved {self.name} ({self.id}) from {self.source} to {self.target} in {self.seconds:.1f}s"


def compute_service(nova: Nova, host: str, inventory_computes: Collection[str] = ()) -> Any:
    """Nova's nova-compute service on `host`; DrainRefused naming the computes Nova lists if none."""
    services = nova.services.list(binary=COMPUTE)
    found = [s for s in services if s.host == host]
    if found:
        return found[0]
    known = ", ".join(sorted({s.host for s in services})) or "none"
    why = (" (a compute of the inventory: is it deployed? python -m deploy apply)"
           if host in inventory_computes else "")
    raise DrainRefused(f"Nova lists no {COMPUTE} on {host}{why}; Nova's computes: {known}")


def servers_on(nova: Nova, host: str) -> list:
    """Every server Nova places on `host`, of every project, all pages."""
    return nova.servers.list(search_opts={"all_tenants": 1, "host": host}, limit=-1)


def _unmovable(servers) -> list[str]:
    """A line per server that cannot live-migrate now, saying what would let it."""
    lines = []
    for s in servers:
        if s.status == "ACTIVE":
            continue
        what = ("a migration or other task is under way: wait for it to end" if s.status in ("MIGRATING", "BUILD")
                else "only an ACTIVE guest live-migrates (no cold migration in this cloud): start or delete it")
        lines.append(f"guest {s.name} ({s.id}) is {s.status} ({server_detail(s)}): {what}")
    return lines


def _refuse_unmovable(servers, disabled: bool) -> None:
    unmovable = _unmovable(servers)
    if unmovable:
        state = "its nova-compute is disabled now (undrain enables it)" if disabled else "nothing was changed"
        raise DrainFailed(f"{'; '.join(unmovable)}; then drain again ({state})")


def drain(nova: Nova, host: str, reason: str = DEFAULT_REASON, timeout_per_guest: float = TIMEOUT, *,
          inventory_computes: Collection[str] = (), say: Callable[[str], None] = print,
          interval: float = 0.5) -> list[Moved]:
    """Disable `host`'s nova-compute with `reason`, live-migrate each of its
    servers away, and return what moved; the host is empty when this returns.

    DrainRefused: Nova lists no nova-compute on `host`. DrainFailed (naming the
    guest): a guest not ACTIVE, the host's service down while guests remain (a
    lost host's guests are evacuated, not migrated), a migration that failed,
    was refused or outlasted `timeout_per_guest`, a server still there at the end.
    """
    service = compute_service(nova, host, inventory_computes)
    servers = servers_on(nova, host)
    _refuse_unmovable(servers, disabled=False)
    if servers and service.state != "up":
        raise DrainFailed(f"its {COMPUTE} is {service.state}: live migration needs it up; guests there: "
                          f"{', '.join(f'{s.name} ({s.id})' for s in servers)} (a lost host's guests are "
                          "evacuated, not migrated); nothing was changed")
    if service.status == "disabled":
        say(f"{host}: {COMPUTE} already disabled (reason: {service.disabled_reason or 'none given'})")
    else:
        nova.services.disable_log_reason(service.id, reason)
        say(f"{host}: {COMPUTE} disabled (reason: {reason}): the scheduler places nothing new there")
    servers = servers_on(nova, host)  # what landed between the first look and the disable counts too
    _refuse_unmovable(servers, disabled=True)
    if not servers:
        say(f"{host}: already empty: no server to move")
    moved = []
    for i, server in enumerate(servers, 1):
        say(f"{host}: [{i}/{len(servers)}] live-migrating {server.name} ({server.id}), the scheduler choosing where")
        moved.append(_move(nova, host, server, timeout_per_guest, interval))
    left = servers_on(nova, host)
    if left:
        raise DrainFailed(f"still on {host} after the drain: "
                          f"{', '.join(f'{s.name} ({s.id}, {s.status})' for s in left)}; drain again")
    return moved


def _move(nova: Nova, host: str, server, timeout: float, interval: float) -> Moved:
    from novaclient import exceptions as nova_exceptions

    guest = f"guest {server.name} ({server.id})"
    try:
        seconds, target = live_migrate(nova, server.id, timeout=timeout, interval=interval)
    except WaitFailed as e:
        raise DrainFailed(f"{guest}: {e}; see nova-compute's log on {host} (and nova-conductor's on the "
                          f"controller: the scheduler's choice); {host} stays disabled") from None
    except WaitTimeout as e:
        raise DrainFailed(f"{guest}: {e}; {host} stays disabled") from None
    except nova_exceptions.ClientException as e:   # the request refused (409: a task under way, 400: ...)
        raise DrainFailed(f"{guest}: Nova refused its live migration: {e}; {host} stays disabled") from None
    return Moved(server.name, server.id, host, target, seconds)


def undrain(nova: Nova, host: str, *, inventory_computes: Collection[str] = ()) -> list[str]:
    """Enable `host`'s nova-compute again (clearing forced_down if set); what was done, as lines."""
    service = compute_service(nova, host, inventory_computes)
    lines = []
    if getattr(service, "forced_down", False):
        nova.services.force_down(service.id, False)
        lines.append(f"{host}: {COMPUTE} no longer forced down")
    if service.status == "disabled":
        reason = service.disabled_reason or "no reason given"
        nova.services.enable(service.id)
        lines.append(f"{host}: {COMPUTE} enabled (it was disabled: {reason}); "
                     "the scheduler may place guests there again")
    else:
        lines.append(f"{host}: {COMPUTE} already enabled")
    now = compute_service(nova, host, inventory_computes)
    lines.append(f"{host}: {COMPUTE} now {now.status}, {now.state}" + (
        "" if now.state == "up" else f" (start it on the host: systemctl start {COMPUTE}; guests land only "
                                     "on a compute that is up)"))
    return lines
