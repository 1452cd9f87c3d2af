"""A pytest plugin for self-tests that run the suite's own pytest in a
subprocess (`-p tests.no_contact`): every attempt to open a network
connection, start a process, or bring the embedded lab up or down is written
to the file $NO_CONTACT_LOG and refused with an error. Collection must never
do any of it; the self-test reads the file."""
from __future__ import annotations

import os
import socket
import subprocess

import lab
import paramiko


class ContactAttempted(RuntimeError):
    pass


def _refuse(what: str) -> None:
    with open(os.environ["NO_CONTACT_LOG"], "a") as f:
        f.write(what + "\n")
    raise ContactAttempted(f"self-test forbids it: {what}")


def _connect(self, address, *args, **kwargs):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse(f"connect to {address}")
    return _real_connect(self, address, *args, **kwargs)


def _connect_ex(self, address, *args, **kwargs):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse(f"connect to {address}")
    return _real_connect_ex(self, address, *args, **kwargs)


def _popen(self, args, *rest, **kwargs):
    _refuse(f"process {args!r}")


_real_connect, _real_connect_ex = socket.socket.connect, socket.socket.connect_ex
socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
subprocess.Popen.__init__ = _popen  # type: ignore[method-assign]
paramiko.SSHClient.connect = lambda self, hostname, *a, **k: _refuse(f"SSH to {hostname}")  # type: ignore[method-assign]
for _name in ("up", "down", "destroy", "status"):
    setattr(lab, _name, lambda *a, _name=_name, **k: _refuse(f"lab.{_name}()"))
