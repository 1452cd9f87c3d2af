"""One run per host at a time, and nothing left running by a run that died.

At the start of a run that converges hosts, each host is locked for the whole
run: a long-lived `flock` on LOCK_PATH, held by a command on a channel of its
own whose stdin this run keeps open. If this run dies, sshd closes that stdin,
the command ends and the lock is free again: a lock is never left behind. The
holder's identity (run id, operator machine, pid, start time) is in
STATE_DIR/run.json; a run that ends normally writes its id into
STATE_DIR/ended, so the next run can say it took over from a run that did not.

Then the process groups that earlier runs started (recorded by the command
supervisor of deploy.remote) and whose SSH session is gone are ended: TERM,
and KILL after a deadline; the line logged names the run and the programs.
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from .remote import RUN_ID, Pool, Remote, RemoteError
from .waits import WaitTimeout, iterate_timeout, wait_for

log = logging.getLogger(__name__)
TERM_DEADLINE = 30.0       # a killed run's apt-get or dpkg gets this long to end after TERM
SESSION_GRACE = 30.0       # a dead local holder's session: sshd notices within a second, in practice

# $1 lock file, $2 state dir, $3 this run's record. Prints `locked PREVIOUS-RECORD`
# and `ended ID-OF-THE-LAST-RUN-THAT-ENDED-NORMALLY`, or `held HOLDER-RECORD`.
LOCK = r"""mkdir -p "$2/groups" "${1%/*}" || exit 1
flock -n -E 75 "$1" /bin/sh -c '
printf "locked %s\n" "$(cat "$2/run.json" 2>/dev/null)"
printf "ended %s\n" "$(cat "$2/ended" 2>/dev/null)"
printf "%s\n" "$3" >"$2/run.json.tmp" && mv -f "$2/run.json.tmp" "$2/run.json" || exit 1
read -r how
if [ "$how" = ended ]; then printf "%s\n" "$4" >"$2/ended"; fi' lock "$1" "$2" "$3" "$4"
rc=$?
if [ $rc = 75 ]; then printf 'held %s\n' "$(cat "$2/run.json" 2>/dev/null)"; fi
exit $rc"""

# $1 state dir, $2 this run's id. Ends (TERM) each recorded process group of
# another run whose sshd session is gone; prints `RUN GROUP PROGRAMS...` for each.
# A group whose leader's pid now belongs to a younger process is not that group.
LEFTOVERS = r"""d="$1/groups"; me=$2
for f in "$d"/*; do
  [ -f "$f" ] || continue
  read -r g run parent start <"$f" || { rm -f "$f"; continue; }
  [ "$run" = "$me" ] && continue
  kill -0 "$parent" 2>/dev/null && continue
  if read -r s <"/proc/$g/stat" 2>/dev/null; then
    r=${s##*) }; set -f; set -- $r; set +f
    [ -z "$start" ] || [ "${20}" = "$start" ] || { rm -f "$f"; continue; }
  fi
  if kill -0 -"$g" 2>/dev/null; then
    names=$(for p in /proc/[0-9]*; do
      read -r s <"$p/stat" 2>/dev/null || continue
      r=${s##*) }; set -- $r; [ "$3" = "$g" ] || continue; c=${s#*(}; echo "${c%)*}"
    done | sort -u | tr '\n' ' ')
    echo "$run $g $names"
    kill -TERM -"$g" 2>/dev/null
  else
    rm -f "$f"
  fi
done"""


# $@ process groups: those of them with a process that is not a zombie
MEMBERS = r"""want=$(printf '%s\n' "$@")
for p in /proc/[0-9]*; do
  read -r s <"$p/stat" 2>/dev/null || continue
  r=${s##*) }; set -f; set -- $r; state=$1 g=$3; set +f
  [ "$state" = Z ] && continue
  echo "$g"
done | sort -u | grep -Fx -e "$want" || true"""


class RunLockError(RuntimeError):
    """Another live run holds hosts: one line naming the hosts and the holder."""

    def __init__(self, hosts: list[str], holder: str, lock_path: str):
        self.hosts, self.holder, self.lock_path = hosts, holder, lock_path
        these = "this host" if len(hosts) == 1 else "these hosts"
        super().__init__(f"{', '.join(hosts)}: another deploy run holds {these}: {holder}; lock {lock_path}")


@dataclass(frozen=True)
class RunInfo:
    run: str
    operator: str
    pid: int
    pid_start: str      # the operator process's start time in clock ticks (pids are reused)
    started: str
    command: str

    def describe(self) -> str:
        return f"run {self.run} (pid {self.pid} on {self.operator}, started {self.started}: {self.command})"

    @classmethod
    def parse(cls, text: str) -> RunInfo | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None


def _start_ticks(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def this_run() -> RunInfo:
    return RunInfo(RUN_ID, socket.gethostname(), os.getpid(), _start_ticks(os.getpid()) or "",
                   time.strftime("%Y-%m-%d %H:%M:%S %Z"), " ".join(["python", *sys.argv])[:120])


def dead_here(info: RunInfo) -> bool:
    """The holder ran on this machine and its process is gone (other machines: unknown, so alive)."""
    return info.operator == socket.gethostname() and _start_ticks(info.pid) != info.pid_start


def _try_lock(remote: Remote, me: RunInfo):
    """(held, first line): the lock's command answers `locked ...` or `held ...` at once."""
    q = shlex.quote
    held = remote.hold(f"/bin/sh -c {q(LOCK)} lock {q(remote.lock_path)} {q(remote.state_dir)} "
                       f"{q(json.dumps(asdict(me)))} {q(me.run)}")
    first = held.readline(timeout=60)
    if not first.startswith(("locked", "held")):
        first += " " + held.stderr()
    if not first.startswith("locked"):
        held.close()
    return held, first


def take(remote: Remote, me: RunInfo) -> list[str]:
    """Lock one host for this run; returns what was said (take-over, leftovers ended)."""
    name = remote.host.name
    try:
        for attempt in iterate_timeout(SESSION_GRACE, f"{name}: the SSH session of a dead run to close"):
            held, first = _try_lock(remote, me)
            if first.startswith("locked"):
                break
            if not first.startswith("held"):
                raise RemoteError(name, "take the run lock", None, first, f"could not lock {remote.lock_path}")
            holder = RunInfo.parse(first.removeprefix("held").strip())
            who = holder.describe() if holder else "a process that left no record"
            # a holder that died on this very machine a moment ago: sshd has not yet
            # noticed; anything else holds the lock for real
            if not (holder and dead_here(holder)):
                raise RunLockError([name], who, remote.lock_path)
            if attempt == 0:
                log.info("%s: the lock is still held by dead %s: waiting for its session to close", name, who)
    except WaitTimeout as e:
        raise RunLockError([name], f"{who}, dead but its SSH session is still open ({e})",
                           remote.lock_path) from None
    remote.run_lock = held

    def again() -> None:  # after a lost SSH session (deploy.remote): same run, same record
        for line in take(remote, me):
            log.info("%s", line)
    remote.relock = again
    said: list[str] = []
    previous = RunInfo.parse(first.removeprefix("locked").strip())
    ended = held.readline(timeout=30).removeprefix("ended").strip()
    if previous and previous.run not in (ended, me.run):  # me: taken again after a lost session
        said.append(f"{name}: taken over from dead run {previous.run} "
                    f"(pid {previous.pid} on {previous.operator}, started {previous.started}): it did not end cleanly")
    return said + end_leftovers(remote, me.run)


def end_leftovers(remote: Remote, me: str, deadline: float = TERM_DEADLINE) -> list[str]:
    """End what dead runs left running on this host; wait for it with a deadline and say so."""
    q = shlex.quote
    found = remote.run(f"/bin/sh -c {q(LEFTOVERS)} leftovers {q(remote.state_dir)} {q(me)}").stdout.splitlines()
    if not found:
        return []
    groups = [line.split()[1] for line in found]
    alive = lambda: remote.run(f"/bin/sh -c {q(MEMBERS)} members {' '.join(groups)}").stdout.split()
    said = []
    try:
        wait_for(lambda: not alive(), deadline, f"{remote.host.name}: the process groups left by a dead run to end")
    except WaitTimeout:
        remote.run(" ".join(f"kill -KILL -{g} 2>/dev/null;" for g in groups) + " true")
        wait_for(lambda: not alive(), 10, f"{remote.host.name}: the process groups left by a dead run to end after KILL")
        said.append(f"{remote.host.name}: killed (KILL) what did not end within {deadline:.0f}s of TERM")
    for line in reversed(found):
        run, g, *names = line.split()
        said.insert(0, f"{remote.host.name}: ended process group {g} left running by dead run {run}: "
                       f"{' '.join(names) or '(programs unknown)'}")
    ended = " ".join(groups)
    remote.run(f"cd {q(remote.state_dir + '/groups')} && for f in *; do [ -f \"$f\" ] && read -r g _ <\"$f\" && "
               f"case ' {ended} ' in *\" $g \"*) rm -f \"$f\";; esac; done; true")
    return said


def take_all(pool: Pool, progress: Callable[[str], None] = log.info, me: RunInfo | None = None) -> None:
    """Lock every host of the pool for this run, in parallel; on any refusal, release
    the hosts taken and raise RunLockError with one line per holder."""
    me = me or this_run()
    remotes = list(pool)
    with ThreadPoolExecutor(max_workers=max(1, len(remotes))) as executor:
        futures = [executor.submit(take, r, me) for r in remotes]
        errors: dict[str, list[RunLockError]] = {}
        for future in futures:
            try:
                for line in future.result():
                    progress(line)
            except RunLockError as e:
                errors.setdefault(e.holder, []).append(e)
    if errors:
        for remote in remotes:
            if remote.run_lock is not None:
                remote.run_lock.finish(b"ended\n")
                remote.run_lock = None
        if len(errors) == 1:
            (holder, refusals), = errors.items()
            raise RunLockError([h for e in refusals for h in e.hosts], holder, refusals[0].lock_path)
        raise RunLockError([h for es in errors.values() for e in es for h in e.hosts],
                           " and ".join(errors), next(iter(errors.values()))[0].lock_path)
