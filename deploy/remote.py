"""One persistent SSH connection per host, shared by every step and every check.

Commands are either an argv list (each argument quoted for the remote shell) or
a shell script string (run as given). Failures raise `RemoteError`, whose
message names the host, the command with secrets masked, the exit code and the
tail of stderr.

No command text appears on the host's command lines: the one line sent as the
SSH command is always the same small reader, and the script follows on
standard input (see `wrap`). A command that needs a secret gets it on its own
standard input (`WithStdin`), never in its text. What goes over the wire
(supervisor, reader, batches, results) is in remote_wire.py.

The host's key must be in the inventory's `ssh.known_hosts` before any
command; an unknown or changed key stops the connection (`HostKeyError`).
"""
from __future__ import annotations

import logging
import select
import shlex
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence

import paramiko

from .host_keys import KnownHostsPolicy, UnknownHostKey, changed_key_message, unknown_key_message
from .inventory import Host
from .remote_held import Held
from .remote_wire import (READER, RUN_ID, STATE_DIR, SUPERVISOR, Command, HostKeyError, RemoteError, Result,
                          WithStdin, batch_results, batch_script, render, stdin_of)
from .secrets import mask
from .waits import WaitTimeout, iterate_timeout

__all__ = ["READER", "RUN_ID", "STATE_DIR", "SUPERVISOR", "Command", "Held", "HostKeyError", "Pool", "Remote",
           "RemoteError", "Result", "WithStdin", "render", "stdin_of"]
log = logging.getLogger(__name__)
_RELOCKING = threading.Lock()


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
        script, payload = batch_script(commands)
        return batch_results(self.host.name, commands, self.run(script, stdin=payload, timeout=timeout).stdout)

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
