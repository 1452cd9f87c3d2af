"""Where a lab host's CPU goes: sample, once a second, the CPU time of every
process in the host's network namespace (the embedded lab's containers share
this machine's kernel, so their processes are visible here), and sum it by
command between two moments.

    python bench/cpu_sampler.py record lab-controller samples.tsv   # until killed
    python bench/cpu_sampler.py table samples.tsv 13:40:05 13:45:20   # HH:MM:SS, local time

`record` writes one line per process and second that used CPU: unix time, pid,
command, CPU seconds used since the previous sample. `table` prints a Markdown
table: command, CPU seconds, share of the window's CPU, and the window's wall
time and mean cores busy. Commands are grouped by name; a Python program by
its script's name, a dpkg maintainer script by the package it configures."""
from __future__ import annotations

import collections
import datetime
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def _label(pid: str) -> str:
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        comm = open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return "?"
    words = [w.decode(errors="replace") for w in argv if w]
    if not words:
        return comm
    name = os.path.basename(words[0])
    if name.startswith("python") and len(words) > 1:
        if words[1] == "-c":
            return "python3 -c"
        script = next((w for w in words[1:] if not w.startswith("-")), words[1])
        return os.path.basename(script.split()[0]) if script.split() else name
    if "/var/lib/dpkg/info/" in " ".join(words):
        return "dpkg script " + os.path.basename(next(w for w in words if "/var/lib/dpkg/info/" in w))
    return name


def _stat(pid: str) -> tuple[int, int, str] | None:
    """(own ticks, ticks of reaped children, parent pid)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14]), fields[1]
    except (OSError, IndexError, ValueError):
        return None


def record(netns: str, out: str) -> None:
    """A process too short-lived to be sampled shows up in its parent's reaped
    children's time; a sampled child's part of that is subtracted, once."""
    seen: dict[str, tuple[int, int, str, str]] = {}  # pid -> own, children, label, parent
    counted: collections.Counter[str] = collections.Counter()  # parent -> ticks of its dead children counted
    first_round = True
    with open(out, "a", buffering=1) as f:
        while True:
            now = time.time()
            pids = set(subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True).stdout.split())
            for gone in set(seen) - pids:
                own, children, _, parent = seen.pop(gone)
                # what it and its own dead children were counted for, which its parent reaps
                counted[parent] += own + children + counted.pop(gone, 0)
            for pid in pids:
                stat = _stat(pid)
                if stat is None:
                    continue
                own, children, parent = stat
                before_own, before_children, label, _ = seen.get(pid) or (0, 0, _label(pid), parent)
                if pid not in seen and first_round:
                    before_own, before_children = own, children  # running before the sampler: its past is not counted
                reaped = children - before_children
                hidden = max(0, reaped - counted.pop(pid, 0))
                used = own - before_own + hidden
                if used > 0:
                    f.write(f"{now:.1f}\t{pid}\t{label}\t{used / TICK:.2f}\n")
                seen[pid] = (own, children, label, parent)
            first_round = False
            time.sleep(1.0)  # a sampling period, not a wait for a condition


def table(path: str, start: str, end: str) -> str:
    day = datetime.date.today()
    t0, t1 = (datetime.datetime.combine(day, datetime.time.fromisoformat(t)).timestamp() for t in (start, end))
    used: collections.Counter[str] = collections.Counter()
    for line in open(path):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 4:  # a label with a newline, from an older recording
            continue
        t, _, label, cpu = fields
        if t0 <= float(t) <= t1:
            used[label] += float(cpu)
    total, wall = sum(used.values()), t1 - t0
    rows = [f"| {label} | {cpu:.1f} | {100 * cpu / total:.0f}% |" for label, cpu in used.most_common(15)]
    rest = total - sum(c for _, c in used.most_common(15))
    return "\n".join(["| command | CPU s | share |", "|---|---:|---:|", *rows,
                      f"| (the rest) | {rest:.1f} | {100 * rest / total:.0f}% |",
                      f"\nwindow {start}-{end}: {wall:.0f} s wall, {total:.0f} CPU s, "
                      f"{total / wall:.2f} cores busy on average"])


if __name__ == "__main__":
    if sys.argv[1:2] == ["record"]:
        record(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["table"]:
        print(table(*sys.argv[2:5]))
    else:
        sys.exit(__doc__)
