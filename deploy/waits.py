"""The one way to wait: poll a condition until it holds or a deadline passes.

A wait ends at once when what it watches reaches a failure state (given as
data, like openstacksdk's `wait_for_status(..., failures=["error"])`), and an
exception from the condition ends it too unless its type is one the caller
names as transient (a refused connection while a service starts). A timeout
says what was awaited and the last state seen.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")
Transient = tuple[type[BaseException], ...]


class WaitTimeout(TimeoutError):
    """The awaited condition did not hold in time; the message says what was awaited."""


class WaitFailed(RuntimeError):
    """What was awaited reached a failure state; the message names the state."""

    def __init__(self, what: str, state: str, detail: str = ""):
        self.what, self.state = what, state
        super().__init__(f"gave up waiting for {what}: it went to {state!r}" + (f" ({detail})" if detail else ""))


def iterate_timeout(timeout: float, what: str, interval: float = 0.5,
                    max_interval: float = 5.0) -> Iterator[int]:
    """Yield attempt numbers until `timeout` seconds pass, then raise WaitTimeout.

    The pause between attempts grows from `interval` to `max_interval`, so short
    waits stay quick and long waits do not hammer what they poll.
    """
    deadline = time.monotonic() + timeout
    attempt = 0
    pause = interval
    while True:
        yield attempt
        attempt += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(min(pause, remaining))  # the poll's own pause
        pause = min(pause * 1.5, max_interval)


def _attempt(condition: Callable[[], T], what: str, transient: Transient) -> tuple[T | None, str | None]:
    """(value, None), or (None, the transient error's text); any other exception propagates."""
    try:
        return condition(), None
    except transient as e:
        return None, f"{type(e).__name__}: {e}"
    except Exception as e:
        e.add_note(f"(raised by the condition while waiting for {what})")
        raise


def wait_for(condition: Callable[[], T], timeout: float, what: str,
             interval: float = 0.5, describe: Callable[[T], str] | None = None,
             transient: Transient = ()) -> T:
    """Call `condition` until it returns a truthy value, and return that value.

    An exception of a type in `transient` counts as "not yet"; any other
    exception ends the wait at once. Each change of the observed state is
    logged (Tempest-style), so a slow wait shows what it saw; on timeout the
    last state is part of the message.
    """
    last: str | None = None
    try:
        for _ in iterate_timeout(timeout, what, interval):
            value, error = _attempt(condition, what, transient)
            state = error or (describe(value) if describe else repr(value))
            if state != last:
                log.debug("waiting for %s: %s", what, state)
                last = state
            if value:
                return value
    except WaitTimeout as e:
        raise WaitTimeout(f"{e}; last seen: {last}") from None
    raise AssertionError("unreachable")


def wait_for_status(fetch: Callable[[], R | None], status: str, what: str, timeout: float, *,
                    failures: Collection[str] = (), state: Callable[[R], str] = lambda r: r.status,
                    ready: Callable[[R], bool] | None = None, detail: Callable[[R], str] | None = None,
                    transient: Transient = (), interval: float = 1.0) -> R:
    """Fetch a resource until its state is `status` (and `ready(resource)`, if given), and return it.

    States compare without regard to case. A state in `failures` raises
    WaitFailed at once, naming the state (and `detail(resource)`: a fault
    message, say). `fetch` may return None while the resource does not exist yet.
    """
    wanted, failing = status.lower(), {f.lower() for f in failures}
    last: str | None = None
    try:
        for _ in iterate_timeout(timeout, what, interval):
            resource, error = _attempt(fetch, what, transient)
            current = error or ("absent" if resource is None else str(state(resource)))
            shown = current if resource is None or detail is None else f"{current} ({detail(resource)})"
            if shown != last:
                log.debug("waiting for %s: %s", what, shown)
                last = shown
            if resource is None:
                continue
            if current.lower() in failing:
                raise WaitFailed(what, current, detail(resource) if detail else "")
            if current.lower() == wanted and (ready is None or ready(resource)):
                return resource
    except WaitTimeout as e:
        raise WaitTimeout(f"{e}; last seen: {last}") from None
    raise AssertionError("unreachable")
