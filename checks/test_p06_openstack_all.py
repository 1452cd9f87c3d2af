"""Checks of 06-openstack-all: time agrees across hosts (chronyd synchronised
to the inventory's servers wherever a host can set its clock), debconf answers
are loaded so OpenStack packages configure nothing by themselves."""
import time

import pytest

from checks.readings import can_set_clock, chrony_problem, clock_skew_bound
from deploy.phases.debconf_zed import NOT_KEPT, PRESEED

pytestmark = [pytest.mark.p06, pytest.mark.usefixtures("phase_p06")]

MAX_CLOCK_SKEW = 1.0  # seconds: Keystone tokens, RabbitMQ heartbeats and nova's service "up" all tolerate it


@pytest.mark.all
def test_chrony_installed(host):
    assert host.package("chrony").is_installed, f"{host.backend.hostname}: chrony is not installed"


@pytest.mark.all
def test_chronyd_synchronised_where_the_host_can_set_the_clock(host, inventory):
    """Where the service manager holds CAP_SYS_TIME (what Debian's chrony unit
    requires), chronyd runs and follows the inventory's servers; a host without
    it (a container sharing its machine's clock) is skipped, saying so."""
    name = host.backend.hostname
    if not can_set_clock(host.file("/proc/1/status").content_string):
        pytest.skip(f"{name}: no CAP_SYS_TIME in its service manager's bounding set (a container on its "
                    "machine's clock): chronyd cannot set the clock there, Debian's unit does not start it")
    running = host.run("systemctl is-active chrony").stdout.strip() == "active"
    sources = host.run("chronyc -c -N sources").stdout
    tracking = host.run("chronyc -c tracking").stdout
    problem = chrony_problem(name, running, sources, tracking, inventory.ntp_servers)
    assert problem is None, problem


@pytest.mark.all
def test_clock_within_a_second_of_the_operator(host):
    """The host's clock, read over SSH, lies within MAX_CLOCK_SKEW of the window
    of the round trip; a slow round trip widens the window, it never fails a
    good clock (the bound is what the reading proves at least)."""
    before = time.time()
    remote_time = float(host.check_output("date +%s.%N"))
    after = time.time()
    skew = clock_skew_bound(before, remote_time, after)
    assert skew < MAX_CLOCK_SKEW, (f"{host.backend.hostname}: clock is at least {skew:.3f}s off the operator "
                                   f"machine's (read at {remote_time:.3f}, round trip {before:.3f}..{after:.3f})")


@pytest.mark.all
def test_debconf_answers_loaded(host):
    """Every kept answer, asked of debconf's database in one debconf-communicate
    (one Perl start per host, not one per question: `get` reads a question by
    its name whatever package owns it); an answer line per question, in order."""
    # answers the packages' own scripts drop or rewrite after install (NOT_KEPT) are not asked
    asked = [(question, value) for _package, question, _kind, value in PRESEED if question not in NOT_KEPT]
    script = "".join(f"get {question}\n" for question, _ in asked)
    answers = host.run("printf %s | debconf-communicate", script).stdout.splitlines()
    assert len(answers) == len(asked), (f"{host.backend.hostname}: debconf-communicate answered {len(answers)} "
                                        f"lines to {len(asked)} questions: {answers[:5]}")
    wrong = [f"{question}={answer!r}" for (question, value), answer in zip(asked, answers)
             if answer.strip() != f"0 {value}".strip()]
    assert not wrong, f"{host.backend.hostname}: debconf answers not as preseeded: {', '.join(wrong[:5])}"
