"""The remote layer's own logic, run against a local shell instead of SSH:
quoting, batched facts framing, atomic file writes, error messages."""
import dataclasses
import os
import shlex
import socket
import subprocess

from pathlib import Path

import pytest

from deploy.remote import RUN_ID, Remote, RemoteError, render
from deploy.waits import wait_for


class LocalRemote(Remote):
    """Remote whose channel is a local bash: same scripts, no network."""

    def _exec(self, text, stdin, timeout):
        p = subprocess.run(["bash", "-c", text], input=stdin or b"", capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr


@pytest.fixture
def local(default_inventory):
    return LocalRemote(default_inventory.host("controller"))


def test_argv_is_quoted_word_by_word(local):
    tricky = ["printf", "%s|", "a b", "it's", "$(reboot)", ";", "*"]
    assert render(tricky) == "printf '%s|' 'a b' 'it'\"'\"'s' '$(reboot)' ';' '*'"
    assert local.run(tricky).stdout == "a b|it's|$(reboot)|;|*|"


def test_sudo_wraps_the_whole_command(default_inventory):
    host = dataclasses.replace(default_inventory.host("controller"), user="debian", sudo=True)
    sent = shlex.split(Remote(host).wrap("echo 'x' && id", "t1"))
    assert sent[:5] == ["exec", "sudo", "-n", "/bin/sh", "-c"]      # the supervisor too runs as root
    assert sent[-5:] == ["$PPID", "/run/openstack-deploy", "t1", RUN_ID, "echo 'x' && id"]
    plain = shlex.split(Remote(default_inventory.host("controller")).wrap("id", "t2"))
    assert plain[:3] == ["exec", "/bin/sh", "-c"] and plain[-1] == "id"


def test_run_many_keeps_each_output_and_exit_code(local):
    results = local.run_many(["printf 'a\\n\\n'", "false", "echo err >&2; exit 3", "printf ''",
                              "printf '%s\\n' \"it's\" 'x y'", "head -c 3 /dev/zero | tr '\\0' '\\377'"])
    assert [r.rc for r in results] == [0, 1, 3, 0, 0, 0]
    assert results[0].stdout == "a\n\n"          # trailing newlines survive
    assert results[2].stdout == ""               # stderr is not mixed in
    assert results[4].stdout == "it's\nx y\n"
    assert len(results[5].stdout) == 3


def test_run_many_is_one_round_trip(local, monkeypatch):
    calls = []
    original = local._exec
    monkeypatch.setattr(local, "_exec", lambda *a: calls.append(a) or original(*a))
    local.run_many(["true"] * 20)
    assert len(calls) == 1


def test_put_writes_atomically_with_mode(local, tmp_path):
    path = tmp_path / "sub" / "conf"
    me = os.getuid()
    owner = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True).stdout.strip()
    local.put(str(path), b"secret = 1\n", mode="0640", owner=owner, group=group)
    assert path.read_bytes() == b"secret = 1\n"
    assert oct(path.stat().st_mode & 0o777) == "0o640" and path.stat().st_uid == me
    assert os.listdir(path.parent) == ["conf"]  # no temp file left


def test_failure_names_host_command_code_and_stderr(local):
    with pytest.raises(RemoteError) as err:
        local.run("echo one >&2; echo two >&2; exit 7")
    text = str(err.value)
    assert text.startswith("controller: command failed (exit 7): echo one")
    assert text.endswith("one\ntwo")
    assert err.value.rc == 7


def test_unchecked_failure_returns_result(local):
    assert local.run("exit 2", check=False).rc == 2


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_command_ends_with_the_session_that_started_it(local, tmp_path):
    """A run killed mid-command (its SSH session gone) leaves nothing running on the host."""
    local.state_dir = str(tmp_path)
    (tmp_path / "groups").mkdir()
    pidfile = tmp_path / "pid"
    wrapped = local.wrap(f"echo $$ > {pidfile}; exec sleep 300", "tok")
    # the stand-in for sshd: a shell whose child runs the command as sshd's login shell would
    session = subprocess.Popen(["bash", "-c", 'bash -c "$1"; :', "sshd", wrapped])
    try:
        pid = wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, "the command started")
        group, run, parent, start = (tmp_path / "groups" / "tok").read_text().split()
        assert (group, run, parent) == (pid, RUN_ID, str(session.pid))  # recorded: its own group, this run
        assert start == Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
        assert os.getpgid(int(pid)) == int(pid) != os.getpgid(0)
        assert alive(int(pid))
    finally:
        session.kill()
        session.wait()
    wait_for(lambda: not alive(int(pid)), 15, f"the orphaned command (pid {pid}) ended")
    wait_for(lambda: not (tmp_path / "groups" / "tok").exists(), 5, "its record removed")


def test_a_finished_command_leaves_no_record_and_keeps_its_exit_code(local, tmp_path):
    local.state_dir = str(tmp_path)
    (tmp_path / "groups").mkdir()
    assert local.run("read x; echo \"got $x\"; echo e >&2; exit 4", stdin=b"payload\n", check=False).rc == 4
    assert local.run("read x; echo \"got $x\"", stdin=b"payload\n").stdout == "got payload\n"
    assert list((tmp_path / "groups").iterdir()) == []


def test_a_command_that_timed_out_is_ended(local, tmp_path, monkeypatch):
    """The session lives on after a timeout: the command would run on unread, so it is ended."""
    local.state_dir = str(tmp_path)
    (tmp_path / "groups").mkdir()
    pidfile = tmp_path / "pid"
    started = []
    original = local._exec

    def first_times_out(text, stdin, timeout):
        if started:
            return original(text, stdin, timeout)
        started.append(subprocess.Popen(["bash", "-c", text]))   # runs on, nobody reads it
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, "the command started")
        raise socket.timeout()
    monkeypatch.setattr(local, "_exec", first_times_out)
    with pytest.raises(RemoteError) as err:
        local.run(f"echo $$ > {pidfile}; exec sleep 300", timeout=1)
    assert "no answer within 1s" in str(err.value)
    pid = int(pidfile.read_text())
    wait_for(lambda: not alive(pid), 10, f"the timed-out command (pid {pid}) ended")
    started[0].wait(timeout=10)
