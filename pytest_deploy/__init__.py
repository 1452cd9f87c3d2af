"""pytest glue: the work itself lives in deploy/ and lab/; this package only
wires it to pytest. Loaded as one plugin (`pytest_plugins = ["pytest_deploy"]`
in conftest.py, or `-p pytest_deploy`), which loads its parts:

  options   command-line options, the inventory and secrets loaded, `--plan`
  hosts     the lab brought up, the SSH pool, host parametrization by role marker
  phases    one session fixture per phase (phase_p01 ... phase_p09), in order
  failures  known faults and first aid in a failed test's message; the diagnostics
  masking   secrets out of everything pytest shows or writes
  report    scenario timings, report sections, the run report, the terminal summary
  tempest_junit  Tempest's test cases merged into the run's JUnit file, one by one

Checks and scenarios use the fixtures and, in their own hooks, `inventory_of`.
"""
from __future__ import annotations

from .state import inventory_of

pytest_plugins = ["pytest_deploy.options", "pytest_deploy.hosts", "pytest_deploy.phases",
                  "pytest_deploy.failures", "pytest_deploy.masking", "pytest_deploy.report",
                  "pytest_deploy.tempest_junit"]

__all__ = ["inventory_of"]
