"""Apply a phase: every target host in parallel, each host's steps in order.

Per host the runner gathers the facts of all steps in one round trip (each
distinct fact once, deploy/facts.py), then walks the steps: a step whose diff is empty costs nothing more; a step that
acts makes the facts of the next step stale, so those are read again first.
One failing host does not stop the others; the phase then raises PhaseError
naming every failed host, its step and the command's error.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from . import ahead as ahead_work
from .facts import read
from .inventory import Host
from .phases import Context, Phase
from .remote import Pool, Remote, RemoteError
from .secrets import mask
from .steps import Action, Refused, Step
from .waits import WaitTimeout, wait_for

log = logging.getLogger(__name__)


@dataclass
class StepResult:
    host: str
    step: str
    changed: bool
    reason: str
    seconds: float
    actions: list[str] = field(default_factory=list)


@dataclass
class HostResult:
    host: str
    steps: list[StepResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    started: float = field(default_factory=time.time)   # epoch seconds, for the run report's timeline

    @property
    def changed(self) -> int:
        return sum(s.changed for s in self.steps)

    @property
    def unchanged(self) -> int:
        return sum(not s.changed for s in self.steps)


@dataclass
class PhaseResult:
    phase: str
    hosts: dict[str, HostResult]
    seconds: float
    ahead: list[PhaseResult] = field(default_factory=list)  # later phases' early steps, run meanwhile

    @property
    def failed(self) -> dict[str, HostResult]:
        return {n: r for n, r in self.hosts.items() if r.error}

    def summary(self) -> str:
        parts = [f"{n}: {r.changed} changed, {r.unchanged} unchanged, {r.seconds:.1f}s"
                 + (" FAILED" if r.error else "") for n, r in self.hosts.items()]
        return f"{self.phase} ({self.seconds:.1f}s): " + "; ".join(parts)


class PhaseError(RuntimeError):
    def __init__(self, result: PhaseResult):
        self.result = result
        lines = [f"phase {result.phase} failed on {', '.join(result.failed)}"]
        lines += [f"[{name}] {r.error}" for name, r in result.failed.items()]
        super().__init__("\n".join(lines))


class PreconditionError(RuntimeError):
    """A state found at the start of a run that the run must not act on; nothing was changed."""


def check_preconditions(phases: Sequence[Phase], ctx: Context, pool: Pool) -> None:
    """Every precondition of `phases`, per host in one round trip, hosts in parallel, before any
    phase runs; PreconditionError with one line per problem, each naming the host."""
    wanted: dict[str, list] = {}
    for phase in phases:
        for host in phase.targets(ctx.inventory) if phase.preconditions else ():
            wanted.setdefault(host.name, []).extend(phase.preconditions(ctx, host))

    def problems(name: str) -> list[str]:
        values = read(pool[name], (f for c in wanted[name] for f in c.facts))
        return [f"{name}: {p}" for c in wanted[name] for p in c.problems(*(values[f] for f in c.facts))]

    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as executor:
        found = [line for lines in executor.map(problems, wanted) for line in lines]
    if found:
        raise PreconditionError("refused before changing anything:\n" + "\n".join(found))


def execute(remote: Remote, action: Action) -> None:
    if action.await_check is not None:
        # a busy host that does not answer within 30 s is asked again; other errors end the wait
        check = action.await_check

        def holds() -> bool:
            if action.nudge:
                remote.run(action.nudge, check=False, timeout=60)
            return check.holds(read(remote, check.facts, timeout=30))

        wait_for(holds, action.timeout, f"{remote.host.name}: {action.what or action.await_condition}",
                 interval=action.interval, transient=(RemoteError,))
    elif action.path is not None:
        remote.put(action.path, action.content or b"", mode=action.mode, owner=action.owner, group=action.group)
    else:
        remote.run(action.command or "true")


# A walk's outcome: (index in the host's steps, result) per step taken, the first error, facts stale
Walked = tuple[list[tuple[int, StepResult]], str | None, bool]


def _walk(remote: Remote, steps: Sequence[tuple[int, Step]], total: int, facts: dict, stale: bool,
          done: set[str], progress: Callable[[str], None], stop: threading.Event | None = None) -> Walked:
    """Steps in order, each at its index of the host's `total`; returns their results, the
    first error (the walk ends there, or where `stop` is set) and whether facts went stale."""
    name = remote.host.name
    results: list[tuple[int, StepResult]] = []
    for i, step in steps:
        if stop is not None and stop.is_set():
            break
        t0 = time.monotonic()
        try:
            if stale:
                facts.update(read(remote, step.facts()))
            change = step.diff(facts, done)
            if change.changed:
                progress(f"{name}: [{i + 1}/{total}] {step.key}: {mask(change.reason)}")
                for action in change.actions:
                    execute(remote, action)
                stale = True
                done.add(step.key)
        except (RemoteError, WaitTimeout, Refused) as e:
            return results, f"step {step.key}: {mask(str(e))}", stale
        except Exception as e:  # a step's own bug must still name the step and host
            return results, f"step {step.key}: {type(e).__name__}: {mask(str(e))}", stale
        results.append((i, StepResult(name, step.key, change.changed, mask(change.reason),
                                      time.monotonic() - t0, [mask(a.describe) for a in change.actions])))
    return results, None, stale


def _walk_lanes(remote: Remote, block: Sequence[tuple[int, Step]], total: int, facts: dict, stale: bool,
                done: set[str], progress: Callable[[str], None]) -> Walked:
    """Consecutive steps that name a lane: each lane walked in order, the lanes at once, each
    with its own copy of the facts; a lane that fails stops the others at their next step."""
    lanes: dict[str, list[tuple[int, Step]]] = {}
    for i, step in block:
        lanes.setdefault(step.lane, []).append((i, step))
    stop = threading.Event()

    def walk(lane: list[tuple[int, Step]]) -> Walked:
        walked = _walk(remote, lane, total, dict(facts), stale, set(done), progress, stop)
        if walked[1]:
            stop.set()
        return walked

    with ThreadPoolExecutor(max_workers=len(lanes)) as executor:
        walked = list(executor.map(walk, lanes.values()))
    results = sorted((r for w in walked for r in w[0]), key=lambda r: r[0])
    done.update(r.step for _, r in results if r.changed)
    return results, next((w[1] for w in walked if w[1]), None), stale or any(w[2] for w in walked)


def apply_host(remote: Remote, steps: Sequence[Step], progress: Callable[[str], None] = log.info) -> HostResult:
    """Converge one host. Stops at the first failing step; the error names it.

    Steps are walked in order, except consecutive steps that name a `lane`: those of
    one lane in order, the lanes beside each other (a service's steps beside the
    other services' once what they all need is in place); the next step without
    a lane waits for every lane."""
    result = HostResult(remote.host.name)
    started = time.monotonic()
    facts = read(remote, (f for s in steps for f in s.facts()))
    stale, done, i = False, set(), 0
    while i < len(steps) and result.error is None:
        j = i + 1
        while steps[i].lane and j < len(steps) and steps[j].lane:
            j += 1
        block = [(k, steps[k]) for k in range(i, j)]
        walk = _walk_lanes if steps[i].lane else _walk
        walked, result.error, stale = walk(remote, block, len(steps), facts, stale, done, progress)
        result.steps.extend(r for _, r in walked)
        i = j
    result.seconds = time.monotonic() - started
    return result


def _operator(task, ctx: Context, prepared, progress: Callable[[str], None]) -> HostResult:
    """The phase's work on this machine, reported like a host named `operator`."""
    result = HostResult("operator")
    started = time.monotonic()
    try:
        for item, changed, reason in task.apply(ctx, prepared.result(), progress):
            result.steps.append(StepResult("operator", f"{task.script}: {item}", changed, mask(reason), 0.0))
            if changed:
                progress(f"operator: {task.script}: {item}: {mask(reason)}")
    except Exception as e:  # an image that cannot be built or uploaded names itself
        result.error = f"step {task.script}: {type(e).__name__}: {mask(str(e))}"
    result.seconds = time.monotonic() - started
    return result


def _apply_one(phase: Phase, make_steps: Callable[[Context, Host], list[Step]], ctx: Context, pool: Pool,
               host: Host, progress: Callable[[str], None]) -> HostResult | None:
    try:
        if phase.discover:
            names = list(phase.discover)
            answers = pool[host.name].run_many([phase.discover[n] for n in names])
            ctx.facts.setdefault(host.name, {}).update({n: a.stdout.strip() for n, a in zip(names, answers)})
        steps = make_steps(ctx, host)
        return apply_host(pool[host.name], steps, progress) if steps else None
    except RemoteError as e:  # could not even read facts (e.g. SSH down)
        return HostResult(host.name, error=str(e))


def apply_phase(phase: Phase, ctx: Context, pool: Pool, progress: Callable[[str], None] = log.info,
                ahead: Sequence[Phase] = ()) -> PhaseResult:
    """Apply a phase to all its hosts at once; raise PhaseError if any host failed.

    `ahead` are the phases that will follow in this run (deploy/ahead.py): their
    operator tasks' `prepare` begins now; on each target host the early steps
    running there are awaited first (their results go to this phase's `ahead`);
    once this phase succeeded, the early steps whose `early_after` it is begin
    on their hosts. A failure of early steps is only logged, since their own
    phase repeats them and then fails with its own message.
    """
    ahead_work.prepare(ahead, ctx)
    targets = phase.targets(ctx.inventory)
    started = time.monotonic()
    task = phase.operator
    joined: dict[str, dict[str, HostResult]] = {}

    def converge(host: Host) -> HostResult | None:
        joined[host.name] = ahead_work.join(ctx, host.name, phase, progress)
        return _apply_one(phase, phase.steps, ctx, pool, host, progress)

    with ThreadPoolExecutor(max_workers=len(targets) + 1) as executor:
        prepared: Future | None = ctx.prepared.pop(phase.id, None)
        if task and prepared is None:
            prepared = executor.submit(task.prepare, ctx)
        results = [r for r in executor.map(converge, targets) if r is not None]
        if task and not any(r.error for r in results):
            results.append(_operator(task, ctx, prepared, progress))
    result = PhaseResult(phase.id, {r.host: r for r in results}, time.monotonic() - started)
    for pid in sorted({pid for per_host in joined.values() for pid in per_host}):
        hosts = {r.host: r for per_host in joined.values() for p, r in per_host.items() if p == pid}
        result.ahead.append(PhaseResult(f"{pid} early", hosts, max(r.seconds for r in hosts.values())))
        log.info("%s", result.ahead[-1].summary())
        for r in hosts.values():
            if r.error:
                log.warning("%s early steps on %s failed (%s repeats them): %s", pid, r.host, pid, r.error)
    log.info("%s", result.summary())
    if result.failed:
        raise PhaseError(result)
    ahead_work.begin_early(phase, ahead, ctx, lambda p, make, c, h: _apply_one(p, make, c, pool, h, progress))
    return result
