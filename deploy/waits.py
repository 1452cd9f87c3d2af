"""The one way to wait: poll a condition until it holds or a deadline passes."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """The awaited condition did not hold in time; the message says what was awaited."""


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


def wait_for(condition: Callable[[], T], timeout: float, what: str,
             interval: float = 0.5, describe: Callable[[T], str] | None = None) -> T:
    """Call `condition` until it returns a truthy value, and return that value.

    Each change of the observed state is logged (Tempest-style), so a slow wait
    shows what it saw; on timeout the last state is part of the message.
    """
    last: str | None = None
    try:
        for _ in iterate_timeout(timeout, what, interval):
            try:
                value = condition()
                state = describe(value) if describe else repr(value)
            except Exception as e:  # a condition that raises is a state too: not ready yet
                value, state = None, f"{type(e).__name__}: {e}"
            if state != last:
                log.debug("waiting for %s: %s", what, state)
                last = state
            if value:
                return value
    except WaitTimeout as e:
        raise WaitTimeout(f"{e}; last seen: {last}") from None
    raise AssertionError("unreachable")
