"""A failed check or scenario: the known faults its message shows and what the
hosts show now, added to the failure itself; evidence a test keeps; after the
run, the diagnostics gathered from every host."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from deploy import report as run_report
from deploy.diagnostics import collect, known_faults_in, write_evidence
from deploy.known_faults import recognise
from deploy.phases import units_by_host
from deploy.secrets import mask
from deploy.triage import triage

from .masking import mask_report
from .state import COLLECTED, FAILED, INVENTORY, OUTCOMES, POOL, RUN_DIR, TEST_FAILED, TRIAGE

TRIAGE_FRESH_S = 60.0
TRIAGE_MARGIN_S = 30.0                                        # logs from just before the test began count too
log = logging.getLogger("deploy")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failure names the known faults it shows, and where the evidence will be."""
    report = yield
    if report.failed:
        item.stash[TEST_FAILED] = True
        item.config.stash[FAILED].append(item.nodeid)
        faults = recognise(mask(str(report.longrepr)))
        if faults:
            add_to_failure(report, "known faults", "\n".join(faults))
        seen = hosts_now(item.config, since=call.start - TRIAGE_MARGIN_S)
        if seen:
            add_to_failure(report, "what the hosts show now (host, where, likely fix)", "\n".join(seen))
    if report.when == "call" or report.failed or report.skipped:
        message = mask(str(report.longrepr))[-2000:] if report.longrepr else ""
        outcome = "error" if report.failed and report.when != "call" else report.outcome
        item.config.stash[OUTCOMES].append(run_report.Outcome(item.nodeid, outcome, report.duration, message))
    mask_report(report)
    return report


def add_to_failure(report: pytest.TestReport, title: str, text: str) -> None:
    """Into the failure itself, so that the terminal and the JUnit <failure> both carry it."""
    if hasattr(report.longrepr, "addsection"):
        report.longrepr.addsection(title, text)
    elif isinstance(report.longrepr, str):
        report.longrepr += f"\n\n--- {title}\n{text}"
    else:
        report.sections.append((title, text))


def hosts_now(config: pytest.Config, since: float) -> list[str]:
    """Stopped units, and known faults logged since `since`, on every host; looked up once a minute at most."""
    pool = config.stash.get(POOL, None)
    if pool is None:
        return []
    at, lines = config.stash.get(TRIAGE, (0.0, []))
    if time.monotonic() - at > TRIAGE_FRESH_S:
        inventory = config.stash[INVENTORY]
        lines = triage(inventory, pool, units_by_host(inventory), since)
        config.stash[TRIAGE] = (time.monotonic(), lines)
    return lines


def collect_diagnostics(config: pytest.Config) -> None:
    """After any failure, gather evidence from every host, once (bounded; never raises)."""
    pool = config.stash.get(POOL, None)
    folder = config.stash[RUN_DIR] / "diagnostics"
    if not config.stash.get(FAILED, []) or pool is None or config.stash.get(COLLECTED, False):
        return
    config.stash[COLLECTED] = True
    try:
        collect(config.stash[INVENTORY], pool, folder)
        (folder / "known-faults.txt").write_text("\n".join(known_faults_in(folder)) + "\n")
    except Exception as e:  # evidence gathering must not replace the failure being reported
        log.warning("diagnostics collection failed: %s", e)


class Evidence:
    """What a test keeps for the diagnostics folder when it fails (a guest's console, ...)."""

    def __init__(self, node: pytest.Item, folder: Path):
        self.node, self.folder = node, folder

    @property
    def failed(self) -> bool:
        return self.node.stash.get(TEST_FAILED, False)

    def save(self, name: str, text: str) -> Path:
        path = write_evidence(self.folder / name, text)
        log.info("evidence kept: %s", path)
        return path


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """evidence.save(name, text) into this run's diagnostics folder; evidence.failed: did the test fail."""
    return Evidence(request.node, request.config.stash[RUN_DIR] / "diagnostics")
