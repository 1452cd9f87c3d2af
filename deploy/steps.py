"""Idempotent steps: each asks the host (facts), compares with what is wanted,
and emits only the actions needed, or says why nothing is needed.

A step is data plus two small functions:
  facts()            the read-only commands whose output it needs
  diff(facts, done)  -> Change: the actions to take, and the reason
`done` holds the keys of steps that changed earlier in the same phase on the
same host, so a service can restart when its configuration changed.
`fresh()` is what the step does on a host where nothing is in place yet: the
plan (`pytest --plan`) prints it without connecting to anything.
"""
from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .remote import Result

q = shlex.quote


@dataclass(frozen=True)
class Action:
    """One thing done to a host: a shell command, or a file written."""
    describe: str
    command: str | None = None
    path: str | None = None
    content: bytes | None = None
    mode: str = "0644"
    owner: str = "root"
    group: str = "root"
    await_condition: str | None = None   # poll this command until it succeeds
    timeout: float = 0.0
    what: str | None = None              # what the poll awaits, in words (else the condition)

    @classmethod
    def run(cls, command: str | Sequence[str]) -> Action:
        text = command if isinstance(command, str) else shlex.join(command)
        return cls(describe=text, command=text)

    @classmethod
    def write(cls, path: str, content: bytes, mode: str, owner: str, group: str) -> Action:
        return cls(describe=f"write {path} ({len(content)} bytes, mode {mode}, {owner}:{group})",
                   path=path, content=content, mode=mode, owner=owner, group=group)


@dataclass
class Change:
    actions: list[Action]
    reason: str

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def no_change(reason: str) -> Change:
    return Change([], reason)


class Step:
    """Base class. `script` is the report's script name the step stands for."""
    # Subclasses are dataclasses with the fields `script` and `title`; none are
    # declared here, so each subclass keeps its own field order.
    script: str
    title: str
    idempotent = True

    @property
    def key(self) -> str:
        return f"{self.script}: {self.title}"

    def facts(self) -> list[str]:
        return []

    def diff(self, facts: list[Result], done: set[str]) -> Change:
        raise NotImplementedError

    def fresh(self) -> list[Action]:
        raise NotImplementedError


# ------------------------------------------------------------------ packages
DPKG_LOCK = "/var/lib/dpkg/lock-frontend"
LOCK_WAIT_S = 600    # another apt or dpkg (unattended-upgrades, an operator) may hold dpkg's lock this long
# The pid holding dpkg's lock, nothing when it is free: read from /proc/locks,
# since a bare host has neither fuser nor lsof.
DPKG_LOCK_HOLDER = (f"i=$(stat -c %i {DPKG_LOCK} 2>/dev/null) && awk -v i=\"$i\" "
                    "'{for (k = 2; k <= NF; k++) if ($k ~ (\":\" i \"$\")) print $(k-1)}' /proc/locks")
# A dpkg run that was interrupted (killed mid-unpack or mid-configure) leaves its
# journal in updates/ or packages half-installed; apt then refuses everything.
DPKG_INTERRUPTED = "ls -A /var/lib/dpkg/updates 2>/dev/null | head -1; dpkg --audit 2>/dev/null | head -3"
POLICY_RC_D = "/usr/sbin/policy-rc.d"
HOLDS = "/run/openstack-deploy/hold-services.d"
GUARD_MARK = "# openstack-deploy hold-services guard"
# What an older suite wrote there itself (and removed after each transaction).
LEGACY_GUARD = "#!/bin/sh\nexit 101"


