"""The report's install phases, in its order. Each module holds one phase:
its settings as data near the top, and `steps(ctx, host)` listing the steps
for one host (an empty list: the phase does nothing there).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any
from dataclasses import dataclass, field
from functools import cached_property

from ..inventory import Host, Inventory
from ..pki import Authority
from ..secrets import Secrets
from ..steps import Step


@dataclass
class Context:
    """What a phase may read while it makes its steps."""
    inventory: Inventory
    secrets: Secrets
    facts: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> discovered fact -> value
    # Work begun ahead of its phase (deploy/ahead.py): phase id -> its operator task's `prepare`;
    # host -> (phase ids, the chain of their early steps running there); (phase id, host)
    # whose early steps were begun.
    prepared: dict[str, Future] = field(default_factory=dict)
    early: dict[str, tuple[list[str], Future]] = field(default_factory=dict)
    early_begun: set[tuple[str, str]] = field(default_factory=set)

    @cached_property
    def pki(self) -> Authority:
        """The inventory's certificate authority, beside its secrets (placeholders with them)."""
        return Authority.beside(self.secrets)

    def fact(self, host: Host, name: str) -> str:
        """A discovered fact of a host; in a plan (nothing asked) a placeholder."""
        return self.facts.get(host.name, {}).get(name, f"<{name}>")


@dataclass(frozen=True)
class Precondition:
    """What must hold on a host before a run changes any host: facts read at the
    start of the run, and what is wrong with their values (one line each; none: fine)."""
    facts: tuple[Any, ...]          # deploy.facts.Fact
    problems: Callable[..., list[str]]


@dataclass(frozen=True)
class OperatorTask:
    """Work of a phase done on the operator's machine rather than on a host:
    `prepare` needs no host and no cloud, so it begins with the run's first phase
    and goes on beside the phases before its own (on a new machine, the guest
    images are built while the hosts get their first packages, not while the
    controller's transaction needs both cores); `apply` runs after every host of
    its phase succeeded and returns (item, changed, reason) per item."""
    script: str
    prepare: Callable[[Context], Any]
    apply: Callable[[Context, Any, Callable[[str], None]], list[tuple[str, bool, str]]]


@dataclass(frozen=True)
class Phase:
    number: int
    name: str                     # the report's directory name, e.g. "network-gateway"
    roles: tuple[str, ...]        # the hosts it targets
    steps: Callable[[Context, Host], list[Step]]
    # Facts asked of each target host before its steps are made (name -> command),
    # for choices the steps depend on, such as KVM or QEMU emulation.
    discover: Mapping[str, str] = field(default_factory=dict)
    operator: OperatorTask | None = None
    # Steps that need nothing but the phases up to `early_after` (package installs,
    # services held): they begin on their hosts when that phase has ended, and a
    # phase that targets such a host waits for them there first (deploy/ahead.py).
    early: Callable[[Context, Host], list[Step]] | None = None
    early_after: int = 6
    # Read on each target host before the first phase of a run changes anything
    # (runner.check_preconditions): a state the run must not act on, named with what to do.
    preconditions: Callable[[Context, Host], list[Precondition]] | None = None

    def targets(self, inventory: Inventory) -> list[Host]:
        return [h for h in inventory.hosts if any(h.has_role(r) for r in self.roles)]

    @property
    def id(self) -> str:
        return f"p{self.number:02d}"

    @property
    def title(self) -> str:
        return f"{self.number:02d}-{self.name}"


def all_phases() -> list[Phase]:
    from . import (p01_network_gateway, p02_glusterfs_all, p03_glusterfs_controller, p04_glusterfs_all,
                   p05_kvm_compute, p06_openstack_all, p07_openstack_controller, p08_openstack_compute,
                   p09_openstack_gateway)
    return [p01_network_gateway.PHASE, p02_glusterfs_all.PHASE, p03_glusterfs_controller.PHASE,
            p04_glusterfs_all.PHASE, p05_kvm_compute.PHASE, p06_openstack_all.PHASE,
            p07_openstack_controller.PHASE, p08_openstack_compute.PHASE, p09_openstack_gateway.PHASE]


def started_units(phase: Phase, ctx: Context, host: Host) -> list[str]:
    """The systemd units a phase keeps running on a host."""
    from ..steps import Service

    return [s.unit for s in phase.steps(ctx, host) if isinstance(s, Service) and s.running]


def units_by_host(inventory: Inventory) -> dict[str, list[str]]:
    """Every unit the phases keep running, per host (names need no secrets)."""
    from ..secrets import Secrets

    ctx = Context(inventory, Secrets.placeholders())
    out: dict[str, list[str]] = {}
    for phase in all_phases():
        for host in phase.targets(inventory):
            out.setdefault(host.name, []).extend(u for u in started_units(phase, ctx, host)
                                                 if u not in out.get(host.name, []))
    return out
