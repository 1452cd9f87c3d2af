"""A fake Debian host for self-tests: it understands the fact and action
commands that deploy.steps emits, keeps state in dicts, and records every
command that changes something. No network, no shell."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from deploy.inventory import Host
from deploy.remote import RemoteError, Result


@dataclass
class FakeHost:
    files: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)  # path -> content, mode, owner, group
    packages: set[str] = field(default_factory=set)
    sysctl: dict[str, str] = field(default_factory=dict)
    units: dict[str, list[str]] = field(default_factory=dict)  # name -> [enabled, active]
    iptables: set[str] = field(default_factory=set)
    changes: list[str] = field(default_factory=list)
    fail_on: str | None = None  # a regex: commands matching it exit 1
    groups: dict[str, int] = field(default_factory=dict)
    users: dict[str, tuple[int, int]] = field(default_factory=dict)
    # guard command (a Command step's `unless`) -> the command that satisfies it
    guards: dict[str, str] = field(default_factory=dict)
    ran: set[str] = field(default_factory=set)  # every command ever run, unlike `changes`
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

    # -- the Remote interface used by the runner
    def run_many(self, commands):
        self.round_trips += 1
        return [self._fact(c) for c in commands]

    def run(self, command, *, check=True, stdin=None, timeout=None):
        self.round_trips += 1
        text = command if isinstance(command, str) else shlex.join(command)
        s = self.state
        if s.fail_on and re.search(s.fail_on, text):
            raise RemoteError(self.host.name, text, 1, "simulated failure")
        s.changes.append(text)
        s.ran.add(text)
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
        elif "deploy-firewall-" in text:
            s.iptables.add("nat")
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
    def _fact(self, text: str) -> Result:
        s = self.state
        ok = lambda out="": Result(self.host.name, text, 0, out, "")
        fail = Result(self.host.name, text, 1, "", "")
        if text.startswith("ls -A /var/lib/dpkg/updates"):
            return ok(s.dpkg_interrupted)
        if text.startswith("dpkg-query"):
            names = shlex.split(text)[3:]
            return ok("".join(f"{n} ii \n" for n in names if n in s.packages))
        if m := re.match(r"stat -c '%a %U %G' (\S+) && cat", text):
            path = shlex.split(m[1])[0]
            if path not in s.files:
                return fail
            content, mode, owner, group = s.files[path]
            return ok(f"{int(mode, 8):o} {owner} {group}\n{content}")
        if m := re.match(r"sysctl -n (\S+)", text):
            return ok(s.sysctl.get(m[1], "0") + "\n")
        if m := re.match(r"echo \$\(systemctl is-enabled (\S+)", text):
            enabled, active = s.units.get(m[1], ["missing", "inactive"])
            watched = re.search(r"stat -c %Y (.*?) 2>/dev/null", text)
            newest = max((s.mtimes.get(p, 0) for p in shlex.split(watched[1])), default=0) if watched else 0
            return ok(f"{enabled} {active} no {s.unit_started.get(m[1], 0)} {newest}\n")
        if text in s.guards:
            return ok() if s.guards[text] in s.ran else fail
        if text.startswith("iptables"):
            return ok() if "nat" in s.iptables else fail
        if m := re.match(r'echo "\$\(getent group (\S+) \| cut -d: -f3\)(?: \$\(getent passwd (\S+))?', text):
            gid = s.groups.get(m[1], "")
            user = s.users.get(m[2]) if m[2] else None
            return ok(f"{gid} {user[0]}:{user[1]}\n" if user else f"{gid} \n")
        if text.startswith(("test ", "python3 -c", "ss -Hltn")) or "gluster" in text:  # Await conditions: they hold
            return ok()
        raise AssertionError(f"fake host does not understand fact: {text}")