def guard_script(holds: str = HOLDS) -> str:
    """/usr/sbin/policy-rc.d of the suite's own: written once and left in place.
    Maintainer scripts may start no service (exit 101) while a file HOLDS/PID
    names a live process (PID, holding its start time in clock ticks): each
    transaction that holds services adds its own and removes only that one,
    so two holders never undo each other's hold, and a killed one's is void."""
    return f"""#!/bin/sh
{GUARD_MARK} v1 (deploy/steps.py): exit 101 while a live process holds services
for f in {holds}/*; do
  [ -f "$f" ] || continue
  read -r want <"$f" 2>/dev/null || continue
  read -r s <"/proc/${{f##*/}}/stat" 2>/dev/null || continue
  r=${{s##*) }}; set -f; set -- $r; set +f
  [ "${{20}}" = "$want" ] && exit 101
done
exit 0"""


def guard_in_place(guard: str = POLICY_RC_D, holds: str = HOLDS) -> Action:
    """The suite's guard written where there is none, or an older one of the suite's;
    a policy-rc.d of someone else's is left as it is."""
    g = q(guard)
    return Action(describe=f"hold-services guard {guard} in place (the suite's own; another's is left alone)",
                  command=f"mkdir -p {q(holds)} && guard={q(guard_script(holds))} && "
                          f"if [ ! -e {g} ] || grep -qF {q(GUARD_MARK)} {g} || "
                          f"[ \"$(cat {g})\" = \"$(printf {q(LEGACY_GUARD)})\" ]; then "
                          f"[ \"$(cat {g} 2>/dev/null)\" = \"$guard\" ] || {{ printf '%s\\n' \"$guard\" > {g}.new && "
                          f"chmod 755 {g}.new && mv -f {g}.new {g}; }}; fi")


def held(text: str, holds: str = HOLDS) -> str:
    """`text` run while this shell holds services (after `guard_in_place`): its own
    hold file, removed when `text` ends, whatever others hold meanwhile."""
    return (f"hold={q(holds)}/$$ && read -r s </proc/$$/stat && r=${{s##*) }} && set -f && set -- $r && set +f && "
            f"printf '%s\\n' \"${{20}}\" > \"$hold\" && ( {text} ); rc=$?; rm -f \"$hold\"; exit $rc")


@dataclass
class Packages(Step):
    """Debian packages installed, in one apt transaction.

    `hold_services` keeps maintainer scripts from starting daemons (the suite's
    policy-rc.d guard, see `held`) so that a service first starts after the
    suite configured it. apt waits for dpkg's lock up to LOCK_WAIT_S; a dpkg run
    that was interrupted is completed first (`dpkg --configure -a`, services held).
    """
    script: str
    names: Sequence[str]
    hold_services: bool = False
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or "packages " + " ".join(self.names)

    def facts(self) -> list[str]:
        return ["dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' " + " ".join(map(q, self.names)),
                DPKG_INTERRUPTED]

    def missing(self, listing: str) -> list[str]:
        installed = {line.split()[0] for line in listing.splitlines() if line.split()[1:2] == ["ii"]}
        return [n for n in self.names if n not in installed]

    def install(self, names: Sequence[str]) -> list[Action]:
        lock = f"-o DPkg::Lock::Timeout={LOCK_WAIT_S}"
        apt = (f"DEBIAN_FRONTEND=noninteractive apt-get -q -y {lock} -o Dpkg::Options::=--force-confold "
               "--no-install-recommends install " + " ".join(map(q, names)))
        # The first install on a host, or one after the mirror moved on, needs fresh
        # lists; a lock still held after the wait is said as such instead.
        text = (f"{apt} || {{ lockpid=$({DPKG_LOCK_HOLDER}); if [ -n \"$lockpid\" ]; then "
                f"echo \"waited {LOCK_WAIT_S}s for dpkg's lock {DPKG_LOCK}: still held by pid $lockpid "
                f"($(cat /proc/$lockpid/cmdline 2>/dev/null | tr '\\0' ' '))\" >&2; false; "
                f"else apt-get -q {lock} update && {apt}; fi; }}")
        install = Action(describe="apt-get install " + " ".join(names), command=held(text) if self.hold_services else text)
        return [guard_in_place(), install] if self.hold_services else [install]

    def complete_interrupted(self, evidence: str, then: Sequence[str]) -> list[Action]:
        """An interrupted dpkg run completed (services held), then what is missing installed."""
        return [Action(describe=f"poll up to {LOCK_WAIT_S}s until dpkg's lock is free",
                       await_condition=f"test -z \"$({DPKG_LOCK_HOLDER})\"", timeout=LOCK_WAIT_S,
                       what=f"dpkg's lock {DPKG_LOCK} free (held by another apt or dpkg)"),
                guard_in_place(),
                Action(describe="dpkg --configure -a (an interrupted dpkg run: " + evidence + ")",
                       command=held("dpkg --configure -a"))] + (self.install(then)[-1:] if then else [])

    def diff(self, facts: list[Result], done: set[str]) -> Change:
        missing = self.missing(facts[0].stdout)
        interrupted = facts[1].stdout.split("\n")[0].strip() if len(facts) > 1 else ""
        if interrupted:
            return Change(self.complete_interrupted(interrupted, missing),
                          "dpkg was interrupted: dpkg --configure -a first"
                          + (", then missing: " + " ".join(missing) if missing else ""))
        if not missing:
            return no_change(f"{len(self.names)} packages installed")
        return Change(self.install(missing), "missing: " + " ".join(missing))

    def fresh(self) -> list[Action]:
        return self.install(self.names)


