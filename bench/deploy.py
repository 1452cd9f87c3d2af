"""Measure a deploy of the embedded lab: from a destroyed lab to every check
passed (warm caches, or --cold: no base tree, no proxy cache), then a no-op
run of every phase on the converged lab. Appends a dated table, per phase and
host, to bench/results-deploy.md.

    sudo .venv/bin/python bench/deploy.py [--cold]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lab  # noqa: E402
from deploy.inventory import load_inventory  # noqa: E402

PHASE_LINE = re.compile(r"^(p\d\d)\s+([\d.]+)s$")
HOST_LINE = re.compile(r"^\s+(\S+)\s+(\d+) changed\s+(\d+) unchanged\s+([\d.]+)s$")


def run_suite(*args: str) -> tuple[float, str, int]:
    started = time.monotonic()
    p = subprocess.run([str(ROOT / ".venv/bin/pytest"), *args], cwd=ROOT, capture_output=True, text=True)
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.log").write_text(p.stdout + p.stderr)
    return time.monotonic() - started, p.stdout, p.returncode


def phases(output: str) -> dict[str, tuple[float, dict[str, tuple[int, int, float]]]]:
    out: dict = {}
    current = None
    section = output.split("deploy phases", 1)[-1]
    for line in section.splitlines():
        if m := PHASE_LINE.match(line.strip()):
            current = m[1]
            out[current] = (float(m[2]), {})
        elif (m := HOST_LINE.match(line)) and current:
            out[current][1][m[1]] = (int(m[2]), int(m[3]), float(m[4]))
    return out


def noop_phases(log: str) -> dict[str, tuple[float, dict]]:
    """`python -m deploy apply` logs one summary line per phase: 'p07 (5.0s): ...'."""
    return {m[1]: (float(m[2]), {}) for m in re.finditer(r"deploy.runner (p\d\d) \(([\d.]+)s\)", log)}


def summary_line(output: str) -> str:
    lines = [l for l in output.splitlines() if re.search(r"\d+ passed|\d+ failed", l)]
    return lines[-1].strip("= ") if lines else "no summary"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true", help="also move the caches aside: from nothing")
    args = parser.parse_args()
    inv = load_inventory(ROOT / "inventory.yaml", check_keys=False)
    lab.destroy(inv)
    aside = inv.lab.cache_dir.with_name(inv.lab.cache_dir.name + ".bench-aside")
    if args.cold and inv.lab.cache_dir.exists():
        inv.lab.cache_dir.rename(aside)
    try:
        fresh_s, fresh_out, fresh_rc = run_suite()
    finally:
        if aside.exists():
            shutil.rmtree(inv.lab.cache_dir, ignore_errors=True)
            aside.rename(inv.lab.cache_dir)
    started = time.monotonic()
    p = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "deploy", "apply"], cwd=ROOT, capture_output=True,
                       text=True)
    noop_s, noop_rc = time.monotonic() - started, p.returncode
    fresh, noop = phases(fresh_out), noop_phases(p.stderr + p.stdout)
    mem = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1]) / 2**20
    kind = "from nothing (cold caches)" if args.cold else "from a destroyed lab (warm caches)"
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {os.cpu_count()} cores, {mem:.0f} GiB\n",
             f"- deploy + every check, {kind}: **{fresh_s:.0f} s** wall ({summary_line(fresh_out)}; exit {fresh_rc})",
             f"- no-op run of every phase on the converged lab (`python -m deploy apply`): **{noop_s:.0f} s** wall, "
             f"phases {sum(t for t, _ in noop.values()):.1f} s (exit {noop_rc})", "",
             "| phase | fresh s | no-op s | slowest host fresh (changed steps, s) |", "| --- | ---: | ---: | --- |"]
    for pid, (seconds, hosts) in fresh.items():
        slow = max(hosts.items(), key=lambda kv: kv[1][2]) if hosts else ("-", (0, 0, 0.0))
        lines.append(f"| {pid} | {seconds:.1f} | {noop.get(pid, (float('nan'), {}))[0]:.1f} | "
                     f"{slow[0]} ({slow[1][0]}, {slow[1][2]:.1f}) |")
    out = Path(__file__).with_name("results-deploy.md")
    if not out.exists():
        out.write_text("# Deploying the embedded lab: measured figures\n\nTargets (issue 10): warm caches to a "
                       "converged cloud with every check passed under 12 min; cold under 20 min; no-op run of all "
                       "phases under 60 s.\n")
    with out.open("a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if fresh_rc == 0 and noop_rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
