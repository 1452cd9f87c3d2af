"""Measure the embedded lab: `up` from nothing (no base tree, cold proxy),
`up` with warm caches (lab destroyed, caches kept), `up` of a running lab, and
the memory of the idle hosts. Appends a dated table to bench/results-lab.md.

    sudo .venv/bin/python bench/lab_up.py [--inventory inventory.yaml] [--skip-cold]

The cold case moves the cache aside for the run and puts it back afterwards.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import lab  # noqa: E402
from deploy.inventory import load_inventory  # noqa: E402
from lab import hosts, process  # noqa: E402


def timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


def pss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def idle_memory(inv) -> tuple[float, int]:
    pids: set[int] = set()
    for host in inv.hosts:
        nspawn = process.alive(hosts.pidfile(inv, host))
        pids.update(([nspawn] if nspawn else []) + hosts.strays(inv, host))
    return pss_mib(sorted(pids)), len(pids)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inventory", default="inventory.yaml")
    parser.add_argument("--skip-cold", action="store_true")
    args = parser.parse_args()
    inv = load_inventory(args.inventory, check_keys=False)
    rows = []
    lab.destroy(inv)
    if not args.skip_cold:
        aside = inv.lab.cache_dir.with_name(inv.lab.cache_dir.name + ".bench-aside")
        if inv.lab.cache_dir.exists():
            inv.lab.cache_dir.rename(aside)
        try:
            rows.append(("up from nothing (no base tree, cold proxy cache)", timed(lambda: lab.up(inv))))
            lab.destroy(inv)
        finally:
            if aside.exists():
                shutil.rmtree(inv.lab.cache_dir, ignore_errors=True)
                aside.rename(inv.lab.cache_dir)
    rows.append(("up with warm caches (lab destroyed before)", timed(lambda: lab.up(inv))))
    rows.append(("up of a running lab (no-op)", timed(lambda: lab.up(inv))))
    lab.down(inv)
    rows.append(("up after down (trees and disks kept)", timed(lambda: lab.up(inv))))
    settle = time.monotonic()
    mib, count = idle_memory(inv)
    lab.destroy(inv)

    out = Path(__file__).with_name("results-lab.md")
    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {len(inv.hosts)} hosts, "
             f"{os.cpu_count()} cores, {int(mem) / 2**20:.0f} GiB\n",
             "| what | seconds |", "| --- | ---: |"]
    lines += [f"| {what} | {seconds:.1f} |" for what, seconds in rows]
    lines += ["", f"Memory of {len(inv.hosts)} idle hosts (PSS of {count} processes: nspawn and everything "
                  f"in the hosts' namespaces, {time.monotonic() - settle:.0f}s after boot): **{mib:.0f} MiB**", ""]
    if not out.exists():
        out.write_text("# Embedded lab: measured figures\n\nTargets (issue 3): warm `up` of five hosts "
                       "under 30 s; five idle hosts under 1 GiB.\n")
    with out.open("a") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
