"""A pytest-testinfra backend that runs over the suite's own SSH connection,
so checks and steps share one session per host."""
from __future__ import annotations

from typing import Any

import testinfra.host
from testinfra.backend.base import BaseBackend, CommandResult

from .remote import Remote


class RemoteBackend(BaseBackend):
    NAME = "deploy"

    def __init__(self, remote: Remote, *args: Any, **kwargs: Any):
        self.remote = remote
        super().__init__(remote.host.name, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        text = self.get_command(command, *args)
        result = self.remote.run(text, check=False)
        return self.result(result.rc, self.encode(text), result.stdout.encode(), result.stderr.encode())


def testinfra_host(remote: Remote) -> testinfra.host.Host:
    """A testinfra Host (modules on demand: host.file, host.service, ...) for one remote."""
    return testinfra.host.Host(RemoteBackend(remote))
