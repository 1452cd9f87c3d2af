"""The run lock and the end of a dead run's leftovers, against a local shell:
flock, the records under the state folder and the process groups are real."""
from __future__ import annotations

import dataclasses
import os
import select
import subprocess
import time

import pytest

from deploy.runlock import RunInfo, RunLockError, end_leftovers, take, take_all, this_run
from tests.test_remote import LocalRemote, alive


def start_ticks(pid: int) -> str:
    return open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[19]


class LocalHeld:
    """A held command in a local shell; close() is what sshd does when the run dies."""

    def __init__(self, text: str):
        self.p = subprocess.Popen(["bash", "-c", text], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._buffer = b""

    def readline(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer and time.monotonic() < deadline:
            if select.select([self.p.stdout], [], [], deadline - time.monotonic())[0]:
                data = os.read(self.p.stdout.fileno(), 4096)
                if not data:
                    break
                self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def stderr(self) -> str:
        return ""

    def finish(self, last: bytes = b"") -> None:
        if last:
            self.p.stdin.write(last)
        self.close()

    def close(self) -> None:
        self.p.stdin.close()
        self.p.wait(timeout=10)
        self.p.stdout.close()


class LockingRemote(LocalRemote):
    def hold(self, text):
        return LocalHeld(text)


@pytest.fixture
def make(default_inventory, tmp_path):
    def remote(name: str = "controller") -> LockingRemote:
        r = LockingRemote(default_inventory.host(name))
        r.state_dir = str(tmp_path / name / "state")
        r.lock_path = str(tmp_path / name / "lock" / "openstack-deploy.lock")
        return r
    return remote


def other_run(name: str) -> RunInfo:
    return dataclasses.replace(this_run(), run=name)


def test_a_second_run_fails_at_once_naming_the_holder(make):
    first, second = make(), make()
    holder = other_run("run-A")
    assert take(first, holder) == []
    started = time.monotonic()
    with pytest.raises(RunLockError) as err:
        take(second, other_run("run-B"))
    assert time.monotonic() - started < 5
    message = str(err.value)
    assert message.startswith("controller: another deploy run holds this host: run run-A ")
    for part in (f"pid {holder.pid}", f"on {holder.operator}", f"started {holder.started}", "lock "):
        assert part in message, message
    assert "\n" not in message
    first.run_lock.finish(b"ended\n")


def test_the_lock_of_a_dead_run_is_taken_over_and_said_so(make):
    first, second = make(), make()
    take(first, other_run("run-A"))
    first.run_lock.close()          # the run died: its session, and the lock, went with it
    said = take(second, other_run("run-B"))
    assert len(said) == 1 and said[0].startswith("controller: taken over from dead run run-A (pid "), said
    second.run_lock.finish(b"ended\n")


def test_a_run_that_ended_cleanly_is_no_takeover(make):
    first, second = make(), make()
    take(first, other_run("run-A"))
    first.run_lock.finish(b"ended\n")
    assert take(second, other_run("run-B")) == []
    second.run_lock.finish(b"ended\n")


def test_hosts_held_by_one_run_are_named_in_one_line_and_the_others_released(make):
    holders = [make("controller"), make("compute1")]
    for r in holders:
        take(r, other_run("run-A"))
    free = make("compute2")
    with pytest.raises(RunLockError) as err:
        take_all([make("controller"), make("compute1"), free], me=other_run("run-B"))
    assert str(err.value).startswith("controller, compute1: another deploy run holds these hosts: run run-A ")
    assert free.run_lock is None
    assert take(make("compute2"), other_run("run-C")) == []   # compute2 was released, and cleanly


def test_what_a_dead_run_left_running_is_ended(make, tmp_path):
    remote = make()
    groups = tmp_path / "controller" / "state" / "groups"
    groups.mkdir(parents=True)
    orphan = subprocess.Popen(["sleep", "300"], start_new_session=True)
    living = subprocess.Popen(["sleep", "300"], start_new_session=True)
    gone = subprocess.Popen(["true"])
    gone.wait()                                             # a pid whose process (the dead sshd) is gone
    reused = subprocess.Popen(["sleep", "300"], start_new_session=True)
    (groups / "a").write_text(f"{orphan.pid} run-A {gone.pid} {start_ticks(orphan.pid)}\n")
    (groups / "b").write_text(f"{living.pid} run-C {os.getpid()} {start_ticks(living.pid)}\n")  # its session lives
    (groups / "c").write_text(f"{reused.pid} run-A {gone.pid} 1\n")  # that pid is another process's now
    try:
        said = end_leftovers(remote, "run-B")
        assert said == [f"controller: ended process group {orphan.pid} left running by dead run run-A: sleep"]
        assert orphan.wait(timeout=5) == -15
        assert alive(living.pid) and alive(reused.pid)
        assert sorted(p.name for p in groups.iterdir()) == ["b"]
        assert end_leftovers(remote, "run-B") == []
    finally:
        for p in (living, reused):
            p.kill()
            p.wait()


class LostLock:
    def lost(self) -> bool:
        return True


def test_a_lost_session_takes_the_lock_again_before_the_next_command(default_inventory):
    from deploy.remote import Remote
    remote = Remote(default_inventory.host("controller"))
    taken = []
    remote.run_lock, remote.relock = LostLock(), lambda: taken.append("again")
    remote._take_lock_again()
    assert taken == ["again"] and remote.run_lock is None


def test_a_host_whose_lock_another_run_took_meanwhile_gets_no_more_commands(default_inventory):
    from deploy.remote import Remote
    remote = Remote(default_inventory.host("controller"))
    refusal = RunLockError(["controller"], "run run-B (pid 1 on elsewhere)", "/run/lock/openstack-deploy.lock")

    def refuse():
        raise refusal
    remote.run_lock, remote.relock = LostLock(), refuse
    for _ in range(2):  # the command that found the session lost, and every one after it
        with pytest.raises(RunLockError):
            remote._exec("true", None, 10)
