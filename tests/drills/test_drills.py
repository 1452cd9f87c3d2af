"""Fault drills on the deployed embedded lab: break it on purpose (a stopped
database, a wrong password in one service's config, a GlusterFS brick
offline, the NAT rule on the wrong interface, chrony stopped where it could
run), run the checks as an operator would (`--no-deploy`), and require a
failure message that names the host, the service and the fix, a diagnostics
folder holding the evidence, and a next deploy that repairs it. One more
drill forces a volume to `error` under a wait, which must end at once.

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
from deploy.phases.p01_network_gateway import nat_rules
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
    if not checks:  # the drill broke nothing (it skipped before): nothing to repair or verify
        return
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


def test_nat_rule_on_the_wrong_interface(lab, repaired_after, tmp_path):
    """The gateway masquerades out of the provider NIC instead of its public one: the
    rule still "exists" for a grep, but traffic from behind the gateway does not leave
    with the gateway's public address, and the NAT check must say so."""
    inventory, pool = lab
    gateway = inventory.gateway
    wrong = gateway.interfaces.get("provider") or gateway.management_interface
    repaired_after += ["checks/test_p01_network_gateway.py", "-k", "management_traffic"]
    rules = nat_rules(inventory)
    chain = rules.chain_name(next(c for c in rules.chains if c.table == "nat"))
    pool[gateway.name].run(["iptables", "-w", "-t", "nat", "-R", chain, "1",
                            "-s", str(inventory.management.cidr), "-o", wrong, "-j", "MASQUERADE"])
    verdict = verify(tmp_path / "broken", *repaired_after)
    assert verdict.returncode == 1, verdict.output[-3000:]
    assert f"NAT on the gateway {gateway.name}: " in verdict.output, verdict.output[-3000:]


def test_chrony_stopped_where_the_host_can_set_the_clock(lab, repaired_after, tmp_path):
    """chronyd stopped on a host that can set its clock fails the time check, naming host
    and fix. The embedded lab's containers lack CAP_SYS_TIME (they share this machine's
    clock), so there the drill finds no such host and says so."""
    from checks.readings import can_set_clock

    inventory, pool = lab
    able = [h.name for h in inventory.hosts if can_set_clock(pool[h.name].run(["cat", "/proc/1/status"]).stdout)]
    if not able:
        pytest.skip("no host of this lab can set its clock (no CAP_SYS_TIME: containers on this machine's "
                    "clock): chronyd runs nowhere, the time check skips on every host")
    victim = able[0]
    repaired_after += ["checks/test_p06_openstack_all.py", "-k", f"chronyd and {victim}"]
    pool[victim].run("systemctl stop chrony")
    verdict = verify(tmp_path / "broken", *repaired_after)
    assert verdict.returncode == 1, verdict.output[-3000:]
    assert f"{victim}: chronyd is not running" in verdict.output, verdict.output[-3000:]
    assert f"`systemctl start chrony` on {victim}" in verdict.output


def test_volume_forced_to_error_ends_the_wait_at_once(lab):
    """`cinder reset-state --state error` on a volume being waited for: the wait
    gives up within seconds, naming the state, instead of waiting out its timeout."""
    import time

    from cinderclient import client as cinder_client

    from checks.openstack import CINDER_MICROVERSION, admin_session, wait_volume
    from deploy.secrets import Secrets

    inventory, _ = lab
    cinder = cinder_client.Client(CINDER_MICROVERSION,
                                  session=admin_session(inventory, Secrets(inventory.secrets_path)))
    volume = cinder.volumes.create(1, name="drill-volume-error")
    try:
        wait_volume(cinder, volume.id, "available")
        cinder.volumes.reset_state(volume, "error")  # what `cinder reset-state --state error` sends
        started = time.monotonic()
        with pytest.raises(AssertionError) as failed:
            wait_volume(cinder, volume.id, "in-use", timeout=180)
        assert time.monotonic() - started < 30, "the wait did not end at once"
        assert f"volume {volume.id} in-use: it went to 'error'" in str(failed.value)
    finally:
        cinder.volumes.delete(volume.id)
        wait_for(lambda: not [v for v in cinder.volumes.list() if v.id == volume.id], 180,
                 f"drill volume {volume.id} deleted")
