"""What the parts of the glue keep for the run, in pytest's stash."""
from __future__ import annotations

from pathlib import Path

import pytest

from deploy import report as run_report
from deploy.inventory import Inventory
from deploy.remote import Pool
from deploy.runner import PhaseResult

INVENTORY = pytest.StashKey[Inventory]()
RESULTS = pytest.StashKey[list[PhaseResult]]()                # every phase applied, in order
POOL = pytest.StashKey[Pool]()
RUN_DIR = pytest.StashKey[Path]()                             # reports/run-TIMESTAMP
FAILED = pytest.StashKey[list[str]]()                         # node ids of failed tests
OUTCOMES = pytest.StashKey[list[run_report.Outcome]]()
TIMINGS = pytest.StashKey[list[tuple[str, str, float]]]()     # (test, what, seconds)
SECTIONS = pytest.StashKey[dict[str, str]]()                  # report sections tests recorded
REPORT = pytest.StashKey[Path]()
COLLECTED = pytest.StashKey[bool]()                           # evidence from the hosts gathered
TEST_FAILED = pytest.StashKey[bool]()                         # on an item: its setup or call failed
TRIAGE = pytest.StashKey[tuple[float, list[str]]]()           # (when, lines) of the last triage
HANDOFF = pytest.StashKey[list[str]]()                        # the summary of the credentials files written
TEMPEST_JUNIT = pytest.StashKey[Path]()                       # Tempest's JUnit file, merged into the run's
LOCKED = pytest.StashKey[bool]()                              # this run holds the hosts' run lock


def inventory_of(config: pytest.Config) -> Inventory:
    """The run's inventory, for hooks of checks and scenarios (fixtures take `inventory`)."""
    return config.stash[INVENTORY]
