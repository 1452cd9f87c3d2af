"""What travels to a host: the command supervisor, the one fixed SSH command
(READER) that takes every script from standard input, commands with their own
input (WithStdin), batched facts, and the results and errors that come back.
The SSH session itself is deploy/remote.py.
"""
from __future__ import annotations

import base64
import os
import shlex
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .inventory import Host
from .secrets import mask

Command = str | Sequence[str]

# One operator process is one run: its commands are recorded on each host under
# this id, so that a later run can tell what a dead run left running.
RUN_ID = f"{time.strftime('%Y%m%d-%H%M%S')}-{socket.gethostname()}-{os.getpid()}"
STATE_DIR = "/run/openstack-deploy"      # per-host record of runs and their commands (tmpfs: gone at reboot)

# Every command runs under this supervisor, so that it dies with the SSH session
# that started it. Without it, a command whose operator was killed went on
# orphaned (an apt-get ran 15 minutes on, holding dpkg's lock against the next
# run). A pty would do it too (sshd hangs up the session's process group when the
# channel closes), but a pty merges stderr into stdout: the error tails and the
# framing of run_many need them apart. stdin cannot be watched for EOF: it carries
# payloads (put()). So the command runs in a process group of its own (setsid),
# recorded in STATE_DIR/groups/TOKEN (group, run id, sshd pid, the group
# leader's start time: pids are reused), and a watcher in another group waits for
# the sshd process that started the command ($1, the login shell's parent) to
# exit (`tail --pid` polls it) and then ends the command's group: TERM, then KILL
# after 10 s. The command's stdin, stdout, stderr and exit code pass unchanged,
# whatever the command is and however its text was delivered.
# Arguments: $1 the sshd pid, $2 STATE_DIR, $3 token, $4 run id, $5 the command.
SUPERVISOR = r"""exec 3<&0
setsid /bin/sh -c "$5" <&3 3<&- &
g=$!
exec 3<&-
parent=$1 dir=$2 token=$3 run=$4
if [ -d "$dir/groups" ]; then
  read -r s <"/proc/$g/stat" 2>/dev/null; r=${s##*) }; set -f; set -- $r; set +f
  printf '%s %s %s %s\n' "$g" "$run" "$parent" "${20:-0}" 2>/dev/null >"$dir/groups/$token"
fi
setsid /bin/sh -c 'tail --pid="$1" -f /dev/null; kill -TERM -"$2" 2>/dev/null || exit 0; i=0
while kill -0 -"$2" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.5; i=$((i+1)); done
kill -KILL -"$2" 2>/dev/null' watch "$parent" "$g" </dev/null >/dev/null 2>&1 &
w=$!
wait "$g"; rc=$?
kill -TERM -"$w" 2>/dev/null
[ -d "$dir/groups" ] && rm -f "$dir/groups/$token"
exit $rc"""


def render(command: Command) -> str:
    """The shell text of a command: argv lists are quoted word by word."""
    return command if isinstance(command, str) else shlex.join(command)


class WithStdin(str):
    """A command text together with what it reads on standard input (a password,
    an SQL text): the input travels beside the text, never inside it, so it is on
    no command line, in no batched facts script and in no error message."""
    stdin: bytes

    def __new__(cls, text: str, stdin: str | bytes) -> WithStdin:
        command = super().__new__(cls, text)
        command.stdin = stdin.encode() if isinstance(stdin, str) else stdin
        return command


def stdin_of(command: Command) -> bytes | None:
    return getattr(command, "stdin", None)


# The SSH command of every run: it reads the script's length, then the script,
# from standard input and runs it; what follows is the script's own input. The
# host's process list (and sudo's log line) shows only this text. `read` takes
# one byte at a time and GNU head -c no more than asked, so nothing of the
# script's input is consumed here.
READER = 'IFS= read -r n && eval "$(head -c "$n")"'


@dataclass
class Result:
    host: str
    command: str
    rc: int
    stdout: str
    stderr: str
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rc == 0


class RemoteError(RuntimeError):
    def __init__(self, host: str, command: str, rc: int | None, stderr: str, why: str = ""):
        self.host, self.command, self.rc, self.stderr = host, mask(command), rc, mask(stderr)
        tail = "\n".join(self.stderr.strip().splitlines()[-12:])
        status = why or f"exit {rc}"
        short = self.command if len(self.command) < 400 else self.command[:400] + " ..."
        super().__init__(f"{host}: command failed ({status}): {short}" + (f"\n{tail}" if tail else ""))


class HostKeyError(RemoteError):
    """The host's SSH key is unknown or not the one known_hosts holds: one line
    naming the host, the key's type and fingerprint, and what to do."""

    def __init__(self, host: Host, message: str):
        self.host, self.command, self.rc, self.stderr = host.name, "ssh connect", None, ""
        RuntimeError.__init__(self, f"{host.name} ({host.address}:{host.port}): {message}")


def batch_script(commands: Sequence[Command]) -> tuple[str, bytes]:
    """One script that runs `commands` concurrently, and its standard input (the
    commands' own inputs, each landing in a file of the batch's 0700 folder)."""
    texts = [render(c) for c in commands]
    inputs = [stdin_of(c) for c in commands]
    script = ['d=$(mktemp -d) || exit 1', 'trap \'rm -rf "$d"\' EXIT',
              'f() { ( (eval "$1") <"$3" >"$d/$2" 2>/dev/null; echo $? >"$d/$2.rc" ) & }']
    script += [f'head -c {len(data)} >"$d/{i}.in"' for i, data in enumerate(inputs) if data is not None]
    script += [f"f {shlex.quote(t)} {i} " + (f'"$d/{i}.in"' if inputs[i] is not None else "/dev/null")
               for i, t in enumerate(texts)]
    script += ["wait",
               f"for i in $(seq 0 {len(texts) - 1}); do "
               'printf \'%s %s\\n\' "$(cat "$d/$i.rc")" "$(base64 -w0 < "$d/$i")"; done']
    return "\n".join(script), b"".join(data for data in inputs if data is not None)


def batch_results(host: str, commands: Sequence[Command], stdout: str) -> list[Result]:
    """The batch script's output read back: one Result per command (rc, stdout)."""
    texts = [render(c) for c in commands]
    raw = stdout.splitlines()
    if len(raw) != len(texts):
        raise RemoteError(host, texts[0], None, "", f"batched facts: expected {len(texts)} answers, got {len(raw)}")
    results = []
    for text, line in zip(texts, raw):
        rc, _, payload = line.partition(" ")
        results.append(Result(host, text, int(rc), base64.b64decode(payload).decode(errors="replace"), ""))
    return results
