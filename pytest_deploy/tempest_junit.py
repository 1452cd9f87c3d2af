"""Tempest's own results in the run's JUnit file: every Tempest test a
<testcase> of its own (passed, failed with Tempest's text, skipped with its
reason) in a <testsuite name="tempest"> beside pytest's, so that a CI server
shows them one by one. Tempest's file (subunit2junitxml's) is read; pytest's
file is rewritten after pytest wrote it (at unconfigure), still valid against
the CI servers' schema (tests/junit_schema.py)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deploy.secrets import mask
from deploy.tempest import case_result

from .state import TEMPEST_JUNIT

SUITE = "tempest"


def record(config: pytest.Config, junit: Path) -> None:
    """Called by the Tempest test: merge this file into the run's JUnit at the end."""
    config.stash[TEMPEST_JUNIT] = junit


def tempest_cases(tempest_xml: Path) -> list[ET.Element]:
    """Tempest's test cases as pytest writes cases: failure/skipped with a message."""
    cases = []
    for case in ET.parse(tempest_xml).getroot().iter("testcase"):
        out = ET.Element("testcase", {"classname": case.get("classname") or SUITE,
                                      "name": case.get("name") or "?", "time": case.get("time") or "0"})
        kind, text = case_result(case)
        text = mask(text)
        if kind == "failed":
            last = text.splitlines()[-1][:300] if text else "Tempest test failed"
            element = ET.SubElement(out, "failure", {"message": last})
            element.text = text
        elif kind == "skipped":
            ET.SubElement(out, "skipped", {"type": "pytest.skip", "message": text})
        cases.append(out)
    return cases


def merge(pytest_xml: Path, tempest_xml: Path) -> int:
    """Add Tempest's cases to pytest's JUnit file as a testsuite; returns how many."""
    tree = ET.parse(pytest_xml)
    root = tree.getroot()
    if root.tag != "testsuites":    # pytest's xunit2 root; wrap an older single suite
        wrapper = ET.Element("testsuites")
        wrapper.append(root)
        root = wrapper
        tree = ET.ElementTree(root)
    for old in [s for s in root.findall("testsuite") if s.get("name") == SUITE]:
        root.remove(old)
    cases = tempest_cases(tempest_xml)
    failures = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    total = sum(float(c.get("time") or 0) for c in cases)
    first = root.find("testsuite")
    suite = ET.SubElement(root, "testsuite", {
        "name": SUITE, "tests": str(len(cases)), "failures": str(failures), "errors": "0",
        "skipped": str(skipped), "time": f"{total:.3f}",
        **({k: first.get(k) for k in ("timestamp", "hostname") if first is not None and first.get(k)})})
    suite.extend(cases)
    tree.write(pytest_xml, encoding="utf-8", xml_declaration=True)
    return len(cases)


def pytest_unconfigure(config: pytest.Config) -> None:
    tempest_xml = config.stash.get(TEMPEST_JUNIT, None)
    pytest_xml = getattr(config.option, "xmlpath", None)
    if tempest_xml is None or not pytest_xml or not Path(pytest_xml).exists() or not tempest_xml.exists():
        return
    merge(Path(pytest_xml), tempest_xml)
