"""Debian packages in one apt transaction, with services held while it runs."""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from ..facts import Check, DpkgInterrupted, Fact, Installed, Succeeds
from .base import Action, Change, Step, Values, no_change

q = shlex.quote

DPKG_LOCK = "/var/lib/dpkg/lock-frontend"
LOCK_WAIT_S = 600    # another apt or dpkg (unattended-upgrades, an operator) may hold dpkg's lock this long
# The pid holding dpkg's lock, nothing when it is free: read from /proc/locks,
# since a bare host has neither fuser nor lsof.
DPKG_LOCK_HOLDER = (f"i=$(stat -c %i {DPKG_LOCK} 2>/dev/null) && awk -v i=\"$i\" "
                    "'{for (k = 2; k <= NF; k++) if ($k ~ (\":\" i \"$\")) print $(k-1)}' /proc/locks")
# A dpkg run that was interrupted (killed mid-unpack or mid-configure) leaves its
# journal in updates/ or packages half-installed; apt then refuses everything.
DPKG_INTERRUPTED = DpkgInterrupted().command()
LOCK_FREE = Check((Succeeds(f"test -z \"$({DPKG_LOCK_HOLDER})\""),), bool, "dpkg's lock free")
POLICY_RC_D = "/usr/sbin/policy-rc.d"
HOLDS = "/run/openstack-deploy/hold-services.d"
GUARD_MARK = "# openstack-deploy hold-services guard"
# What an older suite wrote there itself (and removed after each transaction).
LEGACY_GUARD = "#!/bin/sh\nexit 101"


def guard_script(holds: str = HOLDS) -> str:
    """/usr/sbin/policy-rc.d of the suite's own: written once and left in place.
    Maintainer scripts may start no service (exit 101) while a file HOLDS/PID
    names a live process (PID, holding its start time in clock ticks): each
    transaction that holds services adds its own and removes only that one,
    so two holders never undo each other's hold, and a killed one's is void."""
    # The text names deploy/steps.py, where it was first written: it is on every
    # host's policy-rc.d, and a new text would rewrite them all for nothing.
    return f"""#!/bin/sh
{GUARD_MARK} v1 (deploy/steps.py): exit 101 while a live process holds services
for f in {holds}/*; do
  [ -f "$f" ] || continue
  read -r want <"$f" 2>/dev/null || continue
  read -r s <"/proc/${{f##*/}}/stat" 2>/dev/null || continue
  r=${{s##*) }}; set -f; set -- $r; set +f
  [ "${{20}}" = "$want" ] && exit 101
done
exit 0"""


def guard_in_place(guard: str = POLICY_RC_D, holds: str = HOLDS) -> Action:
    """The suite's guard written where there is none, or an older one of the suite's;
    a policy-rc.d of someone else's is left as it is."""
    g = q(guard)
    return Action(describe=f"hold-services guard {guard} in place (the suite's own; another's is left alone)",
                  command=f"mkdir -p {q(holds)} && guard={q(guard_script(holds))} && "
                          f"if [ ! -e {g} ] || grep -qF {q(GUARD_MARK)} {g} || "
                          f"[ \"$(cat {g})\" = \"$(printf {q(LEGACY_GUARD)})\" ]; then "
                          f"[ \"$(cat {g} 2>/dev/null)\" = \"$guard\" ] || {{ printf '%s\\n' \"$guard\" > {g}.new && "
                          f"chmod 755 {g}.new && mv -f {g}.new {g}; }}; fi")


def held(text: str, holds: str = HOLDS) -> str:
    """`text` run while this shell holds services (after `guard_in_place`): its own
    hold file, removed when `text` ends, whatever others hold meanwhile."""
    return (f"hold={q(holds)}/$$ && read -r s </proc/$$/stat && r=${{s##*) }} && set -f && set -- $r && set +f && "
            f"printf '%s\\n' \"${{20}}\" > \"$hold\" && ( {text} ); rc=$?; rm -f \"$hold\"; exit $rc")


@dataclass
class Packages(Step):
    """Debian packages installed, in one apt transaction.

    `hold_services` keeps maintainer scripts from starting daemons (the suite's
    policy-rc.d guard, see `held`) so that a service first starts after the
    suite configured it. apt waits for dpkg's lock up to LOCK_WAIT_S; a dpkg run
    that was interrupted is completed first (`dpkg --configure -a`, services held).
    """
    script: str
    names: Sequence[str]
    hold_services: bool = False
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or "packages " + " ".join(self.names)

    def facts(self) -> list[Fact]:
        return [Installed(tuple(self.names)), DpkgInterrupted()]

    def missing(self, installed: frozenset[str]) -> list[str]:
        return [n for n in self.names if n not in installed]

    def install(self, names: Sequence[str]) -> list[Action]:
        lock = f"-o DPkg::Lock::Timeout={LOCK_WAIT_S}"
        apt = (f"DEBIAN_FRONTEND=noninteractive apt-get -q -y {lock} -o Dpkg::Options::=--force-confold "
               "--no-install-recommends install " + " ".join(map(q, names)))
        # The first install on a host, or one after the mirror moved on, needs fresh
        # lists; a lock still held after the wait is said as such instead.
        text = (f"{apt} || {{ lockpid=$({DPKG_LOCK_HOLDER}); if [ -n \"$lockpid\" ]; then "
                f"echo \"waited {LOCK_WAIT_S}s for dpkg's lock {DPKG_LOCK}: still held by pid $lockpid "
                f"($(cat /proc/$lockpid/cmdline 2>/dev/null | tr '\\0' ' '))\" >&2; false; "
                f"else apt-get -q {lock} update && {apt}; fi; }}")
        install = Action(describe="apt-get install " + " ".join(names), command=held(text) if self.hold_services else text)
        return [guard_in_place(), install] if self.hold_services else [install]

    def complete_interrupted(self, evidence: str, then: Sequence[str]) -> list[Action]:
        """An interrupted dpkg run completed (services held), then what is missing installed."""
        return [Action.poll(f"poll up to {LOCK_WAIT_S}s until dpkg's lock is free", LOCK_FREE, LOCK_WAIT_S,
                            f"dpkg's lock {DPKG_LOCK} free (held by another apt or dpkg)"),
                guard_in_place(),
                Action(describe="dpkg --configure -a (an interrupted dpkg run: " + evidence + ")",
                       command=held("dpkg --configure -a"))] + (self.install(then)[-1:] if then else [])

    def diff(self, values: Values, done: set[str]) -> Change:
        installed, interrupted = (values[f] for f in self.facts())
        missing = self.missing(installed)
        if interrupted:
            return Change(self.complete_interrupted(interrupted, missing),
                          "dpkg was interrupted: dpkg --configure -a first"
                          + (", then missing: " + " ".join(missing) if missing else ""))
        if not missing:
            return no_change(f"{len(self.names)} packages installed")
        return Change(self.install(missing), "missing: " + " ".join(missing))

    def fresh(self) -> list[Action]:
        return self.install(self.names)
