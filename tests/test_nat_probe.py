"""The NAT check's probe (checks/probes.py) on this machine:
a listener on a local address, a client run through a shell as on a host, the
source address it saw; and what it says when the client cannot connect."""
from __future__ import annotations

import socket
import subprocess

from checks.readings import nat_source_problem
from checks.probes import connection_source
from deploy.remote import Result


class LocalShell:
    """A Remote's `run` for a command string, in this machine's bash."""

    def run(self, command: str, check: bool = True) -> Result:
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
        return Result("local", command, done.returncode, done.stdout, done.stderr)


class Refused:
    def run(self, command: str, check: bool = True) -> Result:
        return Result("compute2", command, 1, "", "bash: connect: Connection refused")


def test_the_probe_reports_the_source_address_the_listener_saw():
    peer, failure = connection_source(LocalShell(), "127.0.0.1")
    assert (peer, failure) == ("127.0.0.1", "")
    assert nat_source_problem(peer, "compute2", "192.168.0.2", "compute1", "127.0.0.1") is None
    assert "arrived from 127.0.0.1, not the gateway's public address 198.51.100.1" in \
        nat_source_problem(peer, "compute2", "192.168.0.2", "compute1", "198.51.100.1")


def test_a_client_that_cannot_connect_is_named():
    peer, failure = connection_source(Refused(), "127.0.0.1")
    assert peer is None and failure.endswith(": bash: connect: Connection refused")


def test_an_address_this_machine_does_not_have():
    peer, failure = connection_source(LocalShell(), "192.0.2.77")  # TEST-NET-1: nobody's
    assert peer is None and failure.startswith("this machine cannot listen on 192.0.2.77: ")


def test_the_probe_connects_from_a_source_port_of_the_range_asked_for():
    with socket.socket() as taken:  # the range's first port is in use: the probe takes the next free one
        taken.bind(("127.0.0.1", 0))
        first = taken.getsockname()[1]
        peer, failure = connection_source(LocalShell(), "127.0.0.1", (first, first + 20))
    assert (peer, failure) == ("127.0.0.1", "")


def test_a_connection_that_fails_from_a_source_port_names_it():
    with socket.socket() as taken:
        taken.bind(("", 0))
        busy = taken.getsockname()[1]
        peer, failure = connection_source(LocalShell(), "127.0.0.1", (busy, busy))
    assert peer is None and failure.endswith(f"no free source port in {busy}-{busy}")
