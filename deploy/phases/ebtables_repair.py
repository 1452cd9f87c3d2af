"""The ebtables-nft defect of newer kernels, detected per host and repaired
where it lives (see ebtables_front.py for the defect itself).

Detected by a fact: a rule with an `among` match is added to a scratch chain
of the suite's own and deleted again by its spec, with the stock ebtables-nft.
The answer is recorded in /etc/deploy/ebtables, like the hypervisor choice.

Where the delete fails, /usr/sbin/ebtables becomes the suite's front end
through Debian's alternatives (priority above ebtables-nft's 20): package
upgrades keep it, and `update-alternatives --remove ebtables FRONT` restores
the stock tool. Where the delete works, nothing is installed, and a front end
an earlier run installed is removed again.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from ..inventory import Host
from ..steps import Command, File, Step
from . import Context

FRONT = "/usr/local/sbin/ebtables-front"
RECORD = "/etc/deploy/ebtables"
PRIORITY = 100
PROBE_CHAIN = "deploy-among-probe"
PROBE_RULE = "-p ARP -i deploy0 --among-src 02:00:00:00:00:01 -j RETURN"

# works | broken | unavailable (no ebtables-nft nat table to probe in)
AMONG_DELETE = (
    f"t='ebtables-nft -t nat'; c={PROBE_CHAIN}; "
    "$t -N $c 2>/dev/null || $t -F $c 2>/dev/null; "
    f"if ! $t -A $c {PROBE_RULE} 2>/dev/null; then r=unavailable; "
    f"elif $t -D $c {PROBE_RULE} 2>/dev/null; then r=works; else r=broken; fi; "
    "$t -F $c 2>/dev/null; $t -X $c 2>/dev/null; echo $r")

SELECTED = f"update-alternatives --query ebtables | grep -qxF {shlex.quote('Value: ' + FRONT)}"
INSTALL = (f"update-alternatives --install /usr/sbin/ebtables ebtables {FRONT} {PRIORITY} "
           "--slave /usr/sbin/ebtables-save ebtables-save /usr/sbin/ebtables-nft-save "
           "--slave /usr/sbin/ebtables-restore ebtables-restore /usr/sbin/ebtables-nft-restore "
           # auto mode picks the highest priority; a manual choice of another is overruled
           f"&& {{ {SELECTED} || update-alternatives --set ebtables {FRONT}; }}")
REGISTERED = f"update-alternatives --list ebtables 2>/dev/null | grep -qxF {FRONT}"


def needs_front(answer: str) -> bool:
    """A plan (the fact not asked: a placeholder) shows the repair too."""
    return answer == "broken" or answer.startswith("<")


def steps(ctx: Context, host: Host, script: str) -> list[Step]:
    answer = ctx.fact(host, "ebtables_among_delete")
    record = File(script, RECORD, f"among_delete={answer}\n",
                  title=f"{RECORD}: deleting an among rule by its spec {answer}")
    if needs_front(answer):
        return [
            record,
            File(script, FRONT, Path(__file__).with_name("ebtables_front.py").read_text(), mode="0755",
                 title=f"{FRONT}: ebtables-nft deleting among rules by number where by spec fails"),
            Command(script, INSTALL, unless=SELECTED, title=f"/usr/sbin/ebtables is {FRONT} (alternatives)"),
        ]
    return [
        record,
        Command(script, f"{{ ! {REGISTERED} || update-alternatives --remove ebtables {FRONT}; }} && rm -f {FRONT}",
                unless=f"! {REGISTERED} && ! test -e {FRONT}",
                title="/usr/sbin/ebtables is the stock tool (no front end needed)"),
    ]
