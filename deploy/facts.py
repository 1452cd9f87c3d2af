"""Named facts: what a step reads on a host, as a command and a parser to a typed value.

A fact is a frozen dataclass: equal arguments make equal facts, so the runner
asks each distinct fact of a phase once, whichever steps need it. `absent` is
the value a bare host shows (nothing installed, no file, unit missing, no
volume): the plan's fresh host, and what the self-tests flip a guard to.
A fact's command carries no secret: a fact that needs one is a `WithStdin`,
its input travelling beside the batched script (deploy/remote.py).
Checks may use the same parsers to read state; they never see the runner's values.
"""
from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from .remote import Command, Result, render

q = shlex.quote


class Fact:
    """Base of named facts; subclasses are frozen dataclasses."""
    absent: ClassVar[Any] = None

    def command(self) -> Command:
        raise NotImplementedError

    def parse(self, result: Result) -> Any:
        raise NotImplementedError

    def __str__(self) -> str:
        return render(self.command())


@dataclass(frozen=True)
class Check:
    """A guard: facts and a test of their values (True: already done, nothing to do)."""
    facts: tuple[Fact, ...]
    test: Callable[..., bool] = field(compare=False)
    says: str = ""

    def holds(self, values: Mapping[Fact, Any]) -> bool:
        return bool(self.test(*(values[f] for f in self.facts)))


def check(fact: Fact, test: Callable[..., bool] = bool, says: str = "", *more: Fact) -> Check:
    return Check((fact, *more), test, says)


@dataclass(frozen=True)
class Succeeds(Fact):
    """A command exits 0: the generic guard, where no named fact says more."""
    text: Command
    absent: ClassVar[bool] = False

    def command(self) -> Command:
        return self.text

    def parse(self, result: Result) -> bool:
        return result.ok


def guard(unless: Command | Fact | Check) -> Check:
    """`Command.unless` and `Await.condition` as a Check: a text is `Succeeds`."""
    if isinstance(unless, Check):
        return unless
    if isinstance(unless, Fact):
        return check(unless)
    return check(Succeeds(unless if isinstance(unless, str) else tuple(unless)))  # an argv hashes as a tuple


# ------------------------------------------------------------------ packages
@dataclass(frozen=True)
class Installed(Fact):
    """Which of these Debian packages are installed ("ii" in dpkg's database)."""
    names: tuple[str, ...]
    absent: ClassVar[frozenset] = frozenset()

    def command(self) -> str:
        return "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' " + " ".join(map(q, self.names))

    def parse(self, result: Result) -> frozenset[str]:
        return frozenset(line.split()[0] for line in result.stdout.splitlines() if line.split()[1:2] == ["ii"])


@dataclass(frozen=True)
class DpkgInterrupted(Fact):
    """Evidence of a dpkg run that was interrupted (its journal, or `dpkg --audit`), "" when none:
    killed mid-unpack or mid-configure, it leaves apt refusing everything."""
    absent: ClassVar[str] = ""

    def command(self) -> str:
        return "ls -A /var/lib/dpkg/updates 2>/dev/null | head -1; dpkg --audit 2>/dev/null | head -3"

    def parse(self, result: Result) -> str:
        return result.stdout.split("\n")[0].strip()


# ------------------------------------------------------------------ files
class FileInfo(NamedTuple):
    mode: str       # octal digits as stat prints them, e.g. "644"
    owner: str
    group: str
    content: str


@dataclass(frozen=True)
class FileState(Fact):
    """A file's mode, owner, group and content; None when it does not exist."""
    path: str

    def command(self) -> str:
        p = q(self.path)
        return f"stat -c '%a %U %G' {p} && cat {p}"

    def parse(self, result: Result) -> FileInfo | None:
        if not result.ok:
            return None
        meta, _, content = result.stdout.partition("\n")
        mode, owner, group = meta.split()
        return FileInfo(mode, owner, group, content)


class PathOwner(NamedTuple):
    ids: str        # numeric uid:gid
    mode: str


@dataclass(frozen=True)
class PathStat(Fact):
    """A path's numeric owner and mode; None when it does not exist."""
    path: str

    def command(self) -> str:
        return f"stat -c '%u:%g %a' {q(self.path)}"

    def parse(self, result: Result) -> PathOwner | None:
        words = result.stdout.split()
        return PathOwner(words[0], words[1]) if result.ok and len(words) == 2 else None


@dataclass(frozen=True)
class PathType(Fact):
    """What a path is ("directory", "character special file", ...); None when it does not exist."""
    path: str

    def command(self) -> str:
        return f"stat -L -c %F {q(self.path)}"

    def parse(self, result: Result) -> str | None:
        return result.stdout.strip() if result.ok else None


