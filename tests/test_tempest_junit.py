"""Tempest's cases merged into pytest's JUnit file: one case each, with its
failure text or skip reason, counts right, still valid for CI servers."""
import xml.etree.ElementTree as ET

from pytest_deploy.tempest_junit import merge

PYTEST_XML = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="0"
skipped="0" tests="1" time="5.0" timestamp="2026-12-01T16:00:00" hostname="op"><testcase classname="scenarios.test_tempest"
name="test_tempest_smoke_set_passes" time="4.0" /></testsuite></testsuites>"""
TEMPEST_XML = """<testsuite errors="0" failures="1" name="" tests="3" time="9.0">
<testcase classname="tempest.api.compute.test_a.T" name="test_ok[id-1,smoke]" time="1.5"/>
<testcase classname="tempest.scenario.test_b.T" name="test_bad[id-2,smoke]" time="6.0">
<failure type="testtools.testresult.real._StringException">Traceback...
AssertionError: Timed out waiting for 10.100.0.1</failure></testcase>
<testcase classname="tempest.api.object_storage.T" name="test_swift[id-3,smoke]" time="0.0">
<skipped>Swift support is required</skipped></testcase>
</testsuite>"""


def test_each_tempest_test_is_a_case_with_its_outcome(tmp_path):
    ours, theirs = tmp_path / "lab.xml", tmp_path / "tempest.xml"
    ours.write_text(PYTEST_XML)
    theirs.write_text(TEMPEST_XML)
    assert merge(ours, theirs) == 3
    assert merge(ours, theirs) == 3   # a second merge replaces, never doubles
    root = ET.parse(ours).getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"pytest", "tempest"}
    tempest = suites["tempest"]
    assert (tempest.get("tests"), tempest.get("failures"), tempest.get("skipped")) == ("3", "1", "1")
    cases = {c.get("name"): c for c in tempest.findall("testcase")}
    assert cases["test_bad[id-2,smoke]"].find("failure").get("message") == \
        "AssertionError: Timed out waiting for 10.100.0.1"
    assert cases["test_swift[id-3,smoke]"].find("skipped").get("message") == "Swift support is required"
    assert cases["test_ok[id-1,smoke]"].find("failure") is None


def test_the_merged_file_validates_against_the_ci_schema(tmp_path):
    from tests.junit_schema import problems
    ours, theirs = tmp_path / "lab.xml", tmp_path / "tempest.xml"
    ours.write_text(PYTEST_XML)
    theirs.write_text(TEMPEST_XML)
    merge(ours, theirs)
    assert problems(ours) == []