# ------------------------------------------------------------------ files
STAT = "stat -c '%a %U %G' {p} && cat {p}"


@dataclass
class Edit(Step):
    """A file whose wanted content is a function of its current content.

    The file is read with its mode and owner in one fact; the new content is
    computed here and written atomically only if it differs.
    """
    script: str
    path: str
    transform: Callable[[str | None], str]
    mode: str = "0644"
    owner: str = "root"
    group: str = "root"
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or self.path

    def facts(self) -> list[str]:
        return [STAT.format(p=q(self.path))]

    def diff(self, facts: list[Result], done: set[str]) -> Change:
        fact = facts[0]
        current, meta = None, None
        if fact.ok:
            meta, _, current = fact.stdout.partition("\n")
        wanted = self.transform(current)
        if current is None:
            return Change([self._write(wanted)], "file missing")
        actions, reasons = [], []
        if current != wanted:
            actions.append(self._write(wanted))
            reasons.append("content differs")
        else:
            mode, owner, group = meta.split()
            if int(mode, 8) != int(self.mode, 8):
                actions.append(Action.run(["chmod", self.mode, self.path]))
                reasons.append(f"mode {mode} -> {self.mode}")
            if (owner, group) != (self.owner, self.group):
                actions.append(Action.run(["chown", f"{self.owner}:{self.group}", self.path]))
                reasons.append(f"owner {owner}:{group} -> {self.owner}:{self.group}")
        return Change(actions, ", ".join(reasons)) if actions else no_change("content, mode and owner as wanted")

    def _write(self, content: str) -> Action:
        return Action.write(self.path, content.encode(), self.mode, self.owner, self.group)

    def fresh(self) -> list[Action]:
        return [self._write(self.transform(None))]


def File(script: str, path: str, content: str, **kw) -> Edit:
    """A file with exactly this content."""
    return Edit(script, path, lambda _old: content, **kw)


def Block(script: str, path: str, marker: str, lines: Iterable[str], **kw) -> Edit:
    """A marked block of lines inside a file that others also write (like blockinfile)."""
    begin, end = f"# BEGIN {marker}", f"# END {marker}"
    block = "\n".join([begin, *lines, end]) + "\n"

    def transform(old: str | None) -> str:
        old = old or ""
        if begin in old and end in old:
            head, _, rest = old.partition(begin)
            _, _, tail = rest.partition(end)
            return head + block + tail.lstrip("\n")
        return old + ("" if old.endswith("\n") or not old else "\n") + block

    return Edit(script, path, transform, title=kw.pop("title", f"{path} block {marker}"), **kw)