@dataclass(frozen=True)
class MountType(Fact):
    """The filesystem type mounted on a mount point, "" when nothing is."""
    path: str
    absent: ClassVar[str] = ""

    def command(self) -> str:
        return f"findmnt -n -o FSTYPE --mountpoint {q(self.path)}"

    def parse(self, result: Result) -> str:
        return result.stdout.strip().splitlines()[-1] if result.ok and result.stdout.strip() else ""


# ------------------------------------------------------------------ kernel, units, accounts
@dataclass(frozen=True)
class SysctlValue(Fact):
    name: str
    absent: ClassVar[str] = ""

    def command(self) -> str:
        return f"sysctl -n {q(self.name)}"

    def parse(self, result: Result) -> str:
        return result.stdout.strip()


class UnitInfo(NamedTuple):
    enabled: str            # systemctl is-enabled, or "missing"
    active: str             # systemctl is-active
    need_reload: bool       # its unit file changed on disk
    started: int            # epoch seconds it entered its state, 0 when unknown
    newest: int             # epoch seconds the newest watched file was written, 0 when none


@dataclass(frozen=True)
class UnitState(Fact):
    """A systemd unit's state, and how new the newest of `watched` (its config files) is."""
    unit: str
    watched: tuple[str, ...] = ()
    absent: ClassVar[UnitInfo] = UnitInfo("missing", "inactive", False, 0, 0)

    def command(self) -> str:
        u = q(self.unit)
        newest = "0"
        if self.watched:
            newest = f"$(stat -c %Y {' '.join(map(q, self.watched))} 2>/dev/null | sort -n | tail -1)"
        return (f"echo $(systemctl is-enabled {u} 2>/dev/null || echo missing) "
                f"$(systemctl is-active {u} 2>/dev/null || true) "
                f"$(systemctl show -p NeedDaemonReload --value {u} 2>/dev/null || echo no) "
                f"$(date -d \"$(systemctl show -p ActiveEnterTimestamp --value {u})\" +%s 2>/dev/null || echo 0) "
                f"{newest}")

    def parse(self, result: Result) -> UnitInfo:
        words = result.stdout.split() + ["unknown"] * 5
        number = lambda word: int(word) if word.isdigit() else 0  # noqa: E731
        return UnitInfo(words[0], words[1], words[2] == "yes", number(words[3]), number(words[4]))


class AccountInfo(NamedTuple):
    gid: str        # "" when the group is missing
    uid_gid: str    # "uid:gid" of the user, "" when missing (or no user asked)


@dataclass(frozen=True)
class AccountIds(Fact):
    """A group's gid and, optionally, a user's uid:gid."""
    group: str
    user: str | None = None
    absent: ClassVar[AccountInfo] = AccountInfo("", "")

    def command(self) -> str:
        user = f"$(getent passwd {q(self.user)} | cut -d: -f3,4)" if self.user else ""
        return f"echo \"$(getent group {q(self.group)} | cut -d: -f3) {user}\""

    def parse(self, result: Result) -> AccountInfo:
        # "GID UID:GID": either may be empty, so split at the one space, not at words
        gid, _, user = result.stdout.strip("\n").partition(" ")
        return AccountInfo(gid.strip(), user.strip())


@dataclass(frozen=True)
class UserGroups(Fact):
    """The groups a user is in (`id -nG`); empty when the user does not exist."""
    user: str
    absent: ClassVar[frozenset] = frozenset()

    def command(self) -> str:
        return f"id -nG {q(self.user)}"

    def parse(self, result: Result) -> frozenset[str]:
        return frozenset(result.stdout.split()) if result.ok else frozenset()


@dataclass(frozen=True)
class SqlScalar(Fact):
    """The one value a query returns (MariaDB's root over its socket); None when it fails."""
    query: str

    def command(self) -> str:
        return "mysql --protocol=socket -uroot -NBe " + "\"" + self.query.replace('"', '\\"') + "\""

    def parse(self, result: Result) -> int | str | None:
        text = result.stdout.strip()
        return None if not result.ok or not text else int(text) if text.isdigit() else text


def in_group(user: str, group: str) -> Check:
    return check(UserGroups(user), lambda groups: group in groups, f"{user} in group {group}")


def is_path(path: str, kind: str) -> Check:
    return check(PathType(path), lambda found: found == kind, f"{path} is a {kind}")


def values(facts: Iterable[Fact], results: Sequence[Result]) -> dict[Fact, Any]:
    """Parsed values of facts from their commands' results, in the same order."""
    return {fact: fact.parse(result) for fact, result in zip(facts, results)}


def read(remote: Any, facts: Iterable[Fact], timeout: float = 300) -> dict[Fact, Any]:
    """Each distinct fact asked once, all in one round trip (`Remote.run_many`), parsed.
    A remote that holds fact values itself (the self-tests' fake host) answers them directly."""
    unique = list(dict.fromkeys(facts))
    if not unique:
        return {}
    answer = getattr(remote, "read_facts", None)
    if answer is not None:
        return answer(unique)
    return values(unique, remote.run_many([f.command() for f in unique], timeout=timeout))
