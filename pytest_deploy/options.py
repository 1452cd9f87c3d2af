"""The command line: options, the inventory and secrets loaded before
collection (a wrong one fails in one line), and `--plan`."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from deploy.inventory import InventoryError, load_inventory
from deploy.phases import all_phases
from deploy.plan import plan
from deploy.secrets import Secrets, SecretsError

from .masking import install_log_masking
from .state import FAILED, INVENTORY, OUTCOMES, RESULTS, RUN_DIR, SECTIONS, TIMINGS


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


def inventory_path(config: pytest.Config) -> Path:
    return Path(config.getoption("--inventory") or Path(config.rootpath) / "inventory.yaml")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """`--plan` prints the plan (python -m deploy plan's) and ends the run before any test or host."""
    if not config.getoption("--plan"):
        return None
    try:
        text = plan(load_inventory(inventory_path(config), check_keys=False), all_phases())
    except (InventoryError, SecretsError) as e:
        print(f"ERROR: inventory: {e}")
        return 4
    print(text)
    print("(plan only: no host was contacted)")
    return 0


def pytest_configure(config: pytest.Config) -> None:
    install_log_masking()
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
