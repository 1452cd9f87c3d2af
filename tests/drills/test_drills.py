"""Fault drills on the deployed embedded lab: break it on purpose three ways
(a stopped database, a wrong password in one service's config, a GlusterFS
brick offline), run the checks as an operator would (`--no-deploy`), and
require a failure message that names the host, the service and the fix, a
diagnostics folder holding the evidence, and a next deploy that repairs it.

Needs root and the lab: the first drill deploys it if it is not converged
(minutes on a fresh machine; a no-op of seconds on a converged one).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.inventory import Inventory, load_inventory
from deploy.remote import Pool
from deploy.waits import wait_for

pytestmark = [pytest.mark.drill, pytest.mark.lab]
ROOT = Path(__file__).resolve().parents[2]
CHECK_TIMEOUT = 900
DEPLOY_TIMEOUT = 3600


@dataclass
class Verdict:
    returncode: int
    output: str
    diagnostics: Path | None


def deploy() -> None:
    run = subprocess.run([sys.executable, "-m", "deploy", "apply"], cwd=ROOT, capture_output=True, text=True,
                         timeout=DEPLOY_TIMEOUT)
    assert run.returncode == 0, f"deploy apply failed:\n{run.stderr[-3000:]}"


def verify(reports: Path, *args: str) -> Verdict:
    """The operator's check run on the lab as it is, with its own reports folder."""
    run = subprocess.run([sys.executable, "-m", "pytest", "--no-deploy", "--reports", str(reports),
                          "-p", "no:cacheprovider", *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=CHECK_TIMEOUT)
    folders = sorted(reports.glob("run-*/diagnostics"))
    return Verdict(run.returncode, run.stdout + run.stderr, folders[-1] if folders else None)


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Inventory, Pool]]:
    if os.geteuid() != 0:
        pytest.fail("the fault drills need root (they deploy and break the embedded lab)")
    deploy()
    inventory = load_inventory(ROOT / "inventory.yaml", check_keys=False)
    pool = Pool(inventory.hosts)
    yield inventory, pool
    pool.close()


@pytest.fixture
def repaired_after(lab, tmp_path):
    """After the drill (whatever its outcome): deploy again, and the same checks pass."""
    checks: list[str] = []
    yield checks
    deploy()
    again = verify(tmp_path / "after-repair", *checks)
    assert again.returncode == 0, f"the deploy did not repair the lab:\n{again.output[-4000:]}"


def test_stopped_database(lab, repaired_after, tmp_path):
    inventory, pool = lab
    controller = inventory.controller.name
    repaired_after += ["checks/test_services.py", "checks/test_p07_openstack_controller.py",
                       "-m", "p07", "-k", "services or token"]
    pool[controller].run("systemctl stop mariadb")
    verdict = verify(tmp_path / "broken", *repaired_after)
    assert verdict.returncode == 1, verdict.output[-3000:]
    assert f"{controller}: mariadb is inactive" in verdict.output, verdict.output[-3000:]
    assert f"`systemctl start mariadb` on {controller}" in verdict.output
    evidence = verdict.diagnostics / controller
    assert "ERROR 2002" in (evidence / "openstack-services.txt").read_text()  # the database does not answer
    assert ":3306 " not in (evidence / "listening.txt").read_text()


def test_wrong_password_in_one_service_config(lab, repaired_after, tmp_path):
    inventory, pool = lab
    controller = inventory.controller.name
    repaired_after += ["checks/test_p07_openstack_controller.py", "-k", "glance"]
    pool[controller].run(
        r"sed -i -E 's#^(connection = mysql\+pymysql://glance:)[^@]+@#\1not-the-password@#' /etc/glance/glance-api.conf"
        " && systemctl restart glance-api")
    wait_for(lambda: pool[controller].run("ss -ltnH 'sport = :9292' | grep -q .", check=False).ok, 120,
             "glance-api listening again after its restart")
    verdict = verify(tmp_path / "broken", *repaired_after)
    assert verdict.returncode == 1, verdict.output[-3000:]
    named = f"{controller} (/var/log/glance/glance-api.log): wrong database password: the password of database " \
            f"user glance"
    assert named in verdict.output, verdict.output[-4000:]
    assert "re-run the deploy" in verdict.output
    logs = (verdict.diagnostics / controller / "service-logs.txt").read_text()
    assert "Access denied for user 'glance'" in logs
    assert "not-the-password" not in (verdict.diagnostics / controller / "configs.txt").read_text()  # masked


def test_brick_offline(lab, repaired_after, tmp_path):
    inventory, pool = lab
    victim = inventory.with_role("compute")[1].name
    volume = inventory.glusterfs.volume
    repaired_after += ["checks/test_p03_glusterfs_controller.py"]
    pid = pool[victim].run(f"pgrep -f 'glusterfsd .*--volfile-id {volume}\\.{victim}\\.'").stdout.split()
    assert len(pid) == 1, f"expected one brick process of {volume} on {victim}, found {pid}"
    pool[victim].run(f"kill {pid[0]}")
    verdict = verify(tmp_path / "broken", *repaired_after)
    assert verdict.returncode == 1, verdict.output[-3000:]
    assert f"GlusterFS bricks offline: {victim}:" in verdict.output, verdict.output[-3000:]
    assert f"gluster volume start {volume} force" in verdict.output
    status = (verdict.diagnostics / inventory.controller.name / "gluster-status.txt").read_text()
    assert re.search(rf"^Brick {victim}:\S+\s+N/A\s+N/A\s+N\s", status, re.M), status
    faults = (verdict.diagnostics / "known-faults.txt").read_text()
    assert f"GlusterFS brick offline: the brick {victim}:" in faults
