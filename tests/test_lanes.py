"""Steps in lanes (runner.apply_host): a service's steps beside the other services'."""
import threading

from deploy.inventory import load_inventory
from deploy.phases import Context, all_phases
from deploy.runner import _walk, apply_host
from deploy.secrets import Secrets
from deploy.services import all_services
from deploy.steps import Command, File
from tests.fakes import FakeHost, FakeRemote


def laned(step, lane):
    step.lane = lane
    return step


def test_lanes_run_beside_each_other_and_the_next_step_waits_for_all(default_inventory):
    met = threading.Barrier(2, timeout=5)
    order = []

    class Meeting(FakeRemote):
        def run(self, command, **kw):
            if "meet" in str(command):
                met.wait()   # only passes when both lanes' steps run at the same time
            order.append(str(command).split()[-1])
            return super().run(command, **kw)

    remote = Meeting(default_inventory.controller)
    steps = [Command("01-first", "echo first", unless="false"),
             laned(Command("02-a", "meet a1", unless="false"), "a"),
             laned(Command("02-a", "echo a2", unless="false", title="a2"), "a"),
             laned(Command("03-b", "meet b1", unless="false"), "b"),
             Command("04-last", "echo last", unless="false")]
    result = apply_host(remote, steps)
    assert result.error is None
    assert order[0] == "first" and order[-1] == "last"
    assert order.index("a1") < order.index("a2")          # a lane keeps its order
    assert [s.step for s in result.steps] == [s.key for s in steps]   # reported in the host's order


def test_a_failing_lane_names_its_step_and_nothing_after_the_lanes_runs(default_inventory):
    remote = FakeRemote(default_inventory.controller, FakeHost(fail_on="broken"))
    steps = [File("01-first", "/etc/first", "x\n"),
             laned(Command("02-a", "broken sync", unless="false"), "a"),
             laned(File("03-b", "/etc/b1", "x\n"), "b"),
             File("04-last", "/etc/last", "x\n")]
    result = apply_host(remote, steps)
    assert result.error.startswith("step 02-a: ")
    assert "/etc/first" in remote.state.files and "/etc/last" not in remote.state.files
    assert "01-first: /etc/first" in [s.step for s in result.steps]


def test_a_lane_takes_no_step_once_another_lane_failed(default_inventory):
    """The walk of a lane checks, before each step, whether another lane failed."""
    remote = FakeRemote(default_inventory.controller)
    stop = threading.Event()
    stop.set()
    walked, error, _ = _walk(remote, [(0, File("03-b", "/etc/b1", "x\n"))], 1, {}, True, set(), print, stop)
    assert walked == [] and error is None and remote.state.files == {}


def test_phase_07_keystone_first_then_each_service_in_its_own_lane():
    inv = load_inventory("inventory.yaml")
    steps = all_phases()[6].steps(Context(inv, Secrets.placeholders()), inv.controller)
    lanes = [s.lane for s in steps]
    first_laned = next(i for i, lane in enumerate(lanes) if lane)
    assert all(lanes[first_laned:]), "a step without a lane among the services' lanes would wait for all of them"
    assert any(s.script.startswith("11-keystone") for s in steps[:first_laned]), "Keystone's catalog before the lanes"
    by_service = {s.name for s in all_services() if s.own_lane}
    assert set(lanes[first_laned:]) == by_service
    assert {s.lane for s in steps if s.script.startswith("29-flavors")} == {"nova"}
    assert all(not s.lane for s in steps if s.script.startswith(("02-", "03-", "05-")))   # databases, queue
