"""Scenario cleanup against a fake cloud: a resource that cannot be deleted is
an error of the test that made it, every other deleter still runs, and the run
ends failed with every leaked resource named in its final summary."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios.cloud import Cleanup, CleanupFailed

ROOT = Path(__file__).resolve().parent.parent

# the scenarios' own fixtures and hooks, without the rest of the suite
CONFTEST = "from scenarios.conftest import cleanup, session_cleanup, pytest_sessionfinish, pytest_terminal_summary\n"
FAKE_CLOUD_TESTS = '''

class NotFound(Exception):
    pass


class FakeCloud:
    """Servers, floating IPs and key pairs by name; a delete it refuses raises, as Nova's 500 would."""
    def __init__(self):
        self.resources = {"server scn-a", "server scn-b", "floating IP 198.51.100.130", "keypair kp-1"}
        self.refuse = {"server scn-b": "ClientException: 500 Internal Server Error",
                       "keypair kp-1": "ClientException: 503 Service Unavailable"}

    def delete(self, what):
        if what in self.refuse:
            raise RuntimeError(self.refuse[what])
        if what not in self.resources:
            raise NotFound(what)
        self.resources.remove(what)


CLOUD = FakeCloud()


def test_boots_two_servers(cleanup, session_cleanup):
    session_cleanup.add("keypair kp-1", lambda: CLOUD.delete("keypair kp-1"))
    for what in ("server scn-a", "server scn-b", "floating IP 198.51.100.130"):
        cleanup.add(what, lambda what=what: CLOUD.delete(what))
    CLOUD.delete("floating IP 198.51.100.130")  # the test removes one itself: NotFound later is no leak


def test_the_cleanup_ran_before_the_next_test():
    assert CLOUD.resources == {"server scn-b", "keypair kp-1"}
'''


def test_cleanup_runs_every_deleter_and_names_each_failure():
    done = []
    actions = Cleanup()
    actions.add("volume v1", lambda: done.append("v1"))
    actions.add("server s1", lambda: (_ for _ in ()).throw(RuntimeError("409 Conflict")))
    actions.add("floating IP 198.51.100.131", lambda: done.append("fip"))
    with pytest.raises(CleanupFailed, match=r"left in the cloud: server s1: RuntimeError: 409 Conflict$"):
        actions.finish()
    assert done == ["fip", "v1"]  # newest first, and on past the failure
    assert actions.finish() == []


def test_leaks_fail_the_session_and_are_named_at_its_end(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_fake_cloud.py").write_text(FAKE_CLOUD_TESTS)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = run.stdout
    assert run.returncode == 1, out
    assert "ERROR at teardown of test_boots_two_servers" in out
    assert "2 passed, 2 errors" in out, out  # the function's leak, then the session's at its last test
    summary = out.split("cleanup failed: left in the cloud", 1)[1]
    assert "server scn-b: RuntimeError: ClientException: 500 Internal Server Error" in summary
    assert "keypair kp-1: RuntimeError: ClientException: 503 Service Unavailable" in summary
    assert "scn-a" not in summary and "198.51.100.130" not in summary
