"""The remote layer's own logic, run against a local shell instead of SSH:
quoting, batched facts framing, atomic file writes, error messages."""
import dataclasses
import os
import subprocess

import pytest

from deploy.remote import Remote, RemoteError, render


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
    assert Remote(host).wrap("echo 'x' && id") == "sudo -n /bin/sh -c 'echo '\"'\"'x'\"'\"' && id'"
    assert Remote(default_inventory.host("controller")).wrap("id") == "id"


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
