"""The run report: a timeline picture of phases per host, outcomes, timings,
and never a secret."""
import xml.etree.ElementTree as ET

from deploy import report
from deploy.secrets import register


def bars():
    return [report.Bar("controller", "p07", 1000.0, 140.0, 59, False),
            report.Bar("compute1", "p08", 1140.0, 150.0, 7, False),
            report.Bar("compute2", "p08", 1140.0, 20.0, 3, True)]


def test_timeline_is_an_svg_with_a_bar_per_host_and_phase():
    svg = report.timeline_svg(bars())
    root = ET.fromstring(svg)
    rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{http://www.w3.org/2000/svg}title") is not None]
    titles = [r.find("{http://www.w3.org/2000/svg}title").text for r in rects]
    assert titles == ["p07 on controller: 140.0s, 59 changed", "p08 on compute1: 150.0s, 7 changed",
                      "p08 on compute2: 20.0s, 3 changed, FAILED"]
    # time runs left to right: the controller's p07 starts at the axis, compute1's p08 after it ends
    x = [float(r.get("x")) for r in rects]
    assert x[0] == 110 and x[1] > x[0] + float(rects[0].get("width")) - 1
    assert rects[2].get("fill") == "#d62728"


def test_early_steps_share_their_phase_colour_paler():
    svg = report.timeline_svg([report.Bar("controller", "p07", 1000.0, 140.0, 59, False),
                               report.Bar("compute1", "p08 early", 1000.0, 100.0, 1, False),
                               report.Bar("compute1", "p08", 1140.0, 20.0, 6, False)])
    ns = "{http://www.w3.org/2000/svg}"
    bars = {r.find(ns + "title").text.split(" on ")[0]: r for r in ET.fromstring(svg).iter(ns + "rect")
            if r.find(ns + "title") is not None}
    assert bars["p08 early"].get("fill") == bars["p08"].get("fill") != bars["p07"].get("fill")
    assert bars["p08 early"].get("fill-opacity") == "0.55" and bars["p08"].get("fill-opacity") is None
    assert "early steps" in svg


def test_report_page_holds_outcomes_timings_and_sections_and_masks_secrets(tmp_path):
    register("s3cr3t-value-xyz")
    outcomes = [report.Outcome("checks/test_a.py::test_ok", "passed", 1.0),
                report.Outcome("checks/test_a.py::test_bad", "failed", 2.0, "password s3cr3t-value-xyz refused")]
    page = report.write(tmp_path / "run" / "report.html", "run", bars(), outcomes,
                        [("scenarios/test_boot.py::t", "tiny boot to SSH", 21.5)],
                        [("Nova service table", "nova-compute compute1 :-)")], None, None)
    text = page.read_text()
    assert "<svg" in text and "1 failed, 1 passed" in text
    assert "tiny boot to SSH" in text and "21.5s" in text and "nova-compute compute1 :-)" in text
    assert "s3cr3t-value-xyz" not in text
