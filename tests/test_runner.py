"""Applying a phase to several hosts at once."""
import threading

import pytest

from deploy.phases import Context, Phase
from deploy.runner import PhaseError, apply_phase
from deploy.secrets import Secrets
from deploy.steps import File, Packages
from tests.fakes import FakeHost, FakeRemote


class FakePool(dict):
    def __init__(self, inventory, **states):
        super().__init__({h.name: FakeRemote(h, states.get(h.name)) for h in inventory.hosts})


def demo_phase():
    def steps(ctx, host):
        if not host.has_role("compute"):
            return []
        return [Packages("01-x", ["demo"]), File("02-y", "/etc/demo", host.name + "\n")]
    return Phase(42, "demo", ("all",), steps)


def test_all_target_hosts_converge(default_inventory, tmp_path):
    pool = FakePool(default_inventory)
    result = apply_phase(demo_phase(), Context(default_inventory, Secrets(tmp_path / "s")), pool)
    assert sorted(result.hosts) == ["compute1", "compute2", "compute3", "compute4"]
    assert all(r.changed == 2 for r in result.hosts.values())
    assert pool["controller"].state.changes == []
    assert pool["compute3"].state.files["/etc/demo"][0] == "compute3\n"


def test_one_failing_host_does_not_stop_the_others(default_inventory, tmp_path):
    pool = FakePool(default_inventory, compute3=FakeHost(fail_on="apt-get"))
    with pytest.raises(PhaseError) as err:
        apply_phase(demo_phase(), Context(default_inventory, Secrets(tmp_path / "s")), pool)
    message = str(err.value)
    assert message.splitlines()[0] == "phase p42 failed on compute3"
    assert "[compute3] step 01-x: packages demo: compute3: command failed" in message
    result = err.value.result
    assert all(result.hosts[n].changed == 2 for n in ("compute1", "compute2", "compute4"))
    assert result.hosts["compute3"].changed == 0


def test_hosts_run_in_parallel(default_inventory, tmp_path):
    barrier = threading.Barrier(4, timeout=5)

    class Meeting(FakeRemote):
        def read_facts(self, facts):
            barrier.wait()  # only passes if all four hosts ask at the same time
            return super().read_facts(facts)

    pool = {h.name: Meeting(h) for h in default_inventory.hosts}
    apply_phase(demo_phase(), Context(default_inventory, Secrets(tmp_path / "s")), pool)


def operator_phase(prepared: list, applied: list, fail: bool = False):
    from deploy.phases import OperatorTask

    def prepare(ctx):
        prepared.append("built")
        return {"tiny": "/cache/tiny.qcow2"}

    def apply(ctx, files, progress):
        if fail:
            raise RuntimeError("glance refused tiny")
        applied.append(files)
        return [("tiny", True, "missing, uploaded in 1s"), ("debian-12", False, "already in Glance")]

    return Phase(43, "demo-operator", ("compute",), demo_phase().steps, operator=OperatorTask("18-add-images", prepare, apply))


def test_operator_work_is_prepared_beside_the_hosts_and_applied_after_them(default_inventory, tmp_path):
    prepared, applied = [], []
    result = apply_phase(operator_phase(prepared, applied), Context(default_inventory, Secrets(tmp_path / "s")),
                         FakePool(default_inventory))
    assert prepared == ["built"] and applied == [{"tiny": "/cache/tiny.qcow2"}]
    operator = result.hosts["operator"]
    assert [(s.step, s.changed) for s in operator.steps] == [("18-add-images: tiny", True),
                                                              ("18-add-images: debian-12", False)]


def test_operator_work_is_prepared_from_the_first_phase_of_the_run_and_once(default_inventory, tmp_path):
    """A later phase's prepare begins with an earlier phase (it needs no host) and goes on
    while that phase's hosts converge; the later phase takes its result, not a second build."""
    calls, applied = [], []
    building = threading.Event()
    release = threading.Event()

    def prepare(ctx):
        calls.append("built")
        building.set()
        assert release.wait(5), "the earlier phase never finished"
        return {"tiny": "/cache/tiny.qcow2"}

    later = operator_phase([], applied)
    later = Phase(later.number, later.name, later.roles, later.steps,
                  operator=type(later.operator)("18-add-images", prepare, later.operator.apply))
    ctx = Context(default_inventory, Secrets(tmp_path / "s"))
    apply_phase(demo_phase(), ctx, FakePool(default_inventory), ahead=[later])
    assert building.wait(5) and calls == ["built"]   # begun during the earlier phase, still going after it
    release.set()
    apply_phase(later, ctx, FakePool(default_inventory))
    assert calls == ["built"] and applied == [{"tiny": "/cache/tiny.qcow2"}]
    assert ctx.prepared == {}


def test_operator_work_is_skipped_when_a_host_failed_and_its_error_names_the_step(default_inventory, tmp_path):
    prepared, applied = [], []
    pool = FakePool(default_inventory, compute2=FakeHost(fail_on="apt-get"))
    with pytest.raises(PhaseError) as err:
        apply_phase(operator_phase(prepared, applied), Context(default_inventory, Secrets(tmp_path / "s")), pool)
    assert applied == [] and "operator" not in err.value.result.hosts
    with pytest.raises(PhaseError) as err:
        apply_phase(operator_phase([], [], fail=True), Context(default_inventory, Secrets(tmp_path / "s")),
                    FakePool(default_inventory))
    assert "[operator] step 18-add-images: RuntimeError: glance refused tiny" in str(err.value)


