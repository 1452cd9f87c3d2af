"""One persistent SSH connection per host, shared by every step and every check.

Commands are either an argv list (each argument quoted for the remote shell) or
a shell script string (run as given). Failures raise `RemoteError`, whose
message names the host, the command with secrets masked, the exit code and the
tail of stderr.

No command text appears on the host's command lines: the one line sent as the
SSH command is always the same small reader, and the script follows on
standard input (see `wrap`). A command that needs a secret gets it on its own
standard input (`WithStdin`), never in its text.

The host's key must be in the inventory's `ssh.known_hosts` before any
command; an unknown or changed key stops the connection (`HostKeyError`).
"""
from __future__ import annotations

import base64
import logging
import os
import select
import shlex
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import paramiko

from .host_keys import KnownHostsPolicy, UnknownHostKey, changed_key_message, unknown_key_message
from .inventory import Host
from .secrets import mask
from .waits import WaitTimeout, iterate_timeout

log = logging.getLogger(__name__)
Command = str | Sequence[str]

# One operator process is one run: its commands are recorded on each host under
# this id, so that a later run can tell what a dead run left running.
RUN_ID = f"{time.strftime('%Y%m%d-%H%M%S')}-{socket.gethostname()}-{os.getpid()}"
_RELOCKING = threading.Lock()
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


