"""`--plan`: the commands each phase would run on a fresh host, per host, in
order, made from the same step objects that drive a real run. Nothing is
contacted; secrets show as placeholders or ******."""
from __future__ import annotations

from collections.abc import Sequence

from .inventory import Inventory
from .phases import Context, Phase
from .remote import stdin_of
from .secrets import Secrets, mask


def _stdin_lines(command: object) -> list[str]:
    """What a command reads on standard input (its secrets: placeholders here)."""
    data = stdin_of(command)
    return [] if data is None else [f"             < {line}" for line in data.decode().splitlines()]


def render_plan(ctx: Context, phases: Sequence[Phase]) -> str:
    out: list[str] = []
    for phase in phases:
        for host in phase.targets(ctx.inventory):
            steps = phase.steps(ctx, host)
            if not steps:
                continue
            roles = ", ".join(sorted(host.roles))
            out.append(f"== {phase.title} on {host.name} ({host.address}; {roles})")
            for name, command in phase.discover.items():
                out.append(f"   <{name}> is asked first: {command}")
            for condition in phase.preconditions(ctx, host) if phase.preconditions else ():
                for command in dict.fromkeys(map(str, condition.facts)):
                    out.append(f"   before the run changes any host: {command}")
            for n, step in enumerate(steps, 1):
                note = "" if step.idempotent else "  [not idempotent: runs every time]"
                out.append(f"  {n:2d}. {step.key}{note}")
                for fact in step.facts():
                    out.append(f"      check: {fact}")
                    out += _stdin_lines(fact.command())
                for action in step.fresh():
                    out.append("      do:    " + action.describe.replace("\n", "\n             "))
                    out += _stdin_lines(action.command)
                    if action.content is not None:
                        out += [f"             | {line}" for line in action.content.decode().splitlines()]
            out.append("")
    return mask("\n".join(out))


def plan(inventory: Inventory, phases: Sequence[Phase]) -> str:
    """The plan of `phases` for an inventory (`python -m deploy plan`, `pytest --plan`):
    the secrets file's values where it has them, placeholders where not; none is made."""
    return render_plan(Context(inventory, Secrets(inventory.secrets_path, create=False)), phases)