def controller_phase(number=43):
    def steps(ctx, host):
        return [File("01-c", "/etc/controller-only", "x\n")] if host.has_role("controller") else []
    return Phase(number, "controller", ("controller",), steps)


def compute_phase_with_early_packages():
    def early(ctx, host):
        return [Packages("02-install", ["demo"])]

    def steps(ctx, host):
        return [*early(ctx, host), File("03-conf", "/etc/demo", "y\n")]
    return Phase(44, "compute", ("compute",), steps, early=early)


def test_early_steps_begin_when_the_phase_they_need_has_ended_and_their_phase_joins_them(default_inventory,
                                                                                        tmp_path):
    ctx = Context(default_inventory, Secrets(tmp_path / "s"))
    pool = FakePool(default_inventory)
    compute = compute_phase_with_early_packages()
    result = apply_phase(controller_phase(), ctx, pool, ahead=[compute])
    assert list(result.hosts) == ["controller"] and result.ahead == []   # begun after it, not joined yet
    assert sorted(ctx.early) == ["compute1", "compute2", "compute3", "compute4"]
    later = apply_phase(compute, ctx, pool)
    assert [r.phase for r in later.ahead] == ["p44 early"]
    assert sorted(later.ahead[0].hosts) == ["compute1", "compute2", "compute3", "compute4"]
    assert all((r.changed, r.unchanged) == (1, 1) for r in later.hosts.values())  # packages: already there
    changes = pool["compute1"].state.changes
    assert "apt-get" in changes[0] and changes[1:] == ["write /etc/demo"] and ctx.early == {}


def test_a_failing_early_step_fails_only_its_own_phase_which_names_it(default_inventory, tmp_path):
    ctx = Context(default_inventory, Secrets(tmp_path / "s"))
    pool = FakePool(default_inventory, compute2=FakeHost(fail_on="apt-get"))
    result = apply_phase(controller_phase(), ctx, pool, ahead=[compute_phase_with_early_packages()])
    assert not result.failed
    with pytest.raises(PhaseError, match=r"\[compute2\] step 02-install") as err:
        apply_phase(compute_phase_with_early_packages(), ctx, pool)
    assert "step 02-install" in err.value.result.ahead[0].hosts["compute2"].error


def test_early_steps_wait_until_the_phases_they_need_are_applied(default_inventory, tmp_path):
    ctx = Context(default_inventory, Secrets(tmp_path / "s"))
    pool = FakePool(default_inventory)
    apply_phase(controller_phase(number=5), ctx, pool, ahead=[compute_phase_with_early_packages()])
    assert ctx.early == {}  # early_after=6: phase 6 is one they need
    assert not any("apt-get" in c for c in pool["compute1"].state.changes)


def test_a_phase_waits_for_the_early_steps_running_on_its_hosts(default_inventory, tmp_path):
    """While compute1's early install runs, the next phase touches nothing there: not even a
    fact is read on compute1 before the install has ended."""
    read_meanwhile = threading.Event()
    installing = threading.Event()

    class Watched(FakeRemote):
        def read_facts(self, facts):
            if installing.is_set():
                read_meanwhile.set()
            return super().read_facts(facts)

        def run(self, command, **kw):
            if "apt-get" in str(command) and not installing.is_set():
                installing.set()
                read_meanwhile.wait(1)   # a phase that does not wait reads compute1's facts meanwhile
                installing.clear()
            return super().run(command, **kw)

    ctx = Context(default_inventory, Secrets(tmp_path / "s"))
    pool = FakePool(default_inventory)
    pool["compute1"] = Watched(default_inventory.host("compute1"))
    apply_phase(controller_phase(), ctx, pool, ahead=[compute_phase_with_early_packages()])
    assert installing.wait(5)
    apply_phase(demo_phase(), ctx, pool)
    assert not read_meanwhile.is_set()
    assert pool["compute1"].state.changes[-1] == "write /etc/demo"


def test_early_steps_of_several_later_phases_run_in_phase_order(default_inventory, tmp_path):
    def gateway_early(ctx, host):
        return [Packages("01-agents", ["agents"])]
    gateway = Phase(45, "gateway", ("gateway",), gateway_early, early=gateway_early)
    ctx = Context(default_inventory, Secrets(tmp_path / "s"))
    pool = FakePool(default_inventory)
    apply_phase(controller_phase(), ctx, pool, ahead=[compute_phase_with_early_packages(), gateway])
    result = apply_phase(compute_phase_with_early_packages(), ctx, pool)
    assert [r.phase for r in result.ahead] == ["p44 early", "p45 early"]
    assert list(result.ahead[1].hosts) == [default_inventory.gateway.name]
    installs = [c for c in pool[default_inventory.gateway.name].state.changes if "apt-get" in c]
    assert ["demo" in installs[0], "agents" in installs[1]] == [True, True]
