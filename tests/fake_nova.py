"""A fake novaclient Client (microversion 2.53 and later: services by id) for
self-tests of the live-migration waiter and drain: services, servers on hosts,
and live migrations whose record goes through the states a test scripts, one
state per look at Nova's migration list. Nothing is contacted."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field


class NotFound(Exception):
    pass


@dataclass
class FakeService:
    id: str
    host: str
    binary: str = "nova-compute"
    status: str = "enabled"
    state: str = "up"
    disabled_reason: str | None = None
    forced_down: bool = False
    zone: str = "nova"


class FakeServer:
    def __init__(self, id: str, name: str, host: str, status: str = "ACTIVE"):
        self.id, self.name, self.status = id, name, status
        setattr(self, "OS-EXT-SRV-ATTR:host", host)
        setattr(self, "OS-EXT-STS:task_state", None)

    @property
    def host(self) -> str:
        return getattr(self, "OS-EXT-SRV-ATTR:host")

    def snapshot(self) -> "FakeServer":
        """What one GET answers: a copy, so a test sees states as they were."""
        copy = FakeServer(self.id, self.name, self.host, self.status)
        setattr(copy, "OS-EXT-STS:task_state", getattr(self, "OS-EXT-STS:task_state"))
        return copy


@dataclass
class FakeMigration:
    id: int
    instance_uuid: str
    source: str
    dest: str
    states: list[str]      # what the record says at each look; the last one stays
    migration_type: str = "live-migration"
    status: str = "queued"
    unseen: int = 0        # looks before Nova lists it (the conductor makes the record, after the API answered)


@dataclass
class FakeNova:
    services_: list[FakeService] = field(default_factory=list)
    servers_: dict[str, FakeServer] = field(default_factory=dict)
    migrations_: list[FakeMigration] = field(default_factory=list)
    # per server id: the states its next migration's record goes through
    scripts: dict[str, list[str]] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)   # per server id: its next record's `unseen`
    calls: list[tuple] = field(default_factory=list)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.services, self.servers, self.migrations = Services(self), Servers(self), Migrations(self)

    @classmethod
    def with_computes(cls, *hosts: str) -> "FakeNova":
        return cls([FakeService(f"uuid-{h}", h) for h in hosts]
                   + [FakeService("uuid-sched", "controller", binary="nova-scheduler")])

    def boot(self, name: str, host: str, status: str = "ACTIVE") -> FakeServer:
        server = FakeServer(f"id-{name}", name, host, status)
        self.servers_[server.id] = server
        return server

    def service(self, host: str) -> FakeService:
        return next(s for s in self.services_ if s.host == host and s.binary == "nova-compute")

    def step(self, migration: FakeMigration) -> None:
        """One look at the record: it moves to its next scripted state, and the server with it."""
        if migration.states:
            migration.status = migration.states.pop(0)
        server = self.servers_[migration.instance_uuid]
        if migration.status in ("queued", "preparing", "running"):
            server.status = "MIGRATING"
            setattr(server, "OS-EXT-STS:task_state", "migrating")
        elif migration.status == "completed":
            server.status = "ACTIVE"
            setattr(server, "OS-EXT-SRV-ATTR:host", migration.dest)
            setattr(server, "OS-EXT-STS:task_state", None)
        elif migration.status in ("error", "failed", "cancelled"):
            server.status = "ACTIVE"   # Nova rolls back: the guest runs on where it was
            setattr(server, "OS-EXT-STS:task_state", None)


class Services:
    def __init__(self, nova: FakeNova):
        self.nova = nova

    def list(self, host=None, binary=None):
        return [s for s in self.nova.services_ if (host is None or s.host == host)
                and (binary is None or s.binary == binary)]

    def _by_id(self, service_id: str) -> FakeService:
        return next(s for s in self.nova.services_ if s.id == service_id)

    def disable_log_reason(self, service_id: str, reason: str):
        self.nova.calls.append(("disable_log_reason", service_id, reason))
        service = self._by_id(service_id)
        service.status, service.disabled_reason = "disabled", reason
        return service

    def enable(self, service_id: str):
        self.nova.calls.append(("enable", service_id))
        service = self._by_id(service_id)
        service.status, service.disabled_reason = "enabled", None
        return service

    def force_down(self, service_id: str, force_down: bool):
        self.nova.calls.append(("force_down", service_id, force_down))
        service = self._by_id(service_id)
        service.forced_down = force_down
        return service


class Servers:
    def __init__(self, nova: FakeNova):
        self.nova = nova

    def get(self, server_id: str):
        if server_id not in self.nova.servers_:
            raise NotFound(server_id)
        return self.nova.servers_[server_id].snapshot()

    def list(self, detailed=True, search_opts=None, limit=None):
        self.nova.calls.append(("servers.list", dict(search_opts or {}), limit))
        opts = search_opts or {}
        assert opts.get("all_tenants") == 1, "a drain lists every project's servers"
        return [s.snapshot() for s in self.nova.servers_.values() if s.host == opts.get("host", s.host)]

    def live_migrate(self, server, host=None, block_migration=None):
        server_id = getattr(server, "id", server)
        self.nova.calls.append(("live_migrate", server_id, host, block_migration))
        assert block_migration is False, "the instances directory is shared: no block migration"
        source = self.nova.servers_[server_id].host
        dest = host or next(s.host for s in self.nova.services_ if s.binary == "nova-compute"
                            and s.host != source and s.status == "enabled")
        states = self.nova.scripts.get(server_id, ["running", "completed"])
        self.nova.migrations_.append(FakeMigration(100 + next(self.nova.ids), server_id, source, dest, list(states),
                                                   unseen=self.nova.unseen.get(server_id, 0)))


class Migrations:
    def __init__(self, nova: FakeNova):
        self.nova = nova

    def list(self, instance_uuid=None):
        found = []
        for migration in self.nova.migrations_:
            if migration.instance_uuid != instance_uuid:
                continue
            if migration.unseen:
                migration.unseen -= 1
                continue
            found.append(migration)
        for migration in found:
            if migration.states:
                self.nova.step(migration)
        return list(found)
