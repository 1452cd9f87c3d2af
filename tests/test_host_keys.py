"""SSH host key verification, against a real SSH server (paramiko's server side,
on a local port): a known key connects; an unknown one is refused with its
fingerprint and how to accept it; a changed one is refused before any command,
even with trust on first use; trust on first use records an unknown key."""
from __future__ import annotations

import dataclasses
import shlex
import socket
import threading

import paramiko
import pytest

from deploy.host_keys import fingerprint
from deploy.remote import READER, HostKeyError, Remote


class Server(paramiko.ServerInterface):
    """Accepts any public key and any exec; remembers what it was asked."""

    def __init__(self, log: list[str]):
        self.log = log

    def get_allowed_auths(self, username):
        return "publickey"

    def check_auth_publickey(self, username, key):
        self.log.append(f"auth {username}")
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel, command):
        self.log.append(f"exec {command.decode()}")
        threading.Thread(target=self._answer, args=(channel,), daemon=True).start()
        return True

    @staticmethod
    def _answer(channel):
        while not channel.eof_received:  # read the script the client sends, then answer
            if channel.recv_ready():
                channel.recv(65536)
            else:
                channel.status_event.wait(0.01)
        channel.sendall(b"ok\n")
        channel.send_exit_status(0)
        channel.close()


class SSHServer:
    """A paramiko SSH server on 127.0.0.1 with one host key (replaceable)."""

    def __init__(self):
        self.host_key = paramiko.ECDSAKey.generate()
        self.log: list[str] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            transport = paramiko.Transport(sock)
            transport.add_server_key(self.host_key)
            self.transports.append(transport)
            try:
                transport.start_server(server=Server(self.log))
            except (paramiko.SSHException, EOFError, OSError):  # the client hung up: refused
                continue

    def close(self):
        self.listener.close()
        for t in self.transports:
            t.close()


@pytest.fixture
def server():
    s = SSHServer()
    yield s
    s.close()


@pytest.fixture
def target(default_inventory, server, tmp_path):
    key = paramiko.ECDSAKey.generate()
    key.write_private_key_file(str(tmp_path / "id"))
    return dataclasses.replace(default_inventory.host("controller"), address="127.0.0.1", port=server.port,
                               key=tmp_path / "id", known_hosts=tmp_path / "known_hosts")


def known_line(server: SSHServer, key: paramiko.PKey | None = None) -> str:
    key = key or server.host_key
    return f"[127.0.0.1]:{server.port} {key.get_name()} {key.get_base64()}\n"


def connect(target) -> Remote:
    remote = Remote(target, connect_timeout=5)
    remote.run("true")
    return remote


def test_a_known_key_connects(server, target):
    target.known_hosts.write_text(known_line(server))
    connect(target).close()
    assert len(server.log) == 2 and server.log[0] == "auth root"
    # the same supervised reader every time: the script itself went on standard input
    assert server.log[1].startswith("exec exec /bin/sh -c ") and server.log[1].endswith(shlex.quote(READER))
    assert "true" not in server.log[1].split()


def test_an_unknown_key_is_refused_in_one_line_with_its_fingerprint(server, target):
    target.known_hosts.write_text("")
    with pytest.raises(HostKeyError) as err:
        connect(target)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"controller (127.0.0.1:{server.port}): unknown SSH host key ecdsa-sha2-nistp256 "
                              f"{fingerprint(server.host_key)}")
    assert f"ssh-keyscan -p {server.port} -t ecdsa 127.0.0.1 >> {target.known_hosts}" in message
    assert "ssh.trust_on_first_use: true" in message
    assert not server.log  # refused before authenticating, so before any command
    assert target.known_hosts.read_text() == ""


def test_a_missing_known_hosts_file_is_named(server, target):
    with pytest.raises(HostKeyError, match="which does not exist"):
        connect(target)
    assert not target.known_hosts.exists()


def test_a_changed_key_is_refused_before_any_command_even_with_trust_on_first_use(server, target):
    old = paramiko.ECDSAKey.generate()
    target.known_hosts.write_text(known_line(server, old))
    for tofu in (False, True):
        with pytest.raises(HostKeyError) as err:
            connect(dataclasses.replace(target, trust_on_first_use=tofu))
        message = str(err.value)
        assert "\n" not in message and "SSH host key CHANGED" in message
        assert fingerprint(server.host_key) in message and fingerprint(old) in message
        assert f"ssh-keygen -R [127.0.0.1]:{server.port} -f {target.known_hosts}" in message
    assert not server.log
    assert target.known_hosts.read_text() == known_line(server, old)  # nothing recorded


def test_a_key_of_another_type_than_the_known_one_counts_as_changed(server, target):
    other = paramiko.RSAKey.generate(1024)
    target.known_hosts.write_text(known_line(server, other))
    with pytest.raises(HostKeyError, match="CHANGED"):
        connect(dataclasses.replace(target, trust_on_first_use=True))
    assert not server.log


def test_trust_on_first_use_records_an_unknown_key_then_holds_to_it(server, target):
    tofu = dataclasses.replace(target, trust_on_first_use=True)
    connect(tofu).close()
    assert target.known_hosts.read_text() == known_line(server)
    connect(tofu).close()  # known now: connects, records nothing more
    assert target.known_hosts.read_text() == known_line(server)
    server.host_key = paramiko.ECDSAKey.generate()
    with pytest.raises(HostKeyError, match="CHANGED"):
        connect(tofu)


def test_the_connection_of_testinfra_is_the_verified_one(server, target):
    """Checks share the suite's connection (testinfra opens none of its own)."""
    from deploy.testinfra_backend import testinfra_host

    target.known_hosts.write_text("")
    with pytest.raises(HostKeyError):
        testinfra_host(Remote(target, connect_timeout=5)).run("true")
    assert not server.log
