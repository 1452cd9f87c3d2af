"""The remote layer's own logic, run against a local shell instead of SSH:
quoting, batched facts framing, atomic file writes, error messages."""
import dataclasses
import os
import shlex
import socket
import subprocess

from pathlib import Path

import pytest

from deploy.remote import READER, RUN_ID, Remote, RemoteError, WithStdin, render
from deploy.waits import wait_for


class LocalRemote(Remote):
    """Remote whose channel is a local shell: same scripts, no network. bash is
    root's login shell (what sshd runs the command with); dash is /bin/sh, what
    sudo runs it with."""
    shell = "bash"

    def _exec(self, text, stdin, timeout):
        self.sent = getattr(self, "sent", []) + [(text, stdin)]
        p = subprocess.run([self.shell, "-c", text], input=stdin or b"", capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr


@pytest.fixture(params=["bash", "dash"])
def local(default_inventory, request):
    remote = LocalRemote(default_inventory.host("controller"))
    remote.shell = request.param
    return remote


def test_argv_is_quoted_word_by_word(local):
    tricky = ["printf", "%s|", "a b", "it's", "$(reboot)", ";", "*"]
    assert render(tricky) == "printf '%s|' 'a b' 'it'\"'\"'s' '$(reboot)' ';' '*'"
    assert local.run(tricky).stdout == "a b|it's|$(reboot)|;|*|"


def test_the_ssh_command_never_carries_the_script(default_inventory):
    """The host's process list and sudo's journal line show only the reader."""
    host = dataclasses.replace(default_inventory.host("controller"), user="debian", sudo=True)
    command, payload = Remote(host).wrap("echo 'x' && id", "t1", b"input")
    sent = shlex.split(command)
    assert sent[:5] == ["exec", "sudo", "-n", "/bin/sh", "-c"]      # the supervisor too runs as root
    assert sent[-5:] == ["$PPID", "/run/openstack-deploy", "t1", RUN_ID, READER]
    assert payload == b"14\necho 'x' && id" + b"input"
    plain = shlex.split(Remote(default_inventory.host("controller")).wrap("id", "t2")[0])
    assert plain[:3] == ["exec", "/bin/sh", "-c"] and plain[-1] == READER


def test_script_and_its_own_input_arrive_separately(local):
    script = 'IFS= read -r pw; printf "%s" "$pw" | wc -c; cat'
    out = local.run(WithStdin(script, "s3cretvalue\nrest of input\n")).stdout
    assert out.split() == ["11", "rest", "of", "input"]
    assert all(script not in text and "s3cret" not in text for text, _ in local.sent)


def test_a_script_with_quotes_newlines_and_a_trailing_exit_code(local):
    result = local.run("x='it'\"'\"'s'\nprintf '%s\\n' \"$x\"\nexit 4", check=False)
    assert (result.rc, result.stdout) == (4, "it's\n")


def test_run_many_gives_each_fact_its_own_input(local):
    results = local.run_many([WithStdin("cat", "first\n"), "cat", WithStdin("wc -c", b"12345"),
                              WithStdin("IFS= read -r a; test ${#a} = 11", "s3cretvalue\n")])
    assert [r.stdout for r in results[:3]] == ["first\n", "", "5\n"]
    assert results[3].rc == 0
    [(text, stdin)] = local.sent
    length, _, rest = stdin.partition(b"\n")
    script, inputs = rest[:int(length)], rest[int(length):]
    assert b"s3cret" not in script and b"first" not in script and "s3cret" not in text
    assert inputs == b"first\n12345s3cretvalue\n"  # the inputs follow the script, in order


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
    wrapped, payload = local.wrap(f"echo $$ > {pidfile}; exec sleep 300", "tok")
    # the stand-in for sshd: a shell whose child runs the command as sshd's login shell would
    session = subprocess.Popen(["bash", "-c", 'bash -c "$1"; :', "sshd", wrapped], stdin=subprocess.PIPE)
    session.stdin.write(payload)
    session.stdin.close()
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
        started.append(subprocess.Popen(["bash", "-c", text], stdin=subprocess.PIPE))   # runs on, nobody reads it
        started[0].stdin.write(stdin)
        started[0].stdin.close()
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 10, "the command started")
        raise socket.timeout()
    monkeypatch.setattr(local, "_exec", first_times_out)
    with pytest.raises(RemoteError) as err:
        local.run(f"echo $$ > {pidfile}; exec sleep 300", timeout=1)
    assert "no answer within 1s" in str(err.value)
    pid = int(pidfile.read_text())
    wait_for(lambda: not alive(pid), 10, f"the timed-out command (pid {pid}) ended")
    started[0].wait(timeout=10)
