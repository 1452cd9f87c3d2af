"""First aid for a failed check or scenario: a quick look at every host's
recent errors, matched against the known faults, so that the failure message
itself names the host, the service (the log it came from) and the fix.

Cheap and bounded (one command per host, in parallel, a few seconds); the full
evidence is diagnostics.py's job at the end of the run. Never raises.
"""
from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from .diagnostics import SERVICE_LOG_DIRS
from .inventory import Inventory
from .known_faults import recognise_by_source
from .remote import Pool
from .secrets import mask

log = logging.getLogger(__name__)

TIMEOUT = 20
MARK = "=== "

# Per host: units that failed, units the deploy starts that are not active,
# the error journal of the last minutes, and the tail of every service log
# written meanwhile; each part under a `=== source` line so that a fault names
# where it was seen.
def probe(units: Sequence[str], since: float) -> str:
    wanted = " ".join(shlex.quote(u) for u in units)
    epoch = int(since)
    return (
        "systemctl list-units --state=failed --no-legend --plain 2>/dev/null | "
        "awk '{print \"=== unit \" $1 \"\\n\" $1 \" failed\"}'; "
        f"for u in {wanted}; do s=$(systemctl is-active \"$u\" 2>/dev/null); "
        "[ \"$s\" = active ] || printf '=== unit %s\\n%s is %s (the deploy starts it)\\n' \"$u\" \"$u\" \"$s\"; "
        "done; "
        f"echo '=== journal'; journalctl -p err --since @{epoch} -n 100 --no-pager -o cat 2>/dev/null; "
        # log lines stamped since then (every line of an oslo traceback carries its stamp)
        f"since=$(date -d @{epoch} '+%Y-%m-%d %H:%M:%S'); "
        f"for f in $(find {' '.join(SERVICE_LOG_DIRS)} -name '*.log' -newermt \"$since\" "
        "2>/dev/null); do echo \"=== $f\"; tail -n 400 \"$f\" | awk -v s=\"$since\" "
        "'{t=$1\" \"$2; sub(/^\\[/, \"\", t)} t >= s' | grep -E 'ERROR|CRITICAL|Error|error|refused|denied' | "
        "tail -n 60; done; true")


def split_sources(text: str) -> dict[str, str]:
    sources: dict[str, str] = {}
    current = "output"
    for line in text.splitlines():
        if line.startswith(MARK):
            current = line[len(MARK):].strip()
            sources.setdefault(current, "")
        else:
            sources[current] = sources.get(current, "") + line + "\n"
    return sources


def faults_in(host: str, text: str) -> list[str]:
    """Each known fault seen in a host's probe output, as 'host (source): fault: fix'."""
    return recognise_by_source(host, split_sources(text))


def stopped_units(host: str, text: str) -> list[str]:
    """Units failed, or stopped though the deploy starts them, each with the fix."""
    return [f"{host}: {line.strip()}: `systemctl start {unit}` on {host}, or re-run the deploy (its phase "
            f"starts it again); then read `journalctl -u {unit}` on {host}"
            for source, body in split_sources(text).items() if source.startswith("unit ")
            for unit in [source.removeprefix("unit ").removesuffix(".service")]
            for line in body.splitlines() if line.strip()]


def triage(inventory: Inventory, pool: Pool, units: Mapping[str, Sequence[str]], since: float) -> list[str]:
    """What every host shows now: failed units, stopped ones of `units` (host ->
    the units the deploy starts there), and known faults in what was logged
    since `since` (epoch seconds), one line each."""
    def one(name: str) -> list[str]:
        try:
            result = pool[name].run(probe(units.get(name, ()), since), check=False, timeout=TIMEOUT)
        except Exception as e:  # first aid must never replace the failure it explains
            return [f"{name}: not reachable for triage ({type(e).__name__}: {e})"]
        text = mask(result.stdout)
        return stopped_units(name, text) + faults_in(name, text)

    try:
        with ThreadPoolExecutor(max_workers=max(1, len(inventory.hosts))) as executor:
            return [line for lines in executor.map(one, [h.name for h in inventory.hosts]) for line in lines]
    except Exception as e:
        log.warning("triage failed: %s", e)
        return []
