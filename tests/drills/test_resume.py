"""Resume drill (issue 24): a deploy killed at any moment resumes green with one
re-run, and two runs never converge the same host at once.

From a destroyed embedded lab, `python -m deploy apply` runs as a subprocess
and is killed (SIGKILL, as a crashed operator machine or a CI timeout would) at
three points of one fresh deploy, each run started again at once after the
kill before it:

1. during phase 03's GlusterFS volume creation (`gluster ... volume create`
   on the controller),
2. during phase 07's package transaction (begun ahead, after phase 04), while
   dpkg unpacks on the controller;
   meanwhile a second, concurrent `python -m deploy apply` must fail at once
   with one line naming the first (its pid),
3. during Nova's first database sync (`nova-manage db sync`), once it has
   created tables (a half-migrated schema).

After each kill the drill requires the killed run's remote command to end with
its SSH session (nothing orphaned, within 30 s). The run after the last kill
must then succeed in one go (it says it took over from the dead run), and
every check must pass (`pytest --no-deploy checks`). The time of that re-run
is reported (JUnit property and the terminal).

Ordering: this drill destroys the lab and deploys it afresh, so it runs first
among the self-tests (pytest-order, `order(0)`); the fault drills of
test_drills.py then use the lab it leaves converged instead of deploying again.
Needs root and the lab's caches; about 9 minutes here (522 s measured, bench/results-deploy.md).
"""
from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deploy.inventory import load_inventory
from deploy.remote import Pool, Remote
from deploy.waits import WaitTimeout, iterate_timeout

pytestmark = [pytest.mark.drill, pytest.mark.lab, pytest.mark.order(0)]
ROOT = Path(__file__).resolve().parents[2]
TO_KILL_POINT = 1200        # from a run's start to the point where it is killed (the first one brings the lab up)
ORPHAN_DEADLINE = 30        # a killed run's remote command ends within this (TERM, KILL after 10 s)
FINAL_DEPLOY = 3600
CHECKS = 1200
# Every process's command line on a host, one per line (a bare host has no procps).
PROCESSES = "python3 -c " + shlex.quote(
    "import os\n"
    "for p in os.listdir('/proc'):\n"
    "    try:\n"
    "        c = open('/proc/' + p + '/cmdline', 'rb').read()\n"
    "    except OSError:\n"
    "        continue\n"
    "    if p.isdigit() and c:\n"
    "        print(c.replace(b'\\0', b' ').decode(errors='replace'))\n")


