"""deploy.waits: a failure state ends a wait at once and is named; a timeout
keeps the last state seen; only the exception types a caller names as
transient count as "not ready yet"."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from checks.openstack import VOLUME_FAILURES, wait_volume
from deploy.waits import WaitFailed, WaitTimeout, wait_for, wait_for_status


def states(*sequence: str):
    """A fake resource whose status runs through `sequence`, then stays at the last."""
    seen = list(sequence)

    def fetch(*_ids):
        return SimpleNamespace(status=seen.pop(0) if len(seen) > 1 else seen[0])
    return fetch


def test_a_failure_state_ends_the_wait_at_once_and_is_named():
    started = time.monotonic()
    with pytest.raises(WaitFailed) as failed:
        wait_for_status(states("creating", "error"), "available", "volume v1 available", 180,
                        failures=VOLUME_FAILURES, interval=0.01)
    assert time.monotonic() - started < 2
    assert failed.value.state == "error"
    assert str(failed.value) == "gave up waiting for volume v1 available: it went to 'error'"


def test_failure_states_compare_without_case_and_carry_a_detail():
    with pytest.raises(WaitFailed, match=r"it went to 'ERROR' \(No valid host was found\)"):
        wait_for_status(states("BUILD", "ERROR"), "ACTIVE", "server s1 ACTIVE", 60, failures=("error",),
                        detail=lambda s: "No valid host was found", interval=0.01)


def test_the_wanted_state_returns_the_resource_once_ready():
    calls = iter([SimpleNamespace(status="ACTIVE", task="spawning"), SimpleNamespace(status="ACTIVE", task=None)])
    found = wait_for_status(lambda: next(calls), "active", "server ACTIVE", 10, ready=lambda s: s.task is None,
                            interval=0.01)
    assert found.task is None


def test_timeout_keeps_the_last_state_seen():
    with pytest.raises(WaitTimeout, match=r"timed out after 0s waiting for volume v1 in-use; last seen: attaching"):
        wait_for_status(states("available", "attaching"), "in-use", "volume v1 in-use", 0.3, interval=0.05)


def test_an_absent_resource_is_waited_for():
    calls = iter([None, SimpleNamespace(status="completed")])
    assert wait_for_status(lambda: next(calls), "completed", "migration", 10, interval=0.01).status == "completed"


def test_an_unexpected_exception_ends_the_wait_at_once():
    def broken():
        raise KeyError("status")
    started = time.monotonic()
    with pytest.raises(KeyError) as raised:
        wait_for(broken, 60, "a thing")
    assert time.monotonic() - started < 2
    assert "while waiting for a thing" in "".join(raised.value.__notes__)


def test_a_transient_exception_is_not_ready_yet_and_shows_as_the_last_state():
    attempts = []

    def refused():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError("port 22")
        return "connected"
    assert wait_for(refused, 10, "SSH", interval=0.01, transient=(OSError,)) == "connected"

    def always_refused():
        raise ConnectionRefusedError("port 22")
    with pytest.raises(WaitTimeout, match=r"last seen: ConnectionRefusedError: port 22"):
        wait_for(always_refused, 0.2, "SSH", interval=0.05, transient=(OSError,))


def test_a_volume_forced_to_error_fails_the_volume_wait_at_once_naming_the_state():
    """What `cinder reset-state --state error` does to a volume being waited on."""
    cinder = SimpleNamespace(volumes=SimpleNamespace(get=states("creating", "error")))
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"volume v1 available: it went to 'error': see cinder-volume's log"):
        wait_volume(cinder, "v1", "available", timeout=180)
    assert time.monotonic() - started < 5
