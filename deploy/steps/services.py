"""The kernel, systemd units and accounts: a sysctl set now, a unit enabled and
running (restarted when its configuration is newer), a group and user with fixed ids."""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..facts import AccountIds, Fact, SysctlValue, UnitInfo, UnitState, check
from .base import Action, Change, Refused, Step, Values, no_change
from .files import Edit


@dataclass
class Sysctl(Step):
    """A kernel parameter set now (persisting it is a File in /etc/sysctl.d)."""
    script: str
    name: str
    value: str
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or f"sysctl {self.name}={self.value}"

    def facts(self) -> list[Fact]:
        return [SysctlValue(self.name)]

    def diff(self, values: Values, done: set[str]) -> Change:
        current = values[SysctlValue(self.name)]
        if current == self.value:
            return no_change(f"{self.name} is {current}")
        return Change(self.fresh(), f"{self.name} is {current or '(unreadable)'}")

    def fresh(self) -> list[Action]:
        return [Action.run(["sysctl", "-q", "-w", f"{self.name}={self.value}"])]


START_WAIT_S = 90


def start(unit: str) -> list[Action]:
    """`systemctl start`, and the unit awaited until active.

    A start that fails while systemd restarts the unit by its own `Restart=`
    counts once the unit is active: measured in the lab, libvirtd's first start
    in a container failed at systemd's cgroup attach (status 219/CGROUP) and its
    restart 0.1 s later ran. A unit neither active nor activating ends the step
    with systemctl's message; one that falls to failed while awaited ends the
    wait at once."""
    u = shlex.quote(unit)

    def active(info: UnitInfo) -> bool:
        if info.active in ("failed", "inactive"):
            raise Refused(f"{unit} is {info.active} after its start: see journalctl -u {unit}")
        return info.active == "active"

    return [Action.run(f"systemctl start {u} || case $(systemctl is-active {u}) in active|activating) ;; *) exit 1;; esac"),
            Action.poll(f"poll up to {START_WAIT_S}s until {unit} is active", check(UnitState(unit), active),
                        START_WAIT_S, f"{unit} active after its start")]


@dataclass
class Service(Step):
    """A systemd unit enabled and (unless running=None) running or stopped.

    Restarted when a file step in `restart_on` changed in this run, or when such
    a file is newer than the unit's last start: a run that failed between
    writing a config and restarting its service is put right by the next run.
    A changed unit file is picked up (daemon-reload) before anything else.
    """
    script: str
    unit: str
    enabled: bool = True
    running: bool | None = True
    restart_on: Sequence[Step] = field(default_factory=tuple)
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or f"service {self.unit}"

    def _watched(self) -> list[str]:
        return [s.path for s in self.restart_on if isinstance(s, Edit)]

    def facts(self) -> list[Fact]:
        return [UnitState(self.unit, tuple(self._watched()))]

    def diff(self, values: Values, done: set[str]) -> Change:
        unit = values[self.facts()[0]]
        enabled_state, active_state, started, newest = unit.enabled, unit.active, unit.started, unit.newest
        actions, reasons = [], []
        if unit.need_reload:
            actions.append(Action.run(["systemctl", "daemon-reload"]))
            reasons.append("unit file changed on disk")
        if self.enabled and enabled_state not in ("enabled", "static", "alias", "indirect", "generated"):
            actions.append(Action.run(["systemctl", "enable", self.unit]))
            reasons.append(f"was {enabled_state}")
        triggers = [s.key for s in self.restart_on if s.key in done]
        if self.running and active_state in ("inactive", "failed", "unknown"):
            actions += start(self.unit)
            reasons.append(f"was {active_state}")
        elif self.running and (triggers or newest > started):
            # also when it is still activating or reloading: `start` would leave a
            # process running that read the old configuration (a package's script
            # may have started it before the suite wrote its config, in a run that died)
            actions.append(Action.run(["systemctl", "restart", self.unit]))
            reasons.append("changed: " + "; ".join(triggers) if triggers else
                           f"configuration newer than the running service ({active_state} since before it was written)")
        elif self.running and active_state != "active":
            actions += start(self.unit)
            reasons.append(f"was {active_state}")
        elif self.running is False and active_state == "active":
            actions.append(Action.run(["systemctl", "stop", self.unit]))
            reasons.append("was active")
        if actions:
            return Change(actions, ", ".join(reasons))
        return no_change(f"{enabled_state}, {active_state}")

    def fresh(self) -> list[Action]:
        actions = [Action.run(["systemctl", "enable", self.unit])] if self.enabled else []
        if self.running:
            actions += start(self.unit)
        return actions


@dataclass
class Account(Step):
    """A system group, and optionally a user, with fixed numeric ids.

    Files on the shared instances volume carry numeric owners, so the users
    that own them must have the same ids on every host, before any package
    creates them with ids of its own choosing.
    """
    script: str
    group: str
    gid: int
    user: str | None = None
    uid: int | None = None
    home: str = "/nonexistent"
    shell: str = "/usr/sbin/nologin"
    title: str = ""

    def __post_init__(self) -> None:
        who = f"user {self.user} ({self.uid}), " if self.user else ""
        self.title = self.title or f"{who}group {self.group} ({self.gid})"

    def facts(self) -> list[Fact]:
        return [AccountIds(self.group, self.user)]

    def diff(self, values: Values, done: set[str]) -> Change:
        gid, uid_gid = values[AccountIds(self.group, self.user)]
        actions, reasons = [], []
        if not gid:
            actions.append(Action.run(["groupadd", "--system", "--gid", str(self.gid), self.group]))
            reasons.append(f"group {self.group} missing")
        elif gid != str(self.gid):
            actions.append(Action.run(["groupmod", "--gid", str(self.gid), self.group]))
            # files a package made under the old id (/etc/nova, /var/log/nova, ...)
            # would stay unreadable to the service; local filesystems only (-xdev)
            actions.append(Action.run(["find", "/", "-xdev", "-gid", gid, "-exec", "chgrp", "-h", str(self.gid),
                                       "{}", "+"]))
            reasons.append(f"group {self.group} has gid {gid}")
        if self.user:
            if not uid_gid:
                actions.append(Action.run(["useradd", "--system", "--uid", str(self.uid), "--gid", str(self.gid),
                                           "--home-dir", self.home, "--no-create-home", "--shell", self.shell, self.user]))
                reasons.append(f"user {self.user} missing")
            elif uid_gid != f"{self.uid}:{self.gid}":
                actions.append(Action.run(["usermod", "--uid", str(self.uid), "--gid", str(self.gid), self.user]))
                old_uid = uid_gid.split(":")[0]
                if old_uid != str(self.uid):  # usermod re-owns only the home directory
                    actions.append(Action.run(["find", "/", "-xdev", "-uid", old_uid, "-exec", "chown", "-h",
                                               str(self.uid), "{}", "+"]))
                reasons.append(f"user {self.user} has uid:gid {uid_gid}")
        return Change(actions, ", ".join(reasons)) if actions else no_change("ids as wanted")

    def fresh(self) -> list[Action]:
        return self.diff(self.absent(), set()).actions
