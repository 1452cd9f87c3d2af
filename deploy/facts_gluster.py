"""GlusterFS facts: the trusted pool, a volume's info and options, its bricks online."""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import ClassVar

from .facts import Fact
from .remote import Result

q = shlex.quote


@dataclass(frozen=True)
class GlusterPool(Fact):
    """Host names in the trusted storage pool (`gluster pool list`), this host as localhost."""
    absent: ClassVar[frozenset] = frozenset()

    def command(self) -> str:
        return "gluster pool list"

    def parse(self, result: Result) -> frozenset[str]:
        rows = [line.split() for line in result.stdout.splitlines()[1:]] if result.ok else []
        return frozenset(row[1] for row in rows if len(row) > 1)


@dataclass(frozen=True)
class GlusterPeerStates(Fact):
    """Each peer's state as `gluster peer status` says it (e.g. "Peer in Cluster (Connected)")."""
    absent: ClassVar[tuple] = ()

    def command(self) -> str:
        return "gluster peer status"

    def parse(self, result: Result) -> tuple[str, ...]:
        return tuple(line[len("State: "):].strip() for line in result.stdout.splitlines()
                     if result.ok and line.startswith("State: "))


@dataclass(frozen=True)
class GlusterVolume(Fact):
    """A volume's info as "key: value" (Status, Type, its reconfigured options); None when it does not exist."""
    name: str

    def command(self) -> str:
        return f"gluster volume info {q(self.name)}"

    def parse(self, result: Result) -> dict[str, str] | None:
        if not result.ok:
            return None
        info = {}
        for line in result.stdout.splitlines():
            key, sep, value = line.partition(": ")
            if sep and key.strip() and not key.startswith(" "):
                info[key.strip()] = value.strip()
        return info


@dataclass(frozen=True)
class GlusterGroupKeys(Fact):
    """The option keys of one of glusterd's option groups (/var/lib/glusterd/groups/NAME)."""
    group: str
    absent: ClassVar[tuple] = ()

    def command(self) -> str:
        return f"cut -d= -f1 /var/lib/glusterd/groups/{q(self.group)} | grep -v '^$'"

    def parse(self, result: Result) -> tuple[str, ...]:
        return tuple(line.strip() for line in result.stdout.splitlines() if line.strip())


@dataclass(frozen=True)
class GlusterBricksOnline(Fact):
    """How many of a volume's bricks are online. One status query at a time
    (`lock`): glusterd refuses a second volume-status transaction while one is
    under way, which would read as bricks offline."""
    name: str
    lock: str
    absent: ClassVar[int] = 0

    def command(self) -> str:
        return f"flock {self.lock} gluster volume status {q(self.name)} detail"

    def parse(self, result: Result) -> int:
        return sum(bool(re.match(r"Online.*: Y", line)) for line in result.stdout.splitlines())


def replica_count(info: dict[str, str] | None) -> int:
    """The replica count `gluster volume info` shows: "N x R = T", "N x (D + A) = T" (arbiter: D + A),
    a bare "T" (distribute: 1); 0 when there is no volume or the line is unreadable."""
    count = (info or {}).get("Number of Bricks", "")
    if m := re.fullmatch(r"\d+ x (\d+) = \d+", count):
        return int(m[1])
    if m := re.fullmatch(r"\d+ x \((\d+) \+ (\d+)\) = \d+", count):
        return int(m[1]) + int(m[2])
    return 1 if count.isdigit() else 0


@dataclass(frozen=True)
class GlusterBricks(Fact):
    """A volume's bricks in order, as HOST:PATH (`gluster volume info`'s BrickN lines); none when it
    does not exist. Apart from GlusterVolume so that a step can tell "no brick of the inventory's" from
    "no volume" (the create step's business)."""
    name: str
    absent: ClassVar[tuple] = ()

    def command(self) -> str:
        return f"gluster volume info {q(self.name)}"

    def parse(self, result: Result) -> tuple[str, ...]:
        if not result.ok:
            return ()
        found = (re.fullmatch(r"Brick\d+: (\S+?:/.*?)( \(arbiter\))?", line.strip())
                 for line in result.stdout.splitlines())
        return tuple(m[1] for m in found if m)


REBALANCED = ("in progress", "completed")


@dataclass(frozen=True)
class GlusterRebalanced(Fact):
    """The nodes whose rebalance of a volume is in progress or completed (`gluster volume rebalance
    VOL status`; the host asking is "localhost"); none when no rebalance ever ran (it then exits 1)."""
    name: str
    absent: ClassVar[frozenset] = frozenset()

    def command(self) -> str:
        return f"gluster volume rebalance {q(self.name)} status"

    def parse(self, result: Result) -> frozenset[str]:
        if not result.ok:
            return frozenset()
        nodes = set()
        for line in result.stdout.splitlines():
            # Node, Rebalanced-files, size, scanned, failures, skipped, status (may be two words), run time
            words = line.split()
            if len(words) >= 8 and words[1].isdigit() and " ".join(words[6:-1]) in REBALANCED:
                nodes.add(words[0])
        return frozenset(nodes)


@dataclass(frozen=True)
class GlusterHealPending(Fact):
    """Entries each brick still has to heal (`gluster volume heal VOL info`), as BRICK -> count;
    a brick that cannot be asked (its host down) counts -1. Empty when the volume is not replicated
    or does not exist (the command fails)."""
    name: str
    absent: ClassVar[dict] = {}

    def command(self) -> str:
        return f"gluster volume heal {q(self.name)} info"

    def parse(self, result: Result) -> dict[str, int]:
        if not result.ok:
            return {}
        pending: dict[str, int] = {}
        brick = None
        for line in result.stdout.splitlines():
            if line.startswith("Brick "):
                brick = line[len("Brick "):].strip()
                pending[brick] = -1      # until its "Number of entries" says otherwise
            elif brick and (m := re.match(r"Number of entries: (\d+)", line)):
                pending[brick] = int(m[1])
        return pending


def nothing_pending(pending: dict[str, int]) -> bool:
    """GlusterHealPending's value says every brick was asked and none has an entry to heal
    (an empty value, the command failed, or a brick that could not be asked tells nothing)."""
    return bool(pending) and all(n == 0 for n in pending.values())
