"""Live migration across the shared instances directory, waited for one way
for everyone: the scenarios and `python -m deploy drain` call `live_migrate`.

What a waiter reads of a Nova server (its host, task state, fault) and the
states a wait gives up on at once live here too, so that the library and the
checks and scenarios (checks/openstack.py, scenarios/cloud.py re-export them)
judge a server the same way."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import time

from .waits import wait_for_status

if TYPE_CHECKING:   # only for the hints: the library imports novaclient where it is used
    from novaclient.v2.client import Client as Nova

# States a wait gives up on at once: nothing leaves them by itself.
SERVER_FAILURES = ("ERROR",)
MIGRATION_FAILURES = ("error", "failed", "cancelled")
TIMEOUT = 300  # a tiny guest under QEMU emulation moves in seconds; a busy 2-core lab is slow, not stuck


def host_of(server: Any) -> str:
    return getattr(server, "OS-EXT-SRV-ATTR:host", None) or "?"


def task_state(server: Any) -> str | None:
    return getattr(server, "OS-EXT-STS:task_state", None)


def fault_of(server: Any) -> str:
    return (getattr(server, "fault", None) or {}).get("message") or ""


def server_detail(server: Any) -> str:
    fault = fault_of(server)
    return f"task {task_state(server)} on {host_of(server)}" + (f", fault: {fault}" if fault else "")


def live_migrations(nova: Nova, server_id: str) -> list:
    """This server's live-migration records, as Nova lists them."""
    return [m for m in nova.migrations.list(instance_uuid=server_id) if m.migration_type == "live-migration"]


def live_migrate(nova: Nova, server, to: str | None = None, timeout: float = TIMEOUT,
                 interval: float = 0.5) -> tuple[float, str]:
    """Live-migrate `server` (a server or its id) to `to`, or where the scheduler
    chooses; no block migration: the instances directory is shared.

    Returns (seconds, new host) once this migration's record (one that did not
    exist before it started) says completed and the server is ACTIVE with no
    task state on another host. The server in ERROR or the record in error,
    failed or cancelled ends the wait at once (deploy.waits.WaitFailed), a
    deadline passed ends it too (WaitTimeout); both messages name the server and
    its source host. A refusal of the request itself is novaclient's exception.
    """
    server_id = getattr(server, "id", server)
    current = nova.servers.get(server_id)
    source, name = host_of(current), current.name
    earlier = {m.id for m in live_migrations(nova, server_id)}  # a way back: the way there does not count
    started = time.monotonic()
    nova.servers.live_migrate(server_id, host=to, block_migration=False)

    def fetch():
        ours = [m for m in live_migrations(nova, server_id) if m.id not in earlier]
        return nova.servers.get(server_id), max(ours, key=lambda m: m.id) if ours else None

    def state(found) -> str:
        found_server, record = found
        if found_server.status in SERVER_FAILURES:
            return found_server.status
        return record.status if record else "not started"

    def ready(found) -> bool:
        found_server, _ = found
        return host_of(found_server) != source and found_server.status == "ACTIVE" and task_state(found_server) is None

    found_server, _ = wait_for_status(
        fetch, "completed", f"{name} ({server_id}) live-migrated away from {source}", timeout,
        failures=SERVER_FAILURES + MIGRATION_FAILURES, state=state, ready=ready,
        detail=lambda found: f"server {found[0].status}, {server_detail(found[0])}", interval=interval)
    return round(time.monotonic() - started, 1), host_of(found_server)
