"""Measure a deploy of the embedded lab: from a destroyed lab to every check
and scenario passed (warm caches, or --cold: no base tree, no proxy cache),
then a no-op run of every phase on the converged lab, then the floor: the same
package sets installed bare (no configuration, no checks) on a fresh lab with
the same warm caches. Appends a dated table, per phase and host, to
bench/results-deploy.md.

    sudo .venv/bin/python bench/deploy.py [--cold] [--no-floor]
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
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import lab  # noqa: E402
from deploy.inventory import load_inventory  # noqa: E402
from deploy.phases import Context, all_phases  # noqa: E402
from deploy.remote import Pool  # noqa: E402
from deploy.secrets import Secrets  # noqa: E402
from deploy.steps import Packages  # noqa: E402
from images import DEFAULT_CACHE  # noqa: E402

PHASE_LINE = re.compile(r"^(p\d\d)\s+([\d.]+)s$")
HOST_LINE = re.compile(r"^\s+(\S+)\s+(\d+) changed\s+(\d+) unchanged\s+([\d.]+)s$")


def run_suite(*args: str) -> tuple[float, str, int, dict[str, float]]:
    """The README's main job; returns wall seconds, output, exit code and the
    summed test durations per top folder (checks, scenarios) from its JUnit file."""
    (ROOT / "reports").mkdir(exist_ok=True)
    stamp = time.strftime('%Y%m%d-%H%M%S')
    junit = ROOT / "reports" / f"bench-{stamp}.xml"
    started = time.monotonic()
    p = subprocess.run([str(ROOT / ".venv/bin/pytest"), f"--junitxml={junit}", *args], cwd=ROOT,
                       capture_output=True, text=True)
    seconds = time.monotonic() - started
    (ROOT / "reports" / f"bench-{stamp}.log").write_text(p.stdout + p.stderr)
    per_folder: dict[str, float] = {}
    if junit.exists():
        for case in ElementTree.parse(junit).iter("testcase"):
            folder = case.get("classname", "").split(".")[0]
            per_folder[folder] = per_folder.get(folder, 0.0) + float(case.get("time", 0))
    return seconds, p.stdout, p.returncode, per_folder


def phases(output: str) -> dict[str, tuple[float, dict[str, tuple[int, int, float]]]]:
    out: dict = {}
    current = None
    section = output.split("deploy phases", 1)[-1]
    for line in section.splitlines():
        if re.match(r"^p\d\d early\b", line.strip()):
            current = None  # early steps of a later phase: their time overlaps the phases they ran beside
        elif m := PHASE_LINE.match(line.strip()):
            current = m[1]
            out[current] = (float(m[2]), {})
        elif (m := HOST_LINE.match(line)) and current:
            out[current][1][m[1]] = (int(m[2]), int(m[3]), float(m[4]))
    return out


def noop_phases(log: str) -> dict[str, tuple[float, dict]]:
    """`python -m deploy apply` logs one summary line per phase: 'p07 (5.0s): ...'."""
    return {m[1]: (float(m[2]), {}) for m in re.finditer(r"deploy.runner (p\d\d) \(([\d.]+)s\)", log)}


def scenario_timings(output: str) -> list[str]:
    """'what seconds' from the run's "scenario timings" section."""
    section = output.split("scenario timings", 1)[-1].split("\n=", 1)[0] if "scenario timings" in output else ""
    return [f"{m[2].strip()} {float(m[1]):.1f} s" for m in re.finditer(r"^\s*([\d.]+)s  (.+?)\s{2,}\S+$", section, re.M)]


def summary_line(output: str) -> str:
    lines = [l for l in output.splitlines() if re.search(r"\d+ passed|\d+ failed", l)]
    return lines[-1].strip("= ") if lines else "no summary"


def package_sets(inv) -> dict[str, list[str]]:
    """Every package the phases install, per host (QEMU flavour where a fact is unknown)."""
    ctx = Context(inv, Secrets(inv.path.with_name(inv.path.stem + ".secrets.yaml")))
    out: dict[str, list[str]] = {}
    for phase in all_phases():
        for host in phase.targets(inv):
            for step in phase.steps(ctx, host):
                if isinstance(step, Packages):
                    out.setdefault(host.name, []).extend(n for n in step.names if n not in out.get(host.name, []))
    return out


