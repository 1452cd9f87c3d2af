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


LEAKY = '''
import logging

import pytest


@pytest.fixture
def broken(secrets):
    raise RuntimeError("fixture could not log in with " + secrets.get("glance_db").reveal())


def test_assertion_with_a_secret(secrets, record_property, evidence):
    value = secrets.get("glance_db").reveal()
    evidence.save("controller/leaky.txt", "connection = mysql+pymysql://glance:" + value + "@controller/glance")
    print("captured stdout:", value)
    logging.getLogger("deploy.test").warning("logged: %s", value)
    record_property("password", value)
    assert value == "something else", f"the password {value} was refused"


def test_fixture_error_with_a_secret(broken):
    pass


def test_skip_with_a_secret(secrets):
    pytest.skip("skipped for " + secrets.get("glance_db").reveal())
'''


def test_a_secret_in_a_failure_shows_masked_in_terminal_junit_report_and_diagnostics(tmp_path):
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text((ROOT / "inventory.yaml").read_text())
    secret = "Zq8vLr2TnW5kXc3HyB7mPd4s"
    secrets_file = tmp_path / "inventory.secrets.yaml"
    secrets_file.write_text(f"glance_db: {secret}\n")
    secrets_file.chmod(0o600)
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    junit = tmp_path / "out.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "pytest_deploy", "-p", "no:cacheprovider",
                          f"--inventory={inventory}", f"--reports={tmp_path / 'reports'}", f"--junitxml={junit}",
                          "-rA", "-vv", "--showlocals", "--tb=long", "-o", "log_cli=true", "-o", "junit_logging=all",
                          "--rootdir", str(tmp_path), str(tmp_path / "test_leaky.py")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1, run.stdout + run.stderr
    terminal = run.stdout + run.stderr
    assert "the password ****** was refused" in terminal and "fixture could not log in with ******" in terminal
    assert "captured stdout: ******" in terminal and "logged: ******" in terminal
    assert "skipped for ******" in terminal
    xml = junit.read_text()
    assert "the password ****** was refused" in xml and "captured stdout: ******" in xml
    [report] = (tmp_path / "reports").glob("run-*/report.html")
    html = report.read_text()
    assert "******" in html
    [evidence] = (tmp_path / "reports").glob("run-*/diagnostics/controller/leaky.txt")
    diagnostics = evidence.read_text()
    assert "glance:" in diagnostics
    for name, text in (("terminal", terminal), ("JUnit", xml), ("run report", html), ("diagnostics", diagnostics)):
        assert secret not in text, f"the secret shows in the {name}"
