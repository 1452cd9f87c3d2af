"""Where the machine's CPU goes between two moments, from the kernel's own
process accounting: every process that ends writes a record with its user
and system CPU time, so work done by short-lived processes (dpkg's
maintainer scripts, py3compile, debconf's Perl, apt's methods) is counted
once and exactly, which sampling /proc once a second cannot do. The lab's
containers share this machine's kernel, and the kernel writes each record
into the accounting file of every pid namespace above the process, so one
file on this machine sees every host's processes.

    python bench/cpu_accounting.py on /tmp/run.pacct      # root: accton FILE
    python bench/cpu_accounting.py off                    # root: accton off
    python bench/cpu_accounting.py table /tmp/run.pacct 13:40:05 13:45:20 [vmstat.txt]

`table` sums, by command name, the CPU of every process that started and
ended inside the window (a daemon still running at its end is not in the
file yet: the line "machine CPU" from a `vmstat -t` file, when given, says
how much the window had in all). Times are local HH:MM:SS of today.
"""
from __future__ import annotations

import collections
import datetime
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

RECORD = struct.Struct("<bbHIIIIIIf8H16s")   # struct acct_v3 (linux/acct.h), 64 bytes
AHZ = 100                                      # acct_v3 counts times in 1/100 s
VERSION_3 = 3


def comp_t(value: int) -> int:
    """The kernel's 16-bit float: 13-bit mantissa, 3-bit base-8 exponent."""
    return (value & 0x1FFF) << (((value >> 13) & 0x7) * 3)


@dataclass(frozen=True)
class Ended:
    command: str
    started: float      # unix time
    ended: float
    cpu: float          # user + system seconds


def records(path: str) -> Iterator[Ended]:
    data = open(path, "rb").read()
    for offset in range(0, len(data) - RECORD.size + 1, RECORD.size):
        (_flag, version, _tty, _exit, _uid, _gid, _pid, _ppid, btime, etime,
         utime, stime, *_rest, comm) = RECORD.unpack_from(data, offset)
        if version & 0x0F != VERSION_3:
            continue
        cpu = (comp_t(utime) + comp_t(stime)) / AHZ
        yield Ended(comm.split(b"\0", 1)[0].decode(errors="replace"), btime, btime + etime / AHZ, cpu)


def _moment(hms: str) -> float:
    today = datetime.date.today()
    return datetime.datetime.combine(today, datetime.time.fromisoformat(hms)).timestamp()


def machine_cpu(vmstat_path: str, start: float, end: float) -> tuple[float, int] | None:
    """Busy CPU seconds of the whole machine in the window, from `vmstat -t -n 5` lines."""
    busy, samples = 0.0, 0
    cores = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or 1)
    for line in open(vmstat_path):
        words = line.split()
        if len(words) < 19 or not words[0].isdigit():
            continue
        when = datetime.datetime.fromisoformat(f"{words[-2]} {words[-1]}").timestamp()
        if start < when <= end:
            idle, wait = int(words[14]), int(words[15])
            busy += (100 - idle - wait) / 100 * cores * 5
            samples += 1
    return (busy, samples) if samples else None


def table(path: str, start_hms: str, end_hms: str, vmstat_path: str | None = None) -> str:
    start, end = _moment(start_hms), _moment(end_hms)
    by_command: dict[str, float] = collections.Counter()
    count: dict[str, int] = collections.Counter()
    for r in records(path):
        if start <= r.started and r.ended <= end:
            by_command[r.command] += r.cpu
            count[r.command] += 1
    total = sum(by_command.values())
    lines = ["| command | processes | CPU s | share |", "|---|---:|---:|---:|"]
    ranked = sorted(by_command.items(), key=lambda kv: -kv[1])
    for command, cpu in ranked[:20]:
        lines.append(f"| {command} | {count[command]} | {cpu:.1f} | {cpu / total:.0%} |")
    rest = sum(cpu for _, cpu in ranked[20:])
    if rest:
        lines.append(f"| (the rest) | {sum(count[c] for c, _ in ranked[20:])} | {rest:.1f} | {rest / total:.0%} |")
    wall = end - start
    lines.append(f"\nwindow {start_hms}-{end_hms}: {wall:.0f} s wall; processes that began and ended in it: "
                 f"{total:.0f} CPU s ({total / wall:.2f} cores on average)")
    if vmstat_path and (m := machine_cpu(vmstat_path, start, end)):
        lines.append(f"machine CPU (vmstat, {m[1]} samples of 5 s): {m[0]:.0f} CPU s busy of "
                     f"{m[1] * 5 * int(subprocess.run(['nproc'], capture_output=True, text=True).stdout):.0f}")
    return "\n".join(lines)


if __name__ == "__main__":
    match sys.argv[1:2]:
        case ["on"]:
            open(sys.argv[2], "ab").close()
            subprocess.run(["accton", sys.argv[2]], check=True)
        case ["off"]:
            subprocess.run(["accton", "off"], check=True)
        case ["table"]:
            print(table(*sys.argv[2:6]))
        case _:
            sys.exit(__doc__)
