"""Apply a phase: every target host in parallel, each host's steps in order.

Per host the runner gathers the facts of all steps in one round trip (each
distinct fact once, deploy/facts.py), then walks the steps: a step whose diff is empty costs nothing more; a step that
acts makes the facts of the next step stale, so those are read again first.
One failing host does not stop the others; the phase then raises PhaseError
naming every failed host, its step and the command's error.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

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


def apply_host(remote: Remote, steps: Sequence[Step], progress: Callable[[str], None] = log.info) -> HostResult:
    """Converge one host. Stops at the first failing step; the error names it."""
    name = remote.host.name
    result = HostResult(name)
    started = time.monotonic()
    facts = read(remote, (f for s in steps for f in s.facts()))
    stale = False
    for i, step in enumerate(steps):
        t0 = time.monotonic()
        try:
            if stale:
                facts.update(read(remote, step.facts()))
            change = step.diff(facts, {s.step for s in result.steps if s.changed})
            if change.changed:
                progress(f"{name}: [{i + 1}/{len(steps)}] {step.key}: {mask(change.reason)}")
                for action in change.actions:
                    execute(remote, action)
                stale = True
        except (RemoteError, WaitTimeout, Refused) as e:
            result.error = f"step {step.key}: {mask(str(e))}"
            break
        except Exception as e:  # a step's own bug must still name the step and host
            result.error = f"step {step.key}: {type(e).__name__}: {mask(str(e))}"
            break
        result.steps.append(StepResult(name, step.key, change.changed, mask(change.reason),
                                       time.monotonic() - t0, [mask(a.describe) for a in change.actions]))
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


def _apply_early(later: Sequence[Phase], ctx: Context, pool: Pool, host: Host,
                 progress: Callable[[str], None]) -> dict[str, HostResult]:
    """On one idle host, the early steps of each later phase, in phase order."""
    out = {}
    for phase in later:
        if phase.early and host in phase.targets(ctx.inventory):
            result = _apply_one(phase, phase.early, ctx, pool, host, progress)
            if result is not None:
                out[phase.id] = result
                if result.error:
                    break  # later early steps may need these; their own phase reports it
    return out


def apply_phase(phase: Phase, ctx: Context, pool: Pool, progress: Callable[[str], None] = log.info,
                ahead: Sequence[Phase] = ()) -> PhaseResult:
    """Apply a phase to all its hosts at once; raise PhaseError if any host failed.

    `ahead` are the phases that will follow: their early steps (packages,
    services held) run meanwhile on the hosts this phase leaves idle, once
    this phase comes after each one's `early_after`. A
    failure there is only logged, since each phase repeats its early steps and
    then fails with its own message.
    """
    targets = phase.targets(ctx.inventory)
    busy = {h.name for h in targets}
    ahead = [p for p in ahead if p.early and phase.number > p.early_after]  # their prerequisites are applied
    idle = [h for h in ctx.inventory.hosts if h.name not in busy and any(h in p.targets(ctx.inventory) for p in ahead)]
    started = time.monotonic()
    task = phase.operator
    with ThreadPoolExecutor(max_workers=len(targets) + len(idle) + 1) as executor:
        prepared = executor.submit(task.prepare, ctx) if task else None
        early = [executor.submit(_apply_early, ahead, ctx, pool, h, progress) for h in idle]
        results = [r for r in executor.map(lambda h: _apply_one(phase, phase.steps, ctx, pool, h, progress), targets)
                   if r is not None]
        if task and not any(r.error for r in results):
            results.append(_operator(task, ctx, prepared, progress))
        early_results = [f.result() for f in early]
    result = PhaseResult(phase.id, {r.host: r for r in results}, time.monotonic() - started)
    for later in ahead:
        hosts = {r.host: r for per_host in early_results for pid, r in per_host.items() if pid == later.id}
        if hosts:
            result.ahead.append(PhaseResult(f"{later.id} early", hosts, max(r.seconds for r in hosts.values())))
            log.info("%s", result.ahead[-1].summary())
            for r in hosts.values():
                if r.error:
                    log.warning("%s early steps on %s failed (%s repeats them): %s", later.id, r.host, later.id,
                                r.error)
    log.info("%s", result.summary())
    if result.failed:
        raise PhaseError(result)
    return result
