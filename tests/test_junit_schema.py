"""The suite's JUnit file validates against the schema CI servers read, with
the plugin's test suite properties in it and no properties inside test cases."""
import os
import subprocess
import sys
from pathlib import Path

from tests.junit_schema import problems

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = '''
import pytest

def test_passes(record_testsuite_property, timing):
    record_testsuite_property("phase 01-network-gateway seconds", "1.5")
    timing("tiny boot to SSH", 12.5)

def test_fails(report_section):
    report_section("Nova service table", "nova-compute compute1 XXX")
    assert 1 == 2, "a failing check"
'''


def test_junit_of_a_run_with_a_failure_validates(tmp_path):
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    xml = tmp_path / "out.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "pytest_deploy", f"--rootdir={tmp_path}",
                          f"--inventory={ROOT / 'inventory.yaml'}", f"--junitxml={xml}", "-p", "no:cacheprovider",
                          str(tmp_path / "test_sample.py")], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 1, run.stdout[-2000:]
    text = xml.read_text()
    assert 'name="run report"' in text and "tiny boot to SSH" in text and "a failing check" in text
    assert problems(xml) == []
    assert (tmp_path / "reports").exists(), "the run report folder was not written"
