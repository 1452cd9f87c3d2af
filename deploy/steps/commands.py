"""Commands guarded by a fact, and waits for a condition, polled with a deadline."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..facts import Check, Fact, guard
from ..remote import Command as CommandText
from .base import Action, Change, Step, Values, no_change


@dataclass
class Command(Step):
    """A command guarded by a fact: it runs only when `unless` does not hold.

    `unless` is a named fact's Check (deploy/facts.py), or a command text that
    holds when it exits 0 (the generic `Succeeds` fact). Without `unless` the
    step cannot know whether it is done: it runs every time and says so.
    """
    script: str
    command: str
    unless: CommandText | Fact | Check | None = None
    title: str = ""
    check: Check | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.title = self.title or self.command.splitlines()[0][:80]
        self.idempotent = self.unless is not None
        self.check = guard(self.unless) if self.unless is not None else None

    def facts(self) -> list[Fact]:
        return list(self.check.facts) if self.check else []

    def diff(self, values: Values, done: set[str]) -> Change:
        if self.check is None:
            return Change(self.fresh(), "not idempotent: runs every time")
        if self.check.holds(values):
            return no_change(f"already done ({self.check.says or 'check passed'})")
        return Change(self.fresh(), f"check failed{': not ' + self.check.says if self.check.says else ''}")

    def fresh(self) -> list[Action]:
        return [Action(describe=self.command, command=self.command)]


@dataclass
class Await(Step):
    """Wait until a condition holds on the host (polled with a deadline).

    Not a change of the host, but a step of the phase: the report's scripts
    that waited for a daemon to be ready before using it. `condition` is a
    named fact's Check or a command that holds when it exits 0. `nudge`, when
    given, runs before each poll (every `interval` seconds): for a daemon that
    does the awaited work but may sleep between rounds of it.
    """
    script: str
    condition: CommandText | Check
    what: str
    timeout: float = 120.0
    title: str = ""
    interval: float = 0.5
    nudge: str | None = None
    check: Check = field(default=None, init=False, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.title = self.title or f"wait for {self.what}"
        self.check = guard(self.condition)

    def facts(self) -> list[Fact]:
        return list(self.check.facts)

    def diff(self, values: Values, done: set[str]) -> Change:
        if self.check.holds(values):
            return no_change(f"{self.what}: already so")
        return Change(self.fresh(), f"{self.what}: not yet")

    def fresh(self) -> list[Action]:
        condition = self.condition if not isinstance(self.condition, Check) else (
            f"{self.check.says} ({'; '.join(map(str, self.check.facts))})")
        # a timeout names the condition: a named check by what is awaited, a command by its text
        what = self.what if isinstance(self.condition, Check) else None
        each = f", running {self.nudge} every {self.interval:.0f}s" if self.nudge else ""
        return [Action.poll(f"poll up to {self.timeout:.0f}s until: {condition}{each}", self.check, self.timeout,
                            what, interval=self.interval, nudge=self.nudge)]
