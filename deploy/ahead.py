"""Work begun ahead of the phase it belongs to, on the hosts and on this machine.

- A phase's operator task `prepare` (the guest images) needs no host: it begins
  with the run's first phase, in a thread of its own, and its phase takes the result.
- A phase's `early` steps (packages, services held) need only the phases up to
  its `early_after`: when that phase has ended, they begin on each of their hosts
  in the background, and go on while the checks of the phases between run and
  while those phases converge other hosts. A phase that targets a host first
  joins the early work running there (its steps never share a host with it); the
  phase the steps belong to repeats them (a no-op when they are done) and fails
  with its own message where they failed.

All of it lives in the run's Context. A run that fails leaves its early work
to end with the run's SSH sessions (the hosts' supervisors end their commands;
the next run repairs an interrupted dpkg).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from .inventory import Host
from .phases import Context, Phase

log = logging.getLogger(__name__)

ApplyOne = Callable[[Phase, Callable, Context, Host], object]   # runner._apply_one, bound to pool and progress


def _in_background(name: str, work: Callable[[], object]) -> Future:
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    future = worker.submit(work)
    worker.shutdown(wait=False)   # the thread ends when the work does
    return future


def prepare(phases: Sequence[Phase], ctx: Context) -> None:
    """Begin the operator tasks' `prepare` of these phases, once per run (ctx.prepared)."""
    for later in phases:
        if later.operator and later.id not in ctx.prepared:
            ctx.prepared[later.id] = _in_background(f"{later.id}-prepare", lambda p=later: p.operator.prepare(ctx))


def begin_early(ended: Phase, later: Sequence[Phase], ctx: Context, apply_one: ApplyOne) -> None:
    """After `ended`, on every host with none running: the early steps of each later phase
    whose `early_after` has ended, not begun before in this run, in phase order."""
    for host in ctx.inventory.hosts:
        if host.name in ctx.early:
            continue   # a chain begun by an earlier phase still runs there
        due = [p for p in later if p.early and ended.number >= p.early_after and host in p.targets(ctx.inventory)
               and (p.id, host.name) not in ctx.early_begun]
        if due:
            ctx.early_begun.update((p.id, host.name) for p in due)
            ctx.early[host.name] = ([p.id for p in due], _in_background(
                f"early-{host.name}", lambda h=host, d=due: _chain(d, ctx, h, apply_one)))


def _chain(phases: Sequence[Phase], ctx: Context, host: Host, apply_one: ApplyOne) -> dict[str, object]:
    """On one host, the early steps of each phase in order; a failure ends the chain
    (later early steps may need these; their own phase reports it)."""
    out = {}
    for phase in phases:
        result = apply_one(phase, phase.early, ctx, host)
        if result is not None:
            out[phase.id] = result
            if result.error:
                break
    return out


def join(ctx: Context, host: str, before: Phase, progress: Callable[[str], None] = log.info) -> dict[str, object]:
    """The early work begun on `host`, once it has ended (said when `before` must wait
    for it): phase id -> HostResult."""
    if host not in ctx.early:
        return {}
    phases, future = ctx.early[host]
    if not future.done():
        progress(f"{host}: {before.id} waits for the early steps of {', '.join(phases)} running there")
    try:
        return future.result()
    finally:
        del ctx.early[host]
