"""A failed test's message carries the known faults it shows, in the terminal
and in the JUnit <failure> that CI servers display."""
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent

FAILING = '''
import pytest

def test_assertion():
    assert "Access denied for user 'glance'@'controller' (using password: YES)" == ""

def test_plain_failure():
    pytest.fail("Can't connect to MySQL server on 'controller'", pytrace=False)
'''


def test_known_faults_reach_the_terminal_and_the_junit_failure(tmp_path):
    (tmp_path / "test_failing.py").write_text(FAILING)
    junit = tmp_path / "out.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "pytest_deploy", "-p", "no:cacheprovider",
                          f"--inventory={ROOT / 'inventory.yaml'}", f"--reports={tmp_path / 'reports'}",
                          f"--junitxml={junit}", "--rootdir", str(tmp_path), str(tmp_path / "test_failing.py")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "wrong database password: the password of database user glance" in run.stdout
    failures = {c.get("name"): c.find("failure").text for c in ElementTree.parse(junit).iter("testcase")}
    assert "wrong database password" in failures["test_assertion"]
    assert "database not reachable: MariaDB on the controller is down" in failures["test_plain_failure"]


GUESTS = '''
import pytest

@pytest.fixture
def guest(evidence):
    yield "scn-tiny-1"
    if evidence.failed:  # as scenarios/conftest.py's boot does before deleting a guest
        evidence.save("guests/scn-tiny-1.console.txt", "password: hunter2\\nno route to 169.254.169.254")

def test_guest_fails(guest):
    assert False, "SSH to the guest timed out"

def test_guest_passes(guest):
    pass
'''


def test_a_failed_scenario_keeps_its_guest_console_in_the_diagnostics_folder(tmp_path):
    (tmp_path / "test_guests.py").write_text(GUESTS)
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "pytest_deploy", "-p", "no:cacheprovider",
                          f"--inventory={ROOT / 'inventory.yaml'}", f"--reports={tmp_path / 'reports'}",
                          "--rootdir", str(tmp_path), str(tmp_path / "test_guests.py")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1, run.stdout + run.stderr
    [console] = (tmp_path / "reports").glob("run-*/diagnostics/guests/*.console.txt")  # one: the failed test's
    assert console.name == "scn-tiny-1.console.txt"
    text = console.read_text()
    assert "169.254.169.254" in text and "hunter2" not in text  # secret-looking lines masked
