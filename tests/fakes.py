"""A fake Debian host for self-tests: a table of fact values (deploy/facts.py).

It answers facts as values, not shell text: what its actions change (packages,
files, units, sysctls, accounts) it keeps in dicts and answers from them; every
other fact (a GlusterFS volume, a command that succeeds, a service answering)
has the value its `table` gives, else the value of a bare host (`Fact.absent`).
Nothing comes true because a step's own command ran: a test says what the host
shows. `override` wins over both (a test flips one fact). It records every
command that changes something. No network, no shell."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from deploy.facts import AccountIds, AccountInfo, DpkgInterrupted, Fact, FileInfo, FileState, Installed, \
    SysctlValue, UnitInfo, UnitState
from deploy.inventory import Host
from deploy.remote import RemoteError, Result


@dataclass
class FakeHost:
    files: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)  # path -> content, mode, owner, group
    packages: set[str] = field(default_factory=set)
    sysctl: dict[str, str] = field(default_factory=dict)
    units: dict[str, list[str]] = field(default_factory=dict)  # name -> [enabled, active]
    changes: list[str] = field(default_factory=list)
    fail_on: str | None = None  # a regex: commands matching it exit 1
    groups: dict[str, int] = field(default_factory=dict)
    users: dict[str, tuple[int, int]] = field(default_factory=dict)
    table: dict[Fact, object] = field(default_factory=dict)     # facts no action of the fake changes
    override: dict[Fact, object] = field(default_factory=dict)  # a test's flipped facts: they win
    dpkg_interrupted: str = ""  # what the interrupted-dpkg fact shows (a killed transaction)
    clock: int = 1000           # seconds: each write and each start takes one
    mtimes: dict[str, int] = field(default_factory=dict)       # path -> when last written
    unit_started: dict[str, int] = field(default_factory=dict)  # unit -> when it last entered its state

    def tick(self) -> int:
        self.clock += 1
        return self.clock


class FakeRemote:
    def __init__(self, host: Host, state: FakeHost | None = None):
        self.host = host
        self.state = state or FakeHost()
        self.round_trips = 0

    # -- the Remote interface used by the runner (deploy.facts.read)
    def read_facts(self, facts):
        self.round_trips += 1
        return {f: self.value(f) for f in facts}

    def run_many(self, commands):
        raise AssertionError(f"the fake host answers facts, not command texts: {commands}")

    def run(self, command, *, check=True, stdin=None, timeout=None):
        self.round_trips += 1
        text = command if isinstance(command, str) else shlex.join(command)
        s = self.state
        if s.fail_on and re.search(s.fail_on, text):
            raise RemoteError(self.host.name, text, 1, "simulated failure")
        s.changes.append(text)
        if "dpkg --configure -a" in text:
            s.dpkg_interrupted = ""
        if "apt-get" in text and " install " in text:
            names = text.split(" install ", 1)[1].split(";")[0].split("||")[0].split()
            s.packages.update(n for n in names if not n.startswith("-"))
        elif m := re.match(r"sysctl -q -w (\S+)=(\S+)", text):
            s.sysctl[m[1]] = m[2]
        elif m := re.match(r"systemctl (enable|start|restart|stop|daemon-reload) ?(\S*)", text):
            unit = s.units.setdefault(m[2], ["disabled", "inactive"])
            if m[1] == "enable":
                unit[0] = "enabled"
            elif m[1] == "restart" or (m[1] == "start" and unit[1] != "active"):
                unit[1] = "active"
                s.unit_started[m[2]] = s.tick()
            elif m[1] == "stop":
                unit[1] = "inactive"
        elif m := re.fullmatch(r"chmod (\S+) (\S+)", text):
            c, _, o, g = s.files[m[2]]
            s.files[m[2]] = (c, m[1], o, g)
        elif m := re.fullmatch(r"chown (\S+):(\S+) (\S+)", text):
            c, mode, _, _ = s.files[m[3]]
            s.files[m[3]] = (c, mode, m[1], m[2])
        elif m := re.match(r"(groupadd --system|groupmod) --gid (\d+) (\S+)", text):
            s.groups[m[3]] = int(m[2])
        elif m := re.match(r"(useradd --system|usermod) --uid (\d+) --gid (\d+) .*?(\S+)$", text):
            s.users[m[4]] = (int(m[2]), int(m[3]))
        return Result(self.host.name, text, 0, "", "")

    def put(self, path, content, *, mode="0644", owner="root", group="root"):
        self.round_trips += 1
        self.state.changes.append(f"write {path}")
        self.state.files[path] = (content.decode(), mode, owner, group)
        self.state.mtimes[path] = self.state.tick()

    # -- facts
    def value(self, fact: Fact) -> object:
        s = self.state
        if fact in s.override:
            return s.override[fact]
        if isinstance(fact, Installed):
            return frozenset(n for n in fact.names if n in s.packages)
        if isinstance(fact, DpkgInterrupted):
            return s.dpkg_interrupted.split("\n")[0].strip()
        if isinstance(fact, FileState):
            if fact.path not in s.files:
                return None
            content, mode, owner, group = s.files[fact.path]
            return FileInfo(f"{int(mode, 8):o}", owner, group, content)
        if isinstance(fact, SysctlValue):
            return s.sysctl.get(fact.name, "0")
        if isinstance(fact, UnitState):
            enabled, active = s.units.get(fact.unit, ["missing", "inactive"])
            newest = max((s.mtimes.get(p, 0) for p in fact.watched), default=0)
            return UnitInfo(enabled, active, False, s.unit_started.get(fact.unit, 0), newest)
        if isinstance(fact, AccountIds):
            user = s.users.get(fact.user) if fact.user else None
            return AccountInfo(str(s.groups.get(fact.group, "")), f"{user[0]}:{user[1]}" if user else "")
        return s.table.get(fact, fact.absent)
