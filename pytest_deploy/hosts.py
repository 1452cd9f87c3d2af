"""The hosts: the embedded lab brought up, one SSH pool for the run, and the
checks parametrized by host (role markers choose the hosts, and an item on a
host carries that host's roles)."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from deploy.inventory import Inventory, InventoryError, check_key_files
from deploy.phases import Context, all_phases
from deploy.remote import Pool
from deploy.secrets import Secrets, SecretsError

from .failures import collect_diagnostics
from .state import INVENTORY, POOL

ROLE_MARKERS = ("all", "controller", "compute", "gateway")
HOST_PARAMS = ("host", "host_name")   # the parameters that name the host an item runs on
log = logging.getLogger("deploy")


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
    _deselect_opt_in(config, items)
    phases = {p.id: p.number for p in all_phases()}
    for item in items:
        mark_roles_by_host(item, config.stash[INVENTORY])
        number = next((n for pid, n in phases.items() if item.get_closest_marker(pid)), None)
        if number is None and item.get_closest_marker("scenario"):
            number = 100
        if number is not None and not item.get_closest_marker("order"):
            item.add_marker(pytest.mark.order(number))


# Runs of their own, only when `-m` names them: Tempest (10 minutes), and the day-2
# scenarios (they grow the lab by a host, which the default inventory then does not name).
OPT_IN_MARKERS = ("tempest", "day2")


def _deselect_opt_in(config: pytest.Config, items: list[pytest.Item]) -> None:
    named = config.getoption("markexpr", "") or ""
    for marker in OPT_IN_MARKERS:
        if marker in named:
            continue
        dropped = [i for i in items if i.get_closest_marker(marker)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [i for i in items if not i.get_closest_marker(marker)]


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

        collect_diagnostics(pytestconfig)  # while the hosts still exist
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
