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
        def run_many(self, commands):
            barrier.wait()  # only passes if all four hosts ask at the same time
            return super().run_many(commands)

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
