"""Processes the lab starts: recorded by pid, found again after a restart of
the suite, ended by pid with a deadline and escalation (never by name)."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from deploy.waits import WaitTimeout, wait_for

log = logging.getLogger("lab.process")


def start(argv: Sequence[str], pidfile: Path, logfile: Path, env: dict | None = None) -> int:
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "ab") as out:
        p = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             start_new_session=True, env=env)
    # Record what the pid is, so a recycled pid is never taken for ours.
    pidfile.write_text(f"{p.pid} {argv[0]}\n")
    return p.pid


def alive(pidfile: Path) -> int | None:
    """The recorded pid if that process still runs the recorded program."""
    try:
        pid_text, program = pidfile.read_text().split(maxsplit=1)
        pid = int(pid_text)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (OSError, ValueError):
        return None
    if Path(cmdline).name != Path(program.strip()).name:
        return None
    stat = Path(f"/proc/{pid}/stat").read_text()
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        os.waitpid(pid, os.WNOHANG) if _is_child(pid) else None
        return None
    return pid


def _is_child(pid: int) -> bool:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
    except (OSError, ValueError, IndexError):
        return False


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _gone(pid: int) -> bool:
    if _is_child(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state == "Z"
    except OSError:
        return True


def stop(pidfile: Path, what: str, grace: float = 30.0, term: int = signal.SIGTERM) -> None:
    """Ask the process to end; after `grace` seconds kill it and what it started."""
    pid = alive(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return
    tree = descendants(pid)
    os.kill(pid, term)
    try:
        wait_for(lambda: _gone(pid), grace, f"{what} (pid {pid}) to stop")
    except WaitTimeout:
        log.warning("%s (pid %d) did not stop within %.0fs: killing it and %d descendants", what, pid, grace, len(tree))
        for p in [pid, *tree, *descendants(pid)]:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: _gone(pid), 15, f"{what} (pid {pid}) to die after SIGKILL")
    for p in tree:  # stragglers of the tree that outlived their parent
        if not _gone(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    pidfile.unlink(missing_ok=True)


def kill_all(pids: list[int], what: str, timeout: float = 15) -> None:
    """SIGKILL these pids and wait until they are gone (up to `timeout` seconds)."""
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: all(_gone(p) for p in pids), timeout, f"{what} to die after SIGKILL")
