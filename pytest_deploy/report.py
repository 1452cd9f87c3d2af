"""What a run tells at its end: scenario timings and report sections that
tests record, the HTML run report (linked from the JUnit file), and the
terminal summary (diagnostics, timings, phases)."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from deploy import report as run_report
from deploy.secrets import mask

from .failures import collect_diagnostics
from .state import HANDOFF, INVENTORY, OUTCOMES, REPORT, RESULTS, RUN_DIR, SECTIONS, TIMINGS

log = logging.getLogger("deploy")


@pytest.fixture
def timing(request: pytest.FixtureRequest, record_testsuite_property):
    """timing(what, seconds): a JUnit property, a line of the terminal summary and of the run report."""
    def record(what: str, seconds: float) -> None:
        record_testsuite_property(f"{request.node.nodeid}: {what} (s)", f"{seconds:.1f}")
        request.config.stash[TIMINGS].append((request.node.nodeid, what, seconds))
    return record


@pytest.fixture
def report_section(request: pytest.FixtureRequest):
    """report_section(title, text): a block of the run report (the service table, ...)."""
    def record(title: str, text: str) -> None:
        request.config.stash[SECTIONS][title] = mask(text)
    return record


@pytest.hookimpl(tryfirst=True)  # before the JUnit writer, which links the report and the evidence
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    collect_diagnostics(session.config)
    write_report(session.config)


def junit_writer(config: pytest.Config):
    """pytest's JUnit writer of this run, if --junitxml asked for one: the plugin
    that takes global properties (what record_testsuite_property writes to)."""
    if not config.getoption("xmlpath", None):
        return None
    return next((p for p in config.pluginmanager.get_plugins() if callable(getattr(p, "add_global_property", None))),
                None)


def write_report(config: pytest.Config) -> None:
    if RUN_DIR not in config.stash or not (config.stash[OUTCOMES] or config.stash[RESULTS]):
        return
    run_dir = config.stash[RUN_DIR]
    bars = [run_report.Bar(host.host, result.phase, host.started, host.seconds, host.changed, bool(host.error))
            for result in config.stash[RESULTS] for host in result.hosts.values()]
    junit = config.getoption("xmlpath", None)
    try:
        path = run_report.write(run_dir / "report.html", f"Deploy and verify: {config.stash[INVENTORY].path.name}",
                                bars, config.stash[OUTCOMES], config.stash[TIMINGS],
                                sorted(config.stash[SECTIONS].items()), run_dir / "diagnostics",
                                Path(junit).resolve() if junit else None)
        config.stash[REPORT] = path
    except OSError as e:  # a report that cannot be written must not hide the run's outcome
        log.warning("run report not written: %s", e)
    xml = junit_writer(config)
    if xml is not None:
        xml.add_global_property("run report", str(run_dir / "report.html"))
        if (run_dir / "diagnostics").exists():
            xml.add_global_property("diagnostics", str(run_dir / "diagnostics"))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    folder = config.stash[RUN_DIR] / "diagnostics" if RUN_DIR in config.stash else None
    if folder and folder.exists():
        terminalreporter.section("diagnostics")
        terminalreporter.write_line(f"evidence from every host: {folder}")
        faults = (folder / "known-faults.txt").read_text().strip() if (folder / "known-faults.txt").exists() else ""
        for line in faults.splitlines():
            terminalreporter.write_line(f"  known fault in the collected logs: {line}")
    timings = config.stash.get(TIMINGS, [])
    if timings:
        terminalreporter.section("scenario timings")
        for nodeid, what, seconds in timings:
            terminalreporter.write_line(f"{seconds:8.1f}s  {what:<32} {nodeid}")
    if REPORT in config.stash:
        terminalreporter.write_line(f"run report: {config.stash[REPORT]}")
    results = config.stash.get(RESULTS, [])
    if results:
        terminalreporter.section("deploy phases")
    for result in results:
        terminalreporter.write_line(f"{result.phase}  {result.seconds:6.1f}s")
        for name, host in result.hosts.items():
            terminalreporter.write_line(f"    {name:<12} {host.changed:3d} changed {host.unchanged:3d} unchanged "
                                        f"{host.seconds:6.1f}s")
    if HANDOFF in config.stash:   # last: what the operator reads first
        terminalreporter.section("your cloud")
        for line in config.stash[HANDOFF]:
            terminalreporter.write_line(line)
