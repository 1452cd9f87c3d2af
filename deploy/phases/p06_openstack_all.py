"""06-openstack-all: package sources, time, and debconf answers on every host.

The report's 01-epel-add-repo has no counterpart: Debian carries OpenStack
Zed in bookworm itself, and the package proxy and sources are set in phase 01,
before the first package is installed. Then 02-ntp-install ... 04-ntp-start
with chrony, and what Debian adds: the OpenStack packages' debconf questions
answered in advance so that no package configures a database, a message
queue or an endpoint behind the suite's back.
"""
from __future__ import annotations

from .. import discover
from ..inventory import Host
from ..steps import Command, File, Packages, Service, Step
from . import Context, Phase
from ..config_values import one_word

PRESEED_FILE = "/var/lib/deploy/preseed.cfg"
PRESEED_DONE = "/var/lib/deploy/preseed.done"
CHRONY_SOURCES = "/etc/chrony/sources.d/deploy.sources"


def preseed_lines() -> list[str]:
    from .debconf_zed import PRESEED
    return [f"{pkg} {question} {kind} {value}" for pkg, question, kind, value in PRESEED]


def steps(ctx: Context, host: Host) -> list[Step]:
    inv = ctx.inventory
    container = ctx.fact(host, "container") not in ("none", "")
    result: list[Step] = []
    sources = File("03-ntp-config", CHRONY_SOURCES,
                   "# Written by the deploy suite from the inventory's time.ntp_servers\n"
                   + "".join(f"server {one_word(s, 'time.ntp_servers')} iburst\n" for s in inv.ntp_servers))
    result += [
        Packages("02-ntp-install", ["chrony"]),
        sources,
        # A container shares the machine's clock and has no CAP_SYS_TIME: Debian's
        # chrony unit does not start there (ConditionCapability), as wanted.
        Service("04-ntp-start", "chrony", running=None if container else True, restart_on=[sources]),
        *debconf_steps(),
    ]
    return result


def after_debconf(steps: list[Step]) -> list[Step]:
    """A later phase's early installs, begun before this phase has run on the host:
    the debconf answers first (none at all where the phase installs nothing there)."""
    return [*debconf_steps(), *steps] if steps else []


def debconf_steps() -> list[Step]:
    """The answers loaded into debconf: what every OpenStack package install needs first."""
    return [File("05-debconf-preseed", PRESEED_FILE, "\n".join(preseed_lines()) + "\n"),
            Command("05-debconf-preseed", f"debconf-set-selections {PRESEED_FILE} && touch {PRESEED_DONE}",
                    unless=f"test {PRESEED_DONE} -nt {PRESEED_FILE}", title="debconf answers loaded")]


PHASE = Phase(6, "openstack-all", ("all",), steps, discover={"container": discover.CONTAINER})
