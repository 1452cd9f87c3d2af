"""What every step is made of: the Action it takes, the Change it proposes, the Step base."""
from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..facts import Check, Fact


class Refused(RuntimeError):
    """A step that will not act on what it found (it would lose data): one line saying what to do instead."""


@dataclass(frozen=True)
class Action:
    """One thing done to a host: a shell command, a file written, or a condition awaited."""
    describe: str
    command: str | None = None
    path: str | None = None
    content: bytes | None = None
    mode: str = "0644"
    owner: str = "root"
    group: str = "root"
    await_condition: str | None = None   # the commands polled (for the plan and its quoting tests)
    timeout: float = 0.0
    what: str | None = None              # what the poll awaits, in words (else the condition)
    await_check: Check | None = None     # polled until it holds, with a deadline
    interval: float = 0.5                # seconds between polls
    nudge: str | None = None             # run before each poll: wakes what is awaited (its failure counts as not yet)

    @classmethod
    def run(cls, command: str | Sequence[str]) -> Action:
        text = command if isinstance(command, str) else shlex.join(command)
        return cls(describe=text, command=text)

    @classmethod
    def write(cls, path: str, content: bytes, mode: str, owner: str, group: str) -> Action:
        return cls(describe=f"write {path} ({len(content)} bytes, mode {mode}, {owner}:{group})",
                   path=path, content=content, mode=mode, owner=owner, group=group)

    @classmethod
    def poll(cls, describe: str, check: Check, timeout: float, what: str | None = None,
             interval: float = 0.5, nudge: str | None = None) -> Action:
        return cls(describe=describe, await_condition="; ".join(map(str, check.facts)), timeout=timeout,
                   what=what, await_check=check, interval=interval, nudge=nudge)


@dataclass
class Change:
    actions: list[Action]
    reason: str

    @property
    def changed(self) -> bool:
        return bool(self.actions)


def no_change(reason: str) -> Change:
    return Change([], reason)


Values = Mapping[Fact, Any]


class Step:
    """Base class. `script` is the report's script name the step stands for."""
    # Subclasses are dataclasses with the fields `script` and `title`; none are
    # declared here, so each subclass keeps its own field order.
    script: str
    title: str
    idempotent = True
    # Steps of one lane run in order, beside the steps of other lanes next to them
    # in the host's list (runner.apply_host); "" (no lane): after all before it.
    lane = ""

    @property
    def key(self) -> str:
        return f"{self.script}: {self.title}"

    def facts(self) -> list[Fact]:
        return []

    def guards(self) -> list[Fact]:
        """The facts that say whether the step is done: on a converged host, any one
        of them read as on a bare host (`Fact.absent`) must make the step act."""
        return self.facts()[:1]

    def diff(self, values: Values, done: set[str]) -> Change:
        raise NotImplementedError

    def fresh(self) -> list[Action]:
        raise NotImplementedError

    def absent(self) -> dict[Fact, Any]:
        """Its facts as a bare host shows them."""
        return {f: f.absent for f in self.facts()}
