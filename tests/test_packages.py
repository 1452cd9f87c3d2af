"""Package steps that survive an interruption: the policy-rc.d guard run for real
in a local shell (paths moved under a temp folder), the dpkg repair against a fake host."""
from __future__ import annotations

import subprocess

import pytest

from deploy.runner import apply_host
from deploy.steps import LOCK_FREE, LOCK_WAIT_S, Packages, guard_in_place, guard_script, held
from tests.fakes import FakeRemote


@pytest.fixture
def paths(tmp_path):
    return tmp_path / "policy-rc.d", tmp_path / "holds"


def sh(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", text], capture_output=True, text=True, timeout=30)


def held_install(text: str, guard, holds) -> str:
    """What a held transaction sends: the guard put in place, then `text` under this shell's hold."""
    return guard_in_place(str(guard), str(holds)).command + " && " + held(text, str(holds))


def policy(guard) -> int:
    """What invoke-rc.d would be told: 101 = the action is forbidden."""
    return subprocess.run([str(guard), "nova-api", "start"], timeout=10).returncode


def start_ticks(pid: int) -> str:
    return open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[19]


def test_services_are_held_while_the_transaction_runs_and_released_after(paths):
    guard, holds = paths
    inside = sh(held_install(f"{guard} nova-api start; echo \"rc=$?\"", guard, holds))
    assert inside.returncode == 0 and inside.stdout.strip() == "rc=101", inside.stderr
    assert guard.exists(), "the guard stays in place"
    assert list(holds.iterdir()) == []         # this transaction's own hold is gone
    assert policy(guard) == 0                  # nobody holds: services may start again


def test_another_holders_hold_is_never_removed(paths):
    guard, holds = paths
    other = subprocess.Popen(["sleep", "300"])  # another transaction holding services, still running
    try:
        holds.mkdir()
        (holds / str(other.pid)).write_text(start_ticks(other.pid) + "\n")
        result = sh(held_install("exit 3", guard, holds))
        assert result.returncode == 3                                   # the exit code passes
        assert [p.name for p in holds.iterdir()] == [str(other.pid)]   # only its own hold was removed
        assert policy(guard) == 101                                     # the other still holds
    finally:
        other.kill()
        other.wait()
    assert policy(guard) == 0     # a dead holder holds nothing (its pid file may stay behind)


def test_a_reused_pid_holds_nothing(paths):
    guard, holds = paths
    sh(held_install("true", guard, holds))
    living = subprocess.Popen(["sleep", "300"])
    try:
        (holds / str(living.pid)).write_text("1\n")   # a killed holder's file, its pid since reused
        assert policy(guard) == 0
    finally:
        living.kill()
        living.wait()


def test_a_policy_rc_d_of_someone_else_is_left_alone(paths):
    guard, holds = paths
    guard.write_text("#!/bin/sh\n# the image builder's own\nexit 101\n")
    guard.chmod(0o755)
    assert sh(held_install("true", guard, holds)).returncode == 0
    assert guard.read_text() == "#!/bin/sh\n# the image builder's own\nexit 101\n"


def test_the_old_suites_own_guard_is_replaced(paths):
    guard, holds = paths
    guard.write_text("#!/bin/sh\nexit 101\n")     # what an older suite left when killed mid-transaction
    sh(held_install("true", guard, holds))
    assert guard.read_text() == guard_script(str(holds)) + "\n"


def test_an_interrupted_dpkg_run_is_completed_first(default_inventory):
    remote = FakeRemote(default_inventory.host("compute1"))
    remote.state.dpkg_interrupted = "nova-common\n"   # killed mid-transaction: dpkg --audit names it
    remote.state.table = {f: True for f in LOCK_FREE.facts}  # no other apt holds dpkg's lock
    result = apply_host(remote, [Packages("t", ["nova-common", "crudini"], hold_services=True)])
    assert result.error is None, result.error
    assert result.steps[0].reason == "dpkg was interrupted: dpkg --configure -a first, then missing: nova-common crudini"
    assert "until dpkg's lock is free" in result.steps[0].actions[0]  # awaited free first
    ran = remote.state.changes
    assert "/usr/sbin/policy-rc.d" in ran[0]                         # the guard in place
    assert "dpkg --configure -a" in ran[1] and "hold-services.d/$$" in ran[1] and "apt-get" not in ran[1]
    assert "apt-get" in ran[2] and f"DPkg::Lock::Timeout={LOCK_WAIT_S}" in ran[2]
    assert remote.state.packages == {"nova-common", "crudini"}
    remote.state.changes.clear()
    assert apply_host(remote, [Packages("t", ["nova-common", "crudini"], hold_services=True)]).changed == 0


def test_an_interrupted_dpkg_run_with_everything_installed_is_completed_too(default_inventory):
    remote = FakeRemote(default_inventory.host("compute1"))
    remote.state.packages = {"crudini"}
    remote.state.dpkg_interrupted = "0001\n"          # a journal entry in /var/lib/dpkg/updates
    remote.state.table = {f: True for f in LOCK_FREE.facts}  # no other apt holds dpkg's lock
    result = apply_host(remote, [Packages("t", ["crudini"])])
    assert result.changed == 1 and not remote.state.dpkg_interrupted
    assert not any("apt-get" in c for c in remote.state.changes)