class Deploy:
    """`python -m deploy apply` in a subprocess; its output kept in a file and read line by line."""

    def __init__(self, label: str, folder: Path):
        self.label = label
        self.file = folder / f"{label}.log"
        self.output: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "deploy", "apply"], cwd=ROOT, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with self.file.open("w") as log:
            for line in self.proc.stdout:
                self.output.append(line)
                log.write(line)
                log.flush()
                self._lines.put(line)
        self._lines.put(None)

    def tail(self, n: int = 40) -> str:
        return "".join(self.output[-n:])

    def line(self, pattern: str, timeout: float) -> str:
        """Wait for the first output line matching `pattern`; fail if the run ends first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"{self.label}: no line matching {pattern!r} within {timeout:.0f}s:\n{self.tail()}")
            if line is None:
                pytest.fail(f"{self.label} ended (exit {self.proc.wait()}) before a line matching {pattern!r}:\n"
                            f"{self.tail()}")
            if re.search(pattern, line):
                return line

    def kill(self) -> float:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        return time.monotonic() - self.started

    def finish(self, timeout: float) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=30)  # the rest of its output
        return rc


def running(remote: Remote, pattern: str) -> list[str]:
    return [c for c in remote.run(PROCESSES, timeout=30).stdout.splitlines() if re.search(pattern, c)]


def poll(condition: Callable[[], object], timeout: float, what: str) -> object:
    """A fast poll (0.2 s): the windows to hit are a few seconds long."""
    for _ in iterate_timeout(timeout, what, interval=0.2, max_interval=0.2):
        value = condition()
        if value:
            return value
    raise AssertionError("unreachable")


def require_orphans_gone(remote: Remote, pattern: str, label: str) -> None:
    try:
        poll(lambda: not running(remote, pattern), ORPHAN_DEADLINE,
             f"{label}'s remote command ({pattern}) to end with its SSH session")
    except WaitTimeout:
        pytest.fail(f"{label} was killed, but on {remote.host.name} its command still runs: "
                    f"{running(remote, pattern)}")


@pytest.fixture(scope="module")
def lab_hosts():
    if os.geteuid() != 0:
        pytest.fail("the resume drill needs root (it destroys and deploys the embedded lab)")
    inventory = load_inventory(ROOT / "inventory.yaml", check_keys=False)
    assert inventory.lab.embedded, "the resume drill destroys the lab: it runs on the embedded lab only"
    pool = Pool(inventory.hosts)
    yield inventory, pool
    pool.close()


def test_killed_three_times_then_one_rerun_converges_and_checks_pass(lab_hosts, tmp_path,
                                                                       record_testsuite_property):
    inventory, pool = lab_hosts
    controller = pool[inventory.controller.name]
    name = inventory.controller.name
    destroyed = subprocess.run([sys.executable, "-m", "lab", "destroy"], cwd=ROOT, capture_output=True, text=True,
                               timeout=600)
    assert destroyed.returncode == 0, f"lab destroy failed:\n{destroyed.stderr[-3000:]}"
    killed_at: list[str] = []

    # 1. phase 03: the volume creation
    run = Deploy("run1-killed-in-volume-create", tmp_path)
    run.line(rf"{name}: \[\d+/\d+\] 02-glusterfs-create-volume: volume \S+ exists: check failed", TO_KILL_POINT)
    create = r"gluster --mode=script volume create"
    try:
        poll(lambda: running(controller, create), 5, "gluster volume create on the controller")
        killed_at.append("03 volume create (seen running)")
    except WaitTimeout:  # it may take under a second: then the kill lands right after it was sent
        killed_at.append("03 volume create (sent, not seen running)")
    run.kill()
    require_orphans_gone(controller, create, run.label)

    # 2. phase 07: the package transaction, and a concurrent run refused meanwhile
    run = Deploy("run2-killed-in-packages", tmp_path)
    # the transaction begins as phase 07's early steps, when phase 04 has ended (deploy/ahead.py)
    run.line(rf"{name}: \[\d+/\d+\] 01-install-packages: .*missing", TO_KILL_POINT)
    started = time.monotonic()
    second = subprocess.run([sys.executable, "-m", "deploy", "apply"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    refused_in = time.monotonic() - started
    said = second.stdout + second.stderr
    assert second.returncode != 0, f"a second concurrent run was not refused:\n{said[-3000:]}"
    assert "another deploy run holds" in said and f"pid {run.proc.pid} " in said, said[-3000:]
    assert refused_in < 60, f"the second run took {refused_in:.0f}s to be refused"
    record_testsuite_property("resume drill: concurrent run refused in (s)", f"{refused_in:.1f}")
    dpkg = r"(^|/)dpkg .*--status-fd"   # apt puts its Dpkg::Options (--force-confold) first
    poll(lambda: running(controller, dpkg), 600, "dpkg unpacking phase 07's packages on the controller")
    killed_at.append("07 package transaction (dpkg running)")
    run.kill()
    require_orphans_gone(controller, r"(^|/)(apt-get|dpkg) ", run.label)

    # 3. phase 07: Nova's first database sync, once it has created tables
    run = Deploy("run3-killed-in-db-sync", tmp_path)
    run.line(rf"{name}: \[\d+/\d+\] 24-nova-init-db: nova-manage db sync ", TO_KILL_POINT)
    # whether dpkg needed its repair depends on where the last kill landed: reported, not required
    record_testsuite_property("resume drill: dpkg repaired after the kill in packages",
                    str(any("dpkg was interrupted" in line for line in run.output)))
    sync = r"nova-manage db sync"
    tables = ("mysql --protocol=socket -uroot -NBe \"SELECT COUNT(*) FROM information_schema.tables "
              "WHERE table_schema='nova'\"")
    poll(lambda: running(controller, sync), 60, "nova-manage db sync running on the controller")
    try:
        poll(lambda: int(controller.run(tables, timeout=30).stdout.strip() or 0) > 0 or not running(controller, sync),
             300, "nova-manage db sync to create its first tables")
    except WaitTimeout:
        pytest.fail(f"nova-manage db sync created no table within 300s:\n{run.tail()}")
    killed_at.append("07 nova db sync (tables created)" if running(controller, sync) else "07 nova db sync (ended)")
    run.kill()
    require_orphans_gone(controller, sync, run.label)

    # 4. the one re-run: converges in one go
    run = Deploy("run4-resumes", tmp_path)
    rc = run.finish(FINAL_DEPLOY)
    seconds = time.monotonic() - run.started
    record_testsuite_property("resume drill: kill points", "; ".join(killed_at))
    record_testsuite_property("resume drill: re-run after the last kill (s)", f"{seconds:.1f}")
    print(f"\nresume drill: killed at {'; '.join(killed_at)}; the re-run converged in {seconds:.0f}s")
    assert rc == 0, f"the re-run after the kills failed (log {run.file}):\n{run.tail(80)}"
    output = "".join(run.output)
    assert f"{name}: taken over from dead run " in output, run.tail(80)

    checks = subprocess.run([sys.executable, "-m", "pytest", "--no-deploy", "checks", "-p", "no:cacheprovider",
                             "--reports", str(tmp_path / "reports")], cwd=ROOT, capture_output=True, text=True,
                            timeout=CHECKS)
    assert checks.returncode == 0, f"checks failed after the re-run:\n{(checks.stdout + checks.stderr)[-5000:]}"
