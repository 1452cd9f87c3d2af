"""Every phase, every host of the default inventory, against fake hosts: the
first converge acts, a second converge (Molecule's idempotence test) changes
nothing and costs one round trip per host."""
import pytest

from deploy.phases import Context, all_phases
from deploy.runner import apply_host
from deploy.secrets import Secrets
from deploy.steps import Command
from tests.fakes import FakeRemote

PHASES = all_phases()


@pytest.fixture
def ctx(default_inventory, tmp_path):
    context = Context(default_inventory, Secrets(tmp_path / "s.yaml"))
    for host in default_inventory.hosts:
        context.facts[host.name] = {"virt_type": "qemu", "container": "systemd-nspawn"}
    return context


@pytest.mark.parametrize("phase", PHASES, ids=[p.title for p in PHASES])
def test_second_converge_changes_nothing(phase, ctx):
    for host in phase.targets(ctx.inventory):
        steps = phase.steps(ctx, host)
        remote = FakeRemote(host)
        remote.state.guards = {s.unless: s.command for s in steps if isinstance(s, Command) and s.unless}
        first = apply_host(remote, steps)
        assert first.error is None, f"{host.name}: {first.error}"
        remote.state.changes.clear()
        remote.round_trips = 0
        second = apply_host(remote, phase.steps(ctx, host))
        changed = [f"{s.step}: {s.reason}" for s in second.steps if s.changed]
        assert not changed, f"{phase.title} on {host.name} changed again: {changed}"
        assert remote.round_trips == 1


@pytest.mark.parametrize("phase", PHASES, ids=[p.title for p in PHASES])
def test_steps_are_named_after_report_scripts(phase, ctx):
    for host in phase.targets(ctx.inventory):
        for step in phase.steps(ctx, host):
            number, _, name = step.script.partition("-")
            assert number.isdigit() and len(number) == 2 and name, f"{phase.title}: step script {step.script!r}"


def test_phases_in_report_order():
    assert [p.title for p in PHASES][:6] == ["01-network-gateway", "02-glusterfs-all", "03-glusterfs-controller",
                                           "04-glusterfs-all", "05-kvm-compute", "06-openstack-all"]
