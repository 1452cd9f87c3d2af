"""A long-lived command on an SSH channel of its own (the run lock): its stdin
stays open for as long as the run lives."""
from __future__ import annotations

import select
import time

import paramiko

from .remote_wire import RemoteError


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
