"""pytest glue: options, one session fixture per phase (each needs the one
before it), host parametrization by role marker, and the run summary.

The work itself lives in deploy/ and lab/; this module only wires it to pytest.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest._code.code import ReprFileLocation, TerminalRepr

from deploy import handoff
from deploy import report as run_report
from deploy.diagnostics import collect, known_faults_in, write_evidence
from deploy.inventory import Inventory, InventoryError, check_key_files, load_inventory
from deploy.known_faults import recognise
from deploy.phases import Context, Phase, all_phases, units_by_host
from deploy.plan import render_plan
from deploy.remote import Pool, RemoteError
from deploy.runlock import RunLockError, take_all
from deploy.runner import PhaseError, PhaseResult, apply_phase
from deploy.secrets import Secrets, SecretsError, mask
from deploy.triage import triage

ROLE_MARKERS = ("all", "controller", "compute", "gateway")
INVENTORY = pytest.StashKey[Inventory]()
RESULTS = pytest.StashKey[list[PhaseResult]]()
POOL = pytest.StashKey[Pool]()
RUN_DIR = pytest.StashKey[Path]()
FAILED = pytest.StashKey[list[str]]()
OUTCOMES = pytest.StashKey[list[run_report.Outcome]]()
TIMINGS = pytest.StashKey[list[tuple[str, str, float]]]()     # (test, what, seconds)
SECTIONS = pytest.StashKey[dict[str, str]]()                  # report sections tests recorded
REPORT = pytest.StashKey[Path]()
COLLECTED = pytest.StashKey[bool]()                           # evidence from the hosts gathered
TEST_FAILED = pytest.StashKey[bool]()                         # on an item: its setup or call failed
TRIAGE = pytest.StashKey[tuple[float, list[str]]]()           # (when, lines) of the last triage
LOCKED = pytest.StashKey[bool]()                              # this run holds the hosts' run lock
HANDOFF = pytest.StashKey[list[str]]()                        # the summary of the credentials files written
TRIAGE_FRESH_S = 60.0
TRIAGE_MARGIN_S = 30.0                                        # logs from just before the test began count too
log = logging.getLogger("deploy")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("deploy", "deploying the cloud")
    # Give it as --inventory=PATH: pytest takes a separate path argument for a
    # test path when it looks for its rootdir and pytest.ini.
    group.addoption("--inventory", default=os.environ.get("DEPLOY_INVENTORY"), metavar="PATH",
                    help="inventory file (default: $DEPLOY_INVENTORY, else inventory.yaml beside pytest.ini)")
    group.addoption("--plan", action="store_true",
                    help="print the commands every phase would run on each host, touch nothing")
    group.addoption("--no-deploy", action="store_true",
                    help="verify only: run checks without applying any phase")
    group.addoption("--lab-destroy", action="store_true",
                    help="embedded lab: destroy it when the run ends (CI)")
    group.addoption("--reports", default="reports", metavar="DIR",
                    help="where each run writes its folder (diagnostics on failure); default: reports/")


def _mask_records() -> None:
    """Secrets never reach a log handler, whichever handler pytest installs."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_secrets", False):
        return

    def masked(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.args or isinstance(record.msg, str):
            try:
                text = record.getMessage()
            except Exception:  # a bad format string is the caller's bug; leave it visible
                return record
            record.msg, record.args = mask(text), None
        return record

    masked.masks_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked)


def inventory_path(config: pytest.Config) -> Path:
    return Path(config.getoption("--inventory") or Path(config.rootpath) / "inventory.yaml")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """`--plan` prints the plan and ends the run before any test or host."""
    if not config.getoption("--plan"):
        return None
    try:
        inventory = load_inventory(inventory_path(config), check_keys=False)
        ctx = Context(inventory, Secrets(inventory.secrets_path, create=False))
    except (InventoryError, SecretsError) as e:
        print(f"ERROR: inventory: {e}")
        return 4
    print(render_plan(ctx, all_phases()))
    print("(plan only: no host was contacted)")
    return 0


