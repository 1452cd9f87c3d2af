"""OpenStack's own acceptance suite, Tempest's smoke set, against the deployed
cloud (`pytest -m tempest`; not part of the default run, which deselects it):
tempest.conf written from what the suite knows, Tempest run from Debian's
package on this machine, and every test that is not skipped must pass. The
failures are listed in the message; counts go to JUnit properties and the
run report; every Tempest test is a test case of its own in the run's JUnit
file (testsuite "tempest"; pytest_deploy/tempest_junit.py) and Tempest's own
JUnit file is reports/tempest.xml."""
from pathlib import Path

import pytest

from deploy import tempest, tempest_config
from pytest_deploy import tempest_junit

pytestmark = pytest.mark.tempest


def test_tempest_smoke_set_passes(cloud, inventory, secrets, pytestconfig, record_testsuite_property,
                                  report_section):
    config = tempest_config.write(inventory, secrets, tempest_config.cloud_facts(inventory, secrets))
    junit = Path(pytestconfig.rootpath) / "reports" / "tempest.xml"
    outcome = tempest.run(inventory, config, junit, smoke=True)
    tempest_junit.record(pytestconfig, junit)
    for what, items in (("passed", outcome.passed), ("failed", outcome.failed), ("skipped", outcome.skipped)):
        record_testsuite_property(f"tempest smoke {what}", str(len(items)))
    report_section("Tempest smoke set", "\n".join(outcome.lines()))
    assert outcome.passed, "Tempest's smoke set passed no test:\n" + "\n".join(outcome.lines())
    assert not outcome.failed, (f"{len(outcome.failed)} Tempest smoke tests failed (JUnit: {junit}; Tempest's log: "
                                f"{tempest_config.workspace(inventory)}/logs/tempest.log):\n"
                                + "\n".join(outcome.lines()))
