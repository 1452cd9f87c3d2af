"""The report's install phases, in its order. Each module holds one phase:
its settings as data near the top, and `steps(ctx, host)` listing the steps
for one host (an empty list: the phase does nothing there).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..inventory import Host, Inventory
from ..secrets import Secrets
from ..steps import Step


@dataclass
class Context:
    """What a phase may read while it makes its steps."""
    inventory: Inventory
    secrets: Secrets
    facts: dict[str, Any] = field(default_factory=dict)  # decided by earlier phases


@dataclass(frozen=True)
class Phase:
    number: int
    name: str                     # the report's directory name, e.g. "network-gateway"
    roles: tuple[str, ...]        # the hosts it targets, for markers and docs
    steps: Callable[[Context, Host], list[Step]]

    @property
    def id(self) -> str:
        return f"p{self.number:02d}"

    @property
    def title(self) -> str:
        return f"{self.number:02d}-{self.name}"


def all_phases() -> list[Phase]:
    from . import p01_network_gateway
    return [p01_network_gateway.PHASE]