def pytest_configure(config: pytest.Config) -> None:
    _mask_records()
    logging.getLogger("paramiko").setLevel(logging.WARNING)  # one line per connection is noise
    try:
        config.stash[INVENTORY] = load_inventory(inventory_path(config))
    except InventoryError as e:
        raise pytest.UsageError(f"inventory: {e}") from None
    try:  # known from the start, so masked wherever they show (whoever asks for them)
        Secrets(config.stash[INVENTORY].secrets_path, create=False)
    except SecretsError as e:
        raise pytest.UsageError(f"secrets: {e}") from None
    config.stash[RESULTS] = []
    config.stash[FAILED] = []
    config.stash[OUTCOMES] = []
    config.stash[TIMINGS] = []
    config.stash[SECTIONS] = {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    config.stash[RUN_DIR] = (Path(config.rootpath) / config.getoption("--reports") / f"run-{stamp}").resolve()


HOST_PARAMS = ("host", "host_name")   # the parameters that name the host an item runs on


def host_of(item: pytest.Item) -> str | None:
    """The inventory host an item runs on, if it is parametrized by host."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return next((params[p] for p in HOST_PARAMS if p in params), None)


def mark_roles_by_host(item: pytest.Item, inventory: Inventory) -> None:
    """An item that runs on a host carries the role marks of that host, whatever
    its function is marked with (those marks only chose the hosts): `-m
    controller` selects what runs on the controller. `all` stays on items whose
    check runs on every host. Items without a host keep their own marks (an API
    check is marked with the role whose service it checks)."""
    name = host_of(item)
    if not isinstance(name, str) or name not in {h.name for h in inventory.hosts}:
        return  # not a check on a host (a self-test's own `host` parameter, say)
    every_host = item.get_closest_marker("all") is not None
    item.own_markers[:] = [m for m in item.own_markers if m.name not in ROLE_MARKERS]
    inherited = sorted({m.name for m in item.iter_markers() if m.name in ROLE_MARKERS})
    if inherited:
        raise pytest.UsageError(f"{item.nodeid}: role markers {inherited} on its module or class; a check that "
                                "runs on hosts takes them on its function, they choose its hosts")
    host = inventory.host(name)
    for role in ROLE_MARKERS:
        if (every_host if role == "all" else host.has_role(role)):
            item.add_marker(role)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Role marks by host (see mark_roles_by_host); keep the report's order:
    phase checks by phase number, scenarios last."""
    _deselect_tempest(config, items)
    phases = {p.id: p.number for p in all_phases()}
    for item in items:
        mark_roles_by_host(item, config.stash[INVENTORY])
        number = next((n for pid, n in phases.items() if item.get_closest_marker(pid)), None)
        if number is None and item.get_closest_marker("scenario"):
            number = 100
        if number is not None and not item.get_closest_marker("order"):
            item.add_marker(pytest.mark.order(number))


def _deselect_tempest(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tempest's run (16 minutes of its own) only when `-m` names it: `pytest -m tempest`."""
    if "tempest" in (config.getoption("markexpr", "") or ""):
        return
    dropped = [i for i in items if i.get_closest_marker("tempest")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if not i.get_closest_marker("tempest")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `host` runs once per inventory host of its role marker."""
    if "host" not in metafunc.fixturenames:
        return
    roles = [m for m in ROLE_MARKERS if metafunc.definition.get_closest_marker(m)]
    if not roles:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: a test taking `host` needs a role marker "
                                f"({', '.join(ROLE_MARKERS)})")
    inventory = metafunc.config.stash[INVENTORY]
    names = [h.name for h in inventory.hosts if any(h.has_role(r) for r in roles)]
    metafunc.parametrize("host", names, indirect=True, ids=names)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def inventory(pytestconfig: pytest.Config) -> Inventory:
    return pytestconfig.stash[INVENTORY]


@pytest.fixture(scope="session")
def secrets(inventory: Inventory) -> Secrets:
    try:
        return Secrets(inventory.secrets_path)
    except SecretsError as e:
        pytest.exit(str(e), returncode=4)


@pytest.fixture(scope="session")
def reachable_hosts(inventory: Inventory, pytestconfig: pytest.Config) -> Iterator[Inventory]:
    """The inventory's hosts, up: for the embedded lab, brought up first."""
    if inventory.lab.embedded:
        import lab  # only the embedded lab needs it; real labs never import it

        started = time.monotonic()
        lab.up(inventory)
        log.info("embedded lab up in %.1fs", time.monotonic() - started)
    try:
        check_key_files(inventory)
    except InventoryError as e:
        pytest.exit(f"inventory: {e}", returncode=4)
    yield inventory
    if inventory.lab.embedded and pytestconfig.getoption("--lab-destroy"):
        import lab

        _collect_diagnostics(pytestconfig)  # while the hosts still exist
        lab.destroy(inventory)


@pytest.fixture(scope="session")
def pool(reachable_hosts: Inventory, pytestconfig: pytest.Config) -> Iterator[Pool]:
    connections = Pool(reachable_hosts.hosts)
    pytestconfig.stash[POOL] = connections
    yield connections
    connections.close()


@pytest.fixture(scope="session")
def deploy_context(inventory: Inventory, secrets: Secrets) -> Context:
    return Context(inventory, secrets)


@pytest.fixture
def host(request: pytest.FixtureRequest, pool: Pool):
    """The testinfra Host for the parametrized host name (see pytest_generate_tests)."""
    from deploy.testinfra_backend import testinfra_host

    return testinfra_host(pool[request.param])


@pytest.fixture
def remote(request: pytest.FixtureRequest, pool: Pool):
    """The suite's Remote of the host under test, for what testinfra lacks."""
    return pool[request.node.callspec.params["host"]]


def _needed(session: pytest.Session) -> set[str]:
    """The phases this session's tests ask for (directly or through a later phase)."""
    asked = {name.removeprefix("phase_") for item in session.items for name in getattr(item, "fixturenames", ())
             if name.startswith("phase_")}
    ids = [p.id for p in all_phases()]
    last = max((ids.index(a) for a in asked if a in ids), default=-1)
    return set(ids[:last + 1])


def _phase_fixture(phase: Phase, previous: str | None, following: list[Phase]):
    @pytest.fixture(scope="session", name=f"phase_{phase.id}")
    def deployed(request: pytest.FixtureRequest, pool: Pool, deploy_context: Context,
                 record_testsuite_property) -> PhaseResult | None:
        if previous:
            request.getfixturevalue(previous)
        if request.config.getoption("--no-deploy"):
            return None
        if not request.config.stash.get(LOCKED, False):  # once, before the first phase converges anything
            request.config.stash[LOCKED] = True
            try:
                take_all(pool, progress=log.info)
            except (RunLockError, RemoteError) as e:
                pytest.exit(f"deploy: {e}", returncode=3)
        log.info("phase %s: applying", phase.title)
        try:
            needed = _needed(request.session)
            result = apply_phase(phase, deploy_context, pool, progress=log.info,
                                 ahead=[p for p in following if p.id in needed])
        except PhaseError as e:
            request.config.stash[RESULTS].extend([e.result, *e.result.ahead])
            raise
        request.config.stash[RESULTS].extend([result, *result.ahead])
        record_testsuite_property(f"phase {phase.title} seconds", f"{result.seconds:.1f}")
        if not following:   # the last phase: the cloud is whole, hand it over
            try:
                files = handoff.write(deploy_context.inventory, deploy_context.secrets)
                summary = handoff.summary(deploy_context.inventory, deploy_context.secrets, files)
            except (handoff.HandoffError, OSError) as e:   # the cloud is fine; the files are not written
                log.warning("handoff files not written: %s", e)
                summary = [f"handoff files not written: {e}"]
            request.config.stash[HANDOFF] = summary
        return result

    return deployed


_previous = None
_phases = all_phases()
for _i, _phase in enumerate(_phases):
    globals()[f"phase_{_phase.id}"] = _phase_fixture(_phase, _previous, _phases[_i + 1:])
    _previous = f"phase_{_phase.id}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failure names the known faults it shows, and where the evidence will be."""
    report = yield
    if report.failed:
        item.stash[TEST_FAILED] = True
        item.config.stash[FAILED].append(item.nodeid)
        faults = recognise(mask(str(report.longrepr)))
        if faults:
            _add_to_failure(report, "known faults", "\n".join(faults))
        seen = _triage(item.config, since=call.start - TRIAGE_MARGIN_S)
        if seen:
            _add_to_failure(report, "what the hosts show now (host, where, likely fix)", "\n".join(seen))
    if report.when == "call" or report.failed or report.skipped:
        message = mask(str(report.longrepr))[-2000:] if report.longrepr else ""
        outcome = "error" if report.failed and report.when != "call" else report.outcome
        item.config.stash[OUTCOMES].append(run_report.Outcome(item.nodeid, outcome, report.duration, message))
    _mask_report(report)
    return report


class _MaskedFailure(TerminalRepr):
    """A failure's text with the secrets masked: stands in for the original repr
    when that held a secret, for the terminal, JUnit and every other reader."""

    def __init__(self, text: str, crash: ReprFileLocation | None):
        self.text, self.reprcrash, self.sections = text, crash, []

    def toterminal(self, tw) -> None:
        for line in self.text.splitlines():
            tw.line(line, red=line.startswith("E "), bold=line.startswith("E "))


def _mask_report(report: pytest.TestReport) -> None:
    """Secrets out of everything pytest shows or writes of a test: the failure
    text (traceback, assertion details, added sections), its one-line summary,
    captured output and logs, and user properties (JUnit)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        report.longrepr = (*longrepr[:2], mask(longrepr[2]))
    elif isinstance(longrepr, str):
        report.longrepr = mask(longrepr)
    elif longrepr is not None:
        text = str(longrepr)
        masked = mask(text)
        if masked != text:
            crash = getattr(longrepr, "reprcrash", None)
            if crash is not None:
                crash = dataclasses.replace(crash, message=mask(crash.message))
            report.longrepr = _MaskedFailure(masked, crash)
    report.sections = [(title, mask(content)) for title, content in report.sections]
    report.user_properties = [(name, mask(value) if isinstance(value, str) else value)
                              for name, value in report.user_properties]


class _MaskingFile:
    """The terminal's file, masking what pytest writes there (live logs, summaries)."""

    def __init__(self, file):
        self._file = file

    def write(self, text: str) -> int:
        return self._file.write(mask(text))

    def __getattr__(self, name: str):
        return getattr(self._file, name)


def pytest_sessionstart(session: pytest.Session) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    writer = getattr(reporter, "_tw", None)
    if writer is not None and not isinstance(getattr(writer, "_file", None), (_MaskingFile, type(None))):
        writer._file = _MaskingFile(writer._file)


@pytest.fixture
def timing(request: pytest.FixtureRequest, record_testsuite_property):
    """timing(what, seconds): a JUnit property, a line of the terminal summary and of the run report."""
    def record(what: str, seconds: float) -> None:
        record_testsuite_property(f"{request.node.nodeid}: {what} (s)", f"{seconds:.1f}")
        request.config.stash[TIMINGS].append((request.node.nodeid, what, seconds))
    return record


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


@pytest.fixture
def report_section(request: pytest.FixtureRequest):
    """report_section(title, text): a block of the run report (the service table, ...)."""
    def record(title: str, text: str) -> None:
        request.config.stash[SECTIONS][title] = mask(text)
    return record


@pytest.hookimpl(tryfirst=True)  # before the JUnit writer, which links the report and the evidence
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _collect_diagnostics(session.config)
    _write_report(session.config)


def _write_report(config: pytest.Config) -> None:
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
    xml = config.stash.get(_junit_key(), None)
    if xml is not None:
        xml.add_global_property("run report", str(run_dir / "report.html"))
        if (run_dir / "diagnostics").exists():
            xml.add_global_property("diagnostics", str(run_dir / "diagnostics"))


def _junit_key():
    from _pytest.junitxml import xml_key  # where pytest keeps its JUnit writer
    return xml_key


def _add_to_failure(report: pytest.TestReport, title: str, text: str) -> None:
    """Into the failure itself, so that the terminal and the JUnit <failure> both carry it."""
    if hasattr(report.longrepr, "addsection"):
        report.longrepr.addsection(title, text)
    elif isinstance(report.longrepr, str):
        report.longrepr += f"\n\n--- {title}\n{text}"
    else:
        report.sections.append((title, text))


def _triage(config: pytest.Config, since: float) -> list[str]:
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


def _collect_diagnostics(config: pytest.Config) -> None:
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