def Line(script: str, path: str, line: str, match: Callable[[str], bool], **kw) -> Edit:
    """A line present in a file: the first line that `match`es is replaced, else appended."""
    def transform(old: str | None) -> str:
        lines = (old or "").splitlines()
        for i, existing in enumerate(lines):
            if match(existing):
                lines[i] = line
                break
        else:
            lines.append(line)
        return "\n".join(lines) + "\n"

    return Edit(script, path, transform, title=kw.pop("title", f"{path}: {line}"), **kw)


def ini_set(text: str | None, settings: Mapping[str, Mapping[str, object]]) -> str:
    """Set keys in an INI file, keeping comments, order and everything else.

    Section "" holds the keys of a file without sections. A value of None
    removes the key. Keys commented out in the packaged file
    stay commented; the active setting is added under its section.
    """
    lines = (text or "").splitlines()
    for section, values in settings.items():
        header = f"[{section}]"
        try:
            # Section "" is the top of a file without sections (libvirtd.conf, qemu.conf).
            start = -1 if section == "" else next(i for i, l in enumerate(lines) if l.strip() == header)
        except StopIteration:
            if lines and lines[-1].strip():
                lines.append("")
            lines.append(header)
            start = len(lines) - 1
        end = len(lines) if section == "" else next(
            (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        for key, value in values.items():
            found = [i for i in range(start + 1, end)
                     if lines[i].split("=", 1)[0].strip() == key and not lines[i].lstrip().startswith(("#", ";"))]
            if value is None:
                for i in reversed(found):
                    del lines[i]
                    end -= 1
                continue
            text_value = str(value).lower() if isinstance(value, bool) else (
                value.reveal() if hasattr(value, "reveal") else str(value))
            new = f"{key} = {text_value}"
            if found:
                lines[found[0]] = new
                for i in reversed(found[1:]):
                    del lines[i]
                    end -= 1
            else:
                # after the last non-blank line of the section
                at = end
                while at > start + 1 and not lines[at - 1].strip() and section != "":
                    at -= 1
                lines.insert(at, new)
                end += 1
    return "\n".join(lines) + "\n"


def Ini(script: str, path: str, settings: Mapping[str, Mapping[str, object]], **kw) -> Edit:
    """INI settings (section -> key -> value) in a file that the package owns."""
    sections = ", ".join(f"[{s}] {len(v)} keys" for s, v in settings.items())
    return Edit(script, path, lambda old: ini_set(old, settings), title=kw.pop("title", f"{path}: {sections}"), **kw)


# ------------------------------------------------------------------ kernel
@dataclass
class Sysctl(Step):
    """A kernel parameter set now (persisting it is a File in /etc/sysctl.d)."""
    script: str
    name: str
    value: str
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or f"sysctl {self.name}={self.value}"

    def facts(self) -> list[str]:
        return [f"sysctl -n {q(self.name)}"]

    def diff(self, facts: list[Result], done: set[str]) -> Change:
        current = facts[0].stdout.strip()
        if current == self.value:
            return no_change(f"{self.name} is {current}")
        return Change(self.fresh(), f"{self.name} is {current or '(unreadable)'}")

    def fresh(self) -> list[Action]:
        return [Action.run(["sysctl", "-q", "-w", f"{self.name}={self.value}"])]


# ------------------------------------------------------------------ services
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

    def facts(self) -> list[str]:
        u = q(self.unit)
        newest = "0"
        if self._watched():
            newest = f"$(stat -c %Y {' '.join(map(q, self._watched()))} 2>/dev/null | sort -n | tail -1)"
        return [f"echo $(systemctl is-enabled {u} 2>/dev/null || echo missing) "
                f"$(systemctl is-active {u} 2>/dev/null || true) "
                f"$(systemctl show -p NeedDaemonReload --value {u} 2>/dev/null || echo no) "
                f"$(date -d \"$(systemctl show -p ActiveEnterTimestamp --value {u})\" +%s 2>/dev/null || echo 0) "
                f"{newest}"]

    def diff(self, facts: list[Result], done: set[str]) -> Change:
        words = facts[0].stdout.split() + ["unknown"] * 5
        enabled_state, active_state, need_reload = words[0], words[1], words[2]
        started, newest = int(words[3]) if words[3].isdigit() else 0, int(words[4]) if words[4].isdigit() else 0
        actions, reasons = [], []
        if need_reload == "yes":
            actions.append(Action.run(["systemctl", "daemon-reload"]))
            reasons.append("unit file changed on disk")
        if self.enabled and enabled_state not in ("enabled", "static", "alias", "indirect", "generated"):
            actions.append(Action.run(["systemctl", "enable", self.unit]))
            reasons.append(f"was {enabled_state}")
        triggers = [s.key for s in self.restart_on if s.key in done]
        if self.running and active_state in ("inactive", "failed", "unknown"):
            actions.append(Action.run(["systemctl", "start", self.unit]))
            reasons.append(f"was {active_state}")
        elif self.running and (triggers or newest > started):
            # also when it is still activating or reloading: `start` would leave a
            # process running that read the old configuration (a package's script
            # may have started it before the suite wrote its config, in a run that died)
            actions.append(Action.run(["systemctl", "restart", self.unit]))
            reasons.append("changed: " + "; ".join(triggers) if triggers else
                           f"configuration newer than the running service ({active_state} since before it was written)")
        elif self.running and active_state != "active":
            actions.append(Action.run(["systemctl", "start", self.unit]))
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
            actions.append(Action.run(["systemctl", "start", self.unit]))
        return actions


# ------------------------------------------------------------------ commands
@dataclass
class Command(Step):
    """A command guarded by a fact: it runs only when `unless` fails.

    Without `unless` the step cannot know whether it is done: it runs every time
    and says so.
    """
    script: str
    command: str
    unless: str | None = None
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or self.command.splitlines()[0][:80]
        self.idempotent = self.unless is not None

    def facts(self) -> list[str]:
        return [self.unless] if self.unless else []

    def diff(self, facts: list[Result], done: set[str]) -> Change:
        if self.unless is None:
            return Change(self.fresh(), "not idempotent: runs every time")
        if facts[0].ok:
            return no_change("already done (check passed)")
        return Change(self.fresh(), "check failed")

    def fresh(self) -> list[Action]:
        return [Action(describe=self.command, command=self.command)]



@dataclass
class Await(Step):
    """Wait until a condition holds on the host (polled with a deadline).

    Not a change of the host, but a step of the phase: the report's scripts
    that waited for a daemon to be ready before using it.
    """
    script: str
    condition: str
    what: str
    timeout: float = 120.0
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or f"wait for {self.what}"

    def facts(self) -> list[str]:
        return [self.condition]

    def diff(self, facts: list[Result], done: set[str]) -> Change:
        if facts[0].ok:
            return no_change(f"{self.what}: already so")
        return Change(self.fresh(), f"{self.what}: not yet")

    def fresh(self) -> list[Action]:
        return [Action(describe=f"poll up to {self.timeout:.0f}s until: {self.condition}",
                       await_condition=self.condition, timeout=self.timeout)]


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

    def facts(self) -> list[str]:
        user = f"$(getent passwd {q(self.user)} | cut -d: -f3,4)" if self.user else ""
        return [f"echo \"$(getent group {q(self.group)} | cut -d: -f3) {user}\""]

    def diff(self, facts: list[Result], done: set[str]) -> Change:
        words = facts[0].stdout.split()
        gid = words[0] if words else ""
        uid_gid = words[1] if len(words) > 1 else ""
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
        return self.diff([Result("", "", 0, "", "")], set()).actions
