"""Checks of 06-openstack-all: time agrees across hosts, debconf answers are
loaded so OpenStack packages configure nothing by themselves."""
import time

import pytest

from deploy.phases.debconf_zed import NOT_KEPT, PRESEED

pytestmark = [pytest.mark.p06, pytest.mark.usefixtures("phase_p06")]


@pytest.mark.all
def test_chrony_installed(host):
    assert host.package("chrony").is_installed, f"{host.backend.hostname}: chrony is not installed"


@pytest.mark.all
def test_clock_within_a_second_of_the_operator(host):
    before = time.time()
    remote_time = float(host.check_output("date +%s.%N"))
    after = time.time()
    offset = remote_time - (before + after) / 2
    assert abs(offset) < 1.0 - (after - before) / 2, \
        f"{host.backend.hostname}: clock is {offset:+.3f}s off the operator machine's"


@pytest.mark.all
def test_debconf_answers_loaded(host):
    wrong = []
    for package, question, _kind, value in PRESEED:
        if question in NOT_KEPT:  # packages' own scripts drop or rewrite these after install
            continue
        answer = host.run("echo get %s | debconf-communicate %s", question, package).stdout.strip()
        if answer != f"0 {value}".strip():
            wrong.append(f"{question}={answer!r}")
    assert not wrong, f"{host.backend.hostname}: debconf answers not as preseeded: {', '.join(wrong[:5])}"