class Remote:
    """An SSH session to one host. Thread-safe: each command gets its own channel."""

    def __init__(self, host: Host, *, connect_timeout: float = 60.0):
        self.host = host
        self.connect_timeout = connect_timeout
        self._client: paramiko.SSHClient | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------- connection
    def _connect_once(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        policy = KnownHostsPolicy(self.host)
        # "system" keys are read-only to paramiko: it compares a known key itself
        # (BadHostKeyException when it differs) and asks the policy about others
        if policy.path.is_file():
            client.load_system_host_keys(str(policy.path))
        client.set_missing_host_key_policy(policy)
        try:
            client.connect(self.host.address, port=self.host.port, username=self.host.user,
                           key_filename=str(self.host.key), timeout=10, banner_timeout=10,
                           auth_timeout=10, allow_agent=False, look_for_keys=False)
        except BaseException:
            client.close()
            raise
        transport = client.get_transport()
        assert transport is not None
        transport.set_keepalive(15)
        return client

    @property
    def client(self) -> paramiko.SSHClient:
        with self._lock:
            transport = self._client.get_transport() if self._client else None
            if transport is None or not transport.is_active():
                self._client = self._connect()
            return self._client

    def _connect(self) -> paramiko.SSHClient:
        last: Exception | None = None
        try:
            for attempt in iterate_timeout(self.connect_timeout, f"SSH on {self.host.name} ({self.host.address}:{self.host.port})"):
                try:
                    return self._connect_once()
                except UnknownHostKey as e:
                    raise HostKeyError(self.host, unknown_key_message(self.host, e.hostname, e.key)) from None
                except paramiko.BadHostKeyException as e:
                    raise HostKeyError(self.host, changed_key_message(self.host, e.key, [e.expected_key])) from None
                except paramiko.AuthenticationException as e:
                    raise RemoteError(self.host.name, "ssh connect", None, "",
                                      f"authentication as {self.host.user} with key {self.host.key} refused: {e}") from None
                except (OSError, paramiko.SSHException, EOFError) as e:
                    if attempt == 0:
                        log.info("%s: SSH not answering yet (%s); retrying", self.host.name, e)
                    last = e
        except WaitTimeout as e:
            raise RemoteError(self.host.name, "ssh connect", None, "", f"{e}; last error: {last}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.run_lock is not None:  # this run ends normally: the host's record says so
            self.run_lock.finish(b"ended\n")
            self.run_lock = None
        with self._lock:
            if self._client:
                self._client.close()
                self._client = None

    # ------------------------------------------------------------- commands
    state_dir = STATE_DIR
    lock_path = "/run/lock/openstack-deploy.lock"
    run_lock: Held | None = None     # this run's lock on the host (deploy.runlock), while it holds one
    relock: Callable[[], None] | None = None   # takes this run's lock again (set by deploy.runlock)
    refused: Exception | None = None

    def _take_lock_again(self) -> None:
        """The SSH session was lost, and the run lock with it: take it again before
        anything else is done to the host (another run may have taken it meanwhile)."""
        with _RELOCKING:
            if self.run_lock is not None and self.run_lock.lost():
                log.warning("%s: SSH session lost, and this run's lock with it: taking it again", self.host.name)
                self.run_lock = None
                try:
                    self.relock()
                except Exception as e:  # refused (another run took the host) or unreachable
                    self.refused = e
                    raise

    def hold(self, text: str) -> Held:
        """Start a command on a channel of its own and keep its stdin open: it runs
        until `finish`/`close`, or until this run's SSH session dies (its stdin then
        reaches EOF). Not supervised: its stdin is its lifeline."""
        transport = self.client.get_transport()
        assert transport is not None
        chan = transport.open_session()
        chan.exec_command(("sudo -n /bin/sh -c " + shlex.quote(text)) if self.host.sudo else text)
        return Held(self.host.name, chan)

    def wrap(self, text: str, token: str = "", stdin: bytes | None = None) -> tuple[str, bytes]:
        """The SSH command and the bytes sent on its standard input.

        The command is always the same: the SUPERVISOR (through sudo when the
        inventory says so) running the READER, which takes the script from
        standard input; then come the script's length, the script, and the
        script's own input. So the host's process list and sudo's log show no
        script text. "$PPID" is expanded by the login shell sshd starts, so it
        is the sshd process of this session, also under sudo."""
        script = text.encode()
        payload = b"%d\n" % len(script) + script + (stdin or b"")
        argv = ["/bin/sh", "-c", SUPERVISOR, "supervise"]
        tail = [self.state_dir, token or uuid.uuid4().hex[:12], RUN_ID, READER]
        words = " ".join(map(shlex.quote, argv)) + ' "$PPID" ' + " ".join(map(shlex.quote, tail))
        return "exec " + ("sudo -n " if self.host.sudo else "") + words, payload

    def end(self, token: str) -> None:
        """End the process group of a command this run started (one that timed out)."""
        record = shlex.quote(f"{self.state_dir}/groups/{token}")
        self.run(f'read -r g _ < {record} 2>/dev/null && kill -TERM -"$g" 2>/dev/null; true',
                 check=False, timeout=30)

    def run(self, command: Command, *, check: bool = True, stdin: bytes | None = None,
            timeout: float | None = 1800) -> Result:
        text = render(command)
        started = time.monotonic()
        token = uuid.uuid4().hex[:12]
        try:
            rc, out, err = self._exec(*self.wrap(text, token, stdin if stdin is not None else stdin_of(command)),
                                      timeout)
        except socket.timeout:
            try:  # the session lives on: the command would go on without anyone reading it
                self.end(token)
            except RemoteError as e:
                log.warning("%s: could not end the timed-out command: %s", self.host.name, e)
            raise RemoteError(self.host.name, text, None, "", f"no answer within {timeout:.0f}s") from None
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise RemoteError(self.host.name, text, None, "", f"connection lost: {e}") from None
        result = Result(self.host.name, text, rc, out.decode(errors="replace"), err.decode(errors="replace"),
                        time.monotonic() - started)
        log.debug("%s: rc=%d in %.2fs: %s", self.host.name, rc, result.seconds, mask(text)[:300])
        if check and rc != 0:
            raise RemoteError(self.host.name, text, rc, result.stderr or result.stdout)
        return result

    def _exec(self, text: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        if self.refused is not None:  # this run lost its lock on the host: nothing more is done there
            raise self.refused
        if self.run_lock is not None and self.run_lock.lost() and self.relock is not None:
            self._take_lock_again()
        transport = self.client.get_transport()
        assert transport is not None
        chan = transport.open_session()
        try:
            chan.settimeout(timeout)
            chan.exec_command(text)
            if stdin is not None:
                chan.sendall(stdin)
            chan.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = None if timeout is None else time.monotonic() + timeout
            # Drain both streams as they come, so a chatty stderr cannot stall stdout.
            while True:
                if chan.recv_ready():
                    out += chan.recv(65536)
                elif chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                elif chan.exit_status_ready() and chan.eof_received:
                    break
                else:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise socket.timeout()
                    select.select([chan], [], [], min(remaining or 1.0, 1.0))
            return chan.recv_exit_status(), bytes(out), bytes(err)
        finally:
            chan.close()

    def run_many(self, commands: Sequence[Command], timeout: float = 300) -> list[Result]:
        """Run independent read-only commands in one round trip; one Result each.

        They run concurrently on the host (some facts are slow programs: a CLI
        that starts Python, a database client), each with its stdout and exit
        code framed in base64 so any output survives; stderr is dropped. A
        command's own input (`WithStdin`) follows the script on standard input
        and lands in a file of the batch's private (0700) folder, never in the
        script's text.
        """
        if not commands:
            return []
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
        payload = b"".join(data for data in inputs if data is not None)
        raw = self.run("\n".join(script), stdin=payload, timeout=timeout).stdout.splitlines()
        if len(raw) != len(texts):
            raise RemoteError(self.host.name, texts[0], None, "", f"batched facts: expected {len(texts)} answers, got {len(raw)}")
        results = []
        for text, line in zip(texts, raw):
            rc, _, payload = line.partition(" ")
            results.append(Result(self.host.name, text, int(rc), base64.b64decode(payload).decode(errors="replace"), ""))
        return results

    def put(self, path: str, content: bytes, *, mode: str = "0644", owner: str = "root",
            group: str = "root") -> None:
        """Write a file atomically (temp file, then rename) with mode and owner."""
        q = shlex.quote
        directory = path.rsplit("/", 1)[0] or "/"
        script = (f"mkdir -p {q(directory)} && t=$(mktemp {q(path)}.XXXXXX) && cat > \"$t\" && "
                  f"chown {q(owner)}:{q(group)} \"$t\" && chmod {q(mode)} \"$t\" && mv -f \"$t\" {q(path)}")
        try:
            self.run(script, stdin=content)
        except RemoteError as e:
            raise RemoteError(self.host.name, f"write {path}", e.rc, e.stderr) from None


class Held:
    """A long-lived command on its own channel (see Remote.hold)."""

    def __init__(self, host: str, chan: paramiko.Channel):
        self.host, self.chan, self._buffer = host, chan, b""

    def readline(self, timeout: float) -> str:
        """One line of its stdout ('' if it ended first); RemoteError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RemoteError(self.host, "held command", None, "", f"no line within {timeout:.0f}s")
            if self.chan.recv_ready():
                data = self.chan.recv(4096)
                if not data:
                    break
                self._buffer += data
            elif self.chan.exit_status_ready() and not self.chan.recv_ready():
                break
            else:
                select.select([self.chan], [], [], min(remaining, 1.0))
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")

    def finish(self, last: bytes = b"") -> None:
        """Send its last input, end its stdin and let it end (10 s at most)."""
        try:
            if last:
                self.chan.sendall(last)
            self.chan.shutdown_write()
            deadline = time.monotonic() + 10
            while not self.chan.exit_status_ready() and time.monotonic() < deadline:
                if self.chan.recv_ready():
                    self.chan.recv(4096)
                else:
                    select.select([self.chan], [], [], 0.5)
        except (OSError, paramiko.SSHException, EOFError):
            pass  # the session is gone already, and the command with it
        finally:
            self.chan.close()

    def close(self) -> None:
        self.chan.close()

    def stderr(self) -> str:
        """What it said on stderr so far (why it ended early)."""
        err = b""
        while self.chan.recv_stderr_ready():
            err += self.chan.recv_stderr(4096)
        return err.decode(errors="replace")

    def lost(self) -> bool:
        """Its session is gone (then so is what it held)."""
        transport = self.chan.get_transport()
        return self.chan.closed or self.chan.exit_status_ready() or transport is None or not transport.is_active()


class Pool:
    """The connections of one run, one per host, opened on first use."""

    def __init__(self, hosts: Sequence[Host]):
        self._remotes = {h.name: Remote(h) for h in hosts}

    def __getitem__(self, name: str) -> Remote:
        return self._remotes[name]

    def __iter__(self):
        return iter(self._remotes.values())

    def close(self) -> None:
        for remote in self._remotes.values():
            remote.close()
