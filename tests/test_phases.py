"""Every phase, every host of the default inventory, as data (facts in, actions
out, like pyinfra's operation tests): a bare host gets what the plan shows; a
converged host (tests/phase_cases.py) gets nothing and costs one round trip;
and the guard fact of each step, flipped alone on a converged host, makes that
step act (a mutation test: a guard a step ignores, or reads wrongly, is caught)."""
import pytest

from deploy.phases import Context, all_phases
from deploy.runner import apply_host
from deploy.secrets import Secrets
from tests.phase_cases import converge

PHASES = all_phases()


@pytest.fixture
def ctx(default_inventory, tmp_path):
    context = Context(default_inventory, Secrets(tmp_path / "s.yaml"))
    for host in default_inventory.hosts:
        context.facts[host.name] = {"virt_type": "qemu", "container": "systemd-nspawn"}
    return context


def actions(steps, values) -> list[tuple[str, list[str]]]:
    """The runner's walk without a host: each step's diff on these fact values."""
    out, done = [], set()
    for step in steps:
        change = step.diff(values, done)
        if change.changed:
            done.add(step.key)
            out.append((step.key, [a.describe for a in change.actions]))
    return out


@pytest.mark.parametrize("phase", PHASES, ids=[p.title for p in PHASES])
def test_a_bare_host_gets_what_the_plan_shows(phase, ctx):
    for host in phase.targets(ctx.inventory):
        for step in phase.steps(ctx, host):
            got = step.diff(step.absent(), set())
            assert got.actions == step.fresh(), f"{host.name}: {step.key}: {got.reason}"


@pytest.mark.parametrize("phase", PHASES, ids=[p.title for p in PHASES])
def test_second_converge_changes_nothing(phase, ctx):
    for host in phase.targets(ctx.inventory):
        remote = converge(phase, ctx, host)
        remote.state.changes.clear()
        remote.round_trips = 0
        second = apply_host(remote, phase.steps(ctx, host))
        changed = [f"{s.step}: {s.reason}" for s in second.steps if s.changed]
        assert not changed, f"{phase.title} on {host.name} changed again: {changed}"
        assert remote.round_trips == 1


def mutations(phase, ctx) -> list[tuple[str, str, str, bool]]:
    """(host, step, flipped fact, caught) for the guard facts of every step."""
    out = []
    for host in phase.targets(ctx.inventory):
        remote = converge(phase, ctx, host)
        steps = phase.steps(ctx, host)
        facts = [f for s in steps for f in s.facts()]
        assert actions(steps, remote.read_facts(facts)) == [], f"{host.name}: not converged"
        for step in steps:
            for fact in step.guards():
                remote.state.override = {fact: fact.absent}
                acted = [key for key, _ in actions(steps, remote.read_facts(facts))]
                out.append((host.name, step.key, type(fact).__name__, step.key in acted))
        remote.state.override = {}
    return out


@pytest.mark.parametrize("phase", PHASES, ids=[p.title for p in PHASES])
def test_flipping_any_steps_guard_fact_makes_it_act(phase, ctx, record_testsuite_property):
    found = mutations(phase, ctx)
    lines = [f"{host}: {step} <- {fact} flipped: {'caught' if caught else 'NOT CAUGHT'}"
             for host, step, fact, caught in found]
    print(f"\n{phase.title}: {len(found)} mutations\n  " + "\n  ".join(lines))
    # a suite property: the CI servers' schema allows no properties inside a test case
    record_testsuite_property(f"mutations caught, {phase.title}", f"{sum(c for *_, c in found)}/{len(found)}")
    unguarded = [f"{host}: {step}" for host in [h.name for h in phase.targets(ctx.inventory)]
                 for step in [s.key for s in phase.steps(ctx, ctx.inventory.host(host)) if not s.guards()]]
    assert not unguarded, f"steps without a guard fact: {unguarded}"
    missed = [line for line, (*_, caught) in zip(lines, found) if not caught]
    assert found and not missed, f"{phase.title}: mutations not caught: {missed}"


@pytest.mark.parametrize("phase", PHASES, ids=[p.title for p in PHASES])
def test_steps_are_named_after_report_scripts(phase, ctx):
    for host in phase.targets(ctx.inventory):
        for step in phase.steps(ctx, host):
            number, _, name = step.script.partition("-")
            assert number.isdigit() and len(number) == 2 and name, f"{phase.title}: step script {step.script!r}"


def test_phases_in_report_order():
    assert [p.title for p in PHASES][:6] == ["01-network-gateway", "02-glusterfs-all", "03-glusterfs-controller",
                                           "04-glusterfs-all", "05-kvm-compute", "06-openstack-all"]


VOLUME = "vm-instances"
CASES = [  # (what the controller's volume shows, the only actions wanted), like pyinfra's operation cases
    ({"storage.owner-uid": None}, ["gluster --mode=script volume set vm-instances storage.owner-uid 64060"]),
    ({"storage.owner-gid": "0"}, ["gluster --mode=script volume set vm-instances storage.owner-gid 64060"]),
    ({"features.shard": None}, ["gluster --mode=script volume set vm-instances group virt"]),
    ({"Status": "Stopped"}, ["gluster --mode=script volume start vm-instances"]),
]


@pytest.mark.parametrize("edit, wanted", CASES, ids=["uid-missing", "gid-wrong", "group-key-missing", "stopped"])
def test_one_volume_fact_changed_gives_its_one_action(ctx, edit, wanted):
    from deploy.facts_gluster import GlusterVolume
    phase = next(p for p in PHASES if p.id == "p03")
    host = ctx.inventory.host("controller")
    remote = converge(phase, ctx, host)
    steps = phase.steps(ctx, host)
    info = dict(remote.state.table[GlusterVolume(VOLUME)])
    for key, value in edit.items():
        info.pop(key) if value is None else info.__setitem__(key, value)
    remote.state.override = {GlusterVolume(VOLUME): info}
    got = actions(steps, remote.read_facts([f for s in steps for f in s.facts()]))
    assert [a for _, acts in got for a in acts] == wanted