def floor(inv) -> tuple[float, str]:
    """A fresh lab (warm caches), apt through the proxy, every host's packages in one
    transaction, services held: the least any deploy of these hosts could take."""
    from concurrent.futures import ThreadPoolExecutor

    lab.destroy(inv)
    started = time.monotonic()
    lab.up(inv)
    p = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "deploy", "apply", "--until", "p01"], cwd=ROOT,
                       capture_output=True, text=True)
    if p.returncode:
        return float("nan"), f"p01 failed: {p.stderr[-300:]}"
    sets = package_sets(inv)
    pool = Pool(inv.hosts)

    def install(host: str) -> None:
        step = Packages("floor", sets[host], hold_services=True)
        pool[host].run(step.fresh()[0].command)

    with ThreadPoolExecutor(len(sets)) as ex:
        list(ex.map(install, sets))
    seconds = time.monotonic() - started
    pool.close()
    return seconds, ", ".join(f"{h} {len(n)}" for h, n in sets.items())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cold", action="store_true", help="also move the caches aside: from nothing")
    parser.add_argument("--no-floor", action="store_true", help="skip the bare-install floor")
    args = parser.parse_args()
    inv = load_inventory(ROOT / "inventory.yaml", check_keys=False)
    lab.destroy(inv)
    # --cold: the lab's caches (base tree, package proxy) and the guest images' cache moved aside
    caches = [inv.lab.cache_dir, DEFAULT_CACHE] if args.cold else []
    moved = []
    for cache in caches:
        if cache.exists():
            aside = cache.with_name(cache.name + ".bench-aside")
            cache.rename(aside)
            moved.append((cache, aside))
    try:
        return measure(inv, args)
    finally:
        # what the cold run filled is kept (the running lab's hosts sit on its base
        # tree); the copies moved aside go, or come back if nothing replaced them
        for cache, aside in moved:
            if cache.exists():
                shutil.rmtree(aside, ignore_errors=True)
            else:
                aside.rename(cache)


def measure(inv, args) -> int:
    # the lab comes up first on its own, so that its time is known: deploy = lab up + phases
    started = time.monotonic()
    lab.up(inv)
    lab_up_s = time.monotonic() - started
    suite_s, fresh_out, fresh_rc, per_folder = run_suite()
    fresh_s = lab_up_s + suite_s
    started = time.monotonic()
    p = subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "deploy", "apply"], cwd=ROOT, capture_output=True,
                       text=True)
    noop_s, noop_rc = time.monotonic() - started, p.returncode
    fresh, noop = phases(fresh_out), noop_phases(p.stderr + p.stdout)
    floor_s, floor_sets = (float("nan"), "not measured") if args.no_floor else floor(inv)
    mem = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1]) / 2**20
    kind = "from nothing (cold caches)" if args.cold else "from a destroyed lab (warm caches)"
    deploy_s = lab_up_s + sum(t for t, _ in fresh.values())
    early = re.findall(r"^(p\d\d early)\s+([\d.]+)s$", fresh_out, re.M)
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {os.cpu_count()} cores, {mem:.0f} GiB\n",
             f"- {kind}, to every check and scenario passed: **{fresh_s:.0f} s** wall "
             f"({summary_line(fresh_out)}; exit {fresh_rc})",
             f"  - deploy (lab up {lab_up_s:.0f} s + phases {deploy_s - lab_up_s:.0f} s): **{deploy_s:.0f} s**; "
             # the phases run in the setup of the first checks, which JUnit counts as theirs
             f"checks {per_folder.get('checks', 0) - (deploy_s - lab_up_s):.0f} s, scenarios "
             f"{per_folder.get('scenarios', 0):.0f} s (JUnit test times), the rest pytest's own",
             *(["  - early steps (begun ahead, beside earlier phases and their checks): " + ", ".join(f"{n} {float(t):.0f} s" for n, t in early
                                                                        if float(t) >= 0.5)] if early else []),
             f"- scenario timings: {'; '.join(scenario_timings(fresh_out)) or 'none'}",
             f"- no-op run of every phase on the converged lab (`python -m deploy apply`): **{noop_s:.0f} s** wall, "
             f"phases {sum(t for t, _ in noop.values()):.1f} s (exit {noop_rc})",
             *([f"- floor: fresh lab up (same caches) + phase 01 (the proxy) + bare install of the same package sets "
                f"in one transaction per host, all hosts at once ({floor_sets} packages): **{floor_s:.0f} s**",
                f"- **deploy / floor = {deploy_s / floor_s:.2f}** (lab up + phases, against lab up + bare install); "
                f"the whole run with checks and scenarios / floor = {fresh_s / floor_s:.2f}"]
               if not args.no_floor else ["- floor: not measured in this run (--no-floor)"]), "",
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
