"""Scaling the GlusterFS volumes out (deploy/gluster_growth.py, phase 03), on fake hosts: a
controller converged for the default four computes meets an inventory that gained or lost hosts."""
import pytest
import yaml

from deploy.facts_gluster import (GlusterBricks, GlusterBricksOnline, GlusterHealPending, GlusterPeerStates,
                                  GlusterPool, GlusterRebalanced, GlusterVolume, replica_count)
from deploy.gluster_growth import Growth, growth
from deploy.inventory import InventoryError, load_inventory
from deploy.phases import Context, all_phases
from deploy.phases.p03_glusterfs_controller import healed
from deploy.remote import Result
from deploy.runner import PreconditionError, apply_host, check_preconditions
from deploy.secrets import Secrets
from scenarios.day2 import file_difference
from tests.conftest import ROOT
from tests.fakes import FakeRemote
from tests.phase_cases import STATUS_LOCK, converge
from tests.test_phases import actions

P03 = next(p for p in all_phases() if p.id == "p03")
VOLUMES = ("vm-instances", "cinder-volumes")
LEAF = {"vm-instances": "brick", "cinder-volumes": "cinder-volumes-brick"}


def brick(host: str, volume: str) -> str:
    return f"{host}:/export/gluster/{LEAF[volume]}"


def inventory(tmp_path, computes: int, replica: int):
    """The default inventory with computes compute1..N (compute5 on .6 and so on) and this replica count."""
    data = yaml.safe_load((ROOT / "inventory.yaml").read_text())
    hosts = [h for h in data["hosts"] if "compute" not in h["roles"] or int(h["name"][7:]) <= computes]
    for n in range(5, computes + 1):
        hosts.append({"name": f"compute{n}", "address": f"192.168.0.{n + 1}", "roles": ["compute"],
                      "interfaces": {"management": "eth1"}})
    data["hosts"], data["glusterfs"]["replica"] = hosts, replica
    path = tmp_path / f"inventory-{computes}x{replica}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_inventory(path, check_keys=False)


def controller_of_four(ctx_default):
    """The controller converged for the default inventory: volumes 1 x 4 over compute1-4."""
    return converge(P03, ctx_default, ctx_default.inventory.host("controller"))


@pytest.fixture
def default_ctx(default_inventory, tmp_path):
    return Context(default_inventory, Secrets(tmp_path / "s.yaml"))


def grown(tmp_path, default_ctx, computes: int, replica: int):
    """The new inventory's phase-03 steps and the four-compute controller, its pool already holding the
    new hosts (their probes are shown apart) and the added bricks online once added."""
    inv = inventory(tmp_path, computes, replica)
    ctx = Context(inv, default_ctx.secrets)
    remote = controller_of_four(default_ctx)
    remote.host = inv.host("controller")
    names = [h.name for h in inv.with_role("compute")]
    remote.state.override = {GlusterPool(): frozenset({"localhost", *names}),
                             GlusterPeerStates(): ("Peer in Cluster (Connected)",) * len(names),
                             **{GlusterBricksOnline(v, STATUS_LOCK): len(names) for v in VOLUMES}}
    steps = P03.steps(ctx, inv.host("controller"))
    return ctx, remote, steps


def wanted_actions(ctx, remote, steps):
    return [a for _, acts in actions(steps, remote.read_facts([f for s in steps for f in s.facts()])) for a in acts]


# ------------------------------------------------------------------ the rules
def test_growth_rules():
    four = [f"c{i}:/b" for i in range(1, 5)]
    eight = [f"c{i}:/b" for i in range(1, 9)]
    assert growth("v", four, 4, four, 4) == Growth((), 4, False)
    assert growth("v", four, 4, eight, 4) == Growth(tuple(eight[4:]), 4, True)
    assert growth("v", four, 4, four + ["c5:/b"], 5) == Growth(("c5:/b",), 5, False)
    # 2 x 2 to 2 x 3: one brick per set
    assert growth("v", four, 2, four + ["c5:/b", "c6:/b"], 3) == Growth(("c5:/b", "c6:/b"), 3, False)


@pytest.mark.parametrize("current, now, wanted, replica, says", [
    (4, 4, 6, 4, "v: 4 bricks in 1 replica sets of 4, the inventory wants 6 bricks with replica 4: 2 new bricks "
                 "are not whole replica sets of 4; add compute hosts 4 at a time"),
    (4, 4, 4, 2, "the deploy never lowers the replica count"),
    (4, 2, 9, 3, "raising the replica count adds 1 brick(s) to each of the 2 sets (2 new bricks, not 5); raise "
                 "the replica count and add replica sets in separate runs"),
    (4, 4, 3, 3, "v: bricks c4:/b are not the inventory's; the deploy removes no brick"),
], ids=["not-whole-sets", "replica-lowered", "raise-and-grow", "brick-gone"])
def test_growth_refusals_say_what_to_do(current, now, wanted, replica, says):
    from deploy.steps import Refused
    with pytest.raises(Refused) as refused:
        growth("v", [f"c{i}:/b" for i in range(1, current + 1)], now, [f"c{i}:/b" for i in range(1, wanted + 1)],
               replica)
    assert says in str(refused.value)


def test_replica_count_and_bricks_as_gluster_prints_them():
    assert [replica_count({"Number of Bricks": n}) for n in ("1 x 4 = 4", "2 x 4 = 8", "1 x (2 + 1) = 3", "4")] == \
        [4, 4, 3, 1]
    assert replica_count(None) == 0
    info = ("Volume Name: v\nType: Distributed-Replicate\nNumber of Bricks: 2 x (2 + 1) = 6\nBricks:\n"
            "Brick1: c1:/export/my bricks/b\nBrick1 VG: vg0\nBrick2: c2:/e/b\nBrick3: c3:/e/b (arbiter)\n"
            "Options Reconfigured:\nstorage.owner-uid: 64060\n")
    assert GlusterBricks("v").parse(Result("c", "f", 0, info, "")) == ("c1:/export/my bricks/b", "c2:/e/b", "c3:/e/b")
    assert GlusterBricks("v").parse(Result("c", "f", 1, "Volume v does not exist\n", "")) == ()
    # `gluster volume rebalance v status`, as cli-rpc-ops.c prints it (not-started nodes are left out)
    row = "%40s %16s %13s %13s %13s %13s %20s %8s"
    status = "\n".join([row % ("Node", "Rebalanced-files", "size", "scanned", "failures", "skipped", "status",
                               "run time in h:m:s"),
                        row % ("localhost", 0, "0Bytes", 3, 0, 0, "completed", "0:00:01"),
                        row % ("compute5", 2, "1.0MB", 9, 0, 0, "in progress", "0:00:04"),
                        row % ("compute6", 0, "0Bytes", 0, 1, 0, "failed", "0:00:00"),
                        "volume rebalance: v: success"])
    assert GlusterRebalanced("v").parse(Result("c", "f", 0, status, "")) == {"localhost", "compute5"}
    assert GlusterRebalanced("v").parse(Result("c", "f", 1, "", "Rebalance not started for volume v.")) == set()


# ------------------------------------------------------------------ phase 03 on the grown inventory
def test_unchanged_inventory_changes_nothing_and_passes_its_preconditions(default_ctx):
    remote = controller_of_four(default_ctx)
    steps = P03.steps(default_ctx, default_ctx.inventory.host("controller"))
    assert wanted_actions(default_ctx, remote, steps) == []
    check_preconditions([P03], default_ctx, {"controller": remote})   # raises on any problem
    assert not any(isinstance(s, type(steps[0])) and "rebalance" in s.command for s in steps)


def test_one_replica_set_added_gets_add_brick_then_a_rebalance(tmp_path, default_ctx):
    ctx, remote, steps = grown(tmp_path, default_ctx, 8, 4)
    check_preconditions([P03], ctx, {"controller": remote})
    new = {v: " ".join(brick(f"compute{n}", v) for n in range(5, 9)) for v in VOLUMES}
    assert wanted_actions(ctx, remote, steps) == [
        f"gluster --mode=script volume add-brick vm-instances replica 4 {new['vm-instances']}",
        "gluster --mode=script volume rebalance vm-instances start",
        f"gluster --mode=script volume add-brick cinder-volumes replica 4 {new['cinder-volumes']}",
        "gluster --mode=script volume rebalance cinder-volumes start"]
    # the volumes grown and rebalanced on every brick host (the controller holds none): nothing more
    for v in VOLUMES:
        remote.state.override[GlusterBricks(v)] = tuple(brick(f"compute{n}", v) for n in range(1, 9))
        remote.state.override[GlusterVolume(v)] = {**remote.state.table[GlusterVolume(v)],
                                                   "Number of Bricks": "2 x 4 = 8"}
        remote.state.override[GlusterRebalanced(v)] = frozenset(f"compute{n}" for n in range(1, 9))
    assert wanted_actions(ctx, remote, steps) == []
    # a rebalance that ran before compute8 joined does not count for it
    remote.state.override[GlusterRebalanced("vm-instances")] = frozenset(f"compute{n}" for n in range(1, 8))
    assert wanted_actions(ctx, remote, steps) == ["gluster --mode=script volume rebalance vm-instances start"]


def test_new_hosts_are_probed_before_their_bricks_are_added(tmp_path, default_ctx):
    ctx, remote, steps = grown(tmp_path, default_ctx, 8, 4)
    del remote.state.override[GlusterPool()]
    got = wanted_actions(ctx, remote, steps)
    assert got[:4] == [f"gluster --mode=script peer probe compute{n}" for n in range(5, 9)]
    assert got[4].startswith("gluster --mode=script volume add-brick vm-instances replica 4 compute5:")


def test_replica_raised_adds_one_brick_per_new_host_without_rebalance(tmp_path, default_ctx):
    ctx, remote, steps = grown(tmp_path, default_ctx, 5, 5)
    check_preconditions([P03], ctx, {"controller": remote})
    assert wanted_actions(ctx, remote, steps) == [
        f"gluster --mode=script volume add-brick {v} replica 5 {brick('compute5', v)}" for v in VOLUMES]
    assert not [s for s in steps if "rebalance" in s.key]


def test_a_brick_on_a_host_the_inventory_lost_stops_the_run_before_any_change(tmp_path, default_ctx):
    inv = inventory(tmp_path, 3, 3)
    ctx = Context(inv, default_ctx.secrets)
    controller = controller_of_four(default_ctx)
    controller.state.changes.clear()
    others = {h.name: FakeRemote(h) for h in inv.hosts if h.name != "controller"}
    with pytest.raises(PreconditionError) as refused:
        check_preconditions(all_phases(), ctx, {"controller": controller, **others})
    lines = str(refused.value).splitlines()
    assert lines[0] == "refused before changing anything:"
    assert len(lines) == 2, lines
    line = lines[1]
    assert line.startswith("controller: compute4 holds GlusterFS bricks but is not in the inventory; "
                           "the deploy removes no brick. Drain it first: ")
    for part in ("python -m deploy drain compute4 (disables its nova-compute, live-migrates its guests away)",
                 "gluster volume remove-brick vm-instances replica 3 compute4:/export/gluster/brick force",
                 "gluster volume remove-brick cinder-volumes replica 3 "
                 "compute4:/export/gluster/cinder-volumes-brick force",
                 "gluster peer detach compute4", "Or put compute4 back in the inventory"):
        assert part in line
    assert controller.state.changes == [] and all(r.state.changes == [] for r in others.values())
    # the step refuses too, should it ever be reached without the preconditions (compute4 no longer a peer)
    controller.state.override = {GlusterPeerStates(): ("Peer in Cluster (Connected)",) * 3}
    result = apply_host(controller, P03.steps(ctx, inv.host("controller")))
    assert "bricks compute4:/export/gluster/brick are not the inventory's" in result.error
    assert not any("remove-brick" in c or "add-brick" in c for c in controller.state.changes)


def test_a_whole_replica_set_gone_is_drained_with_remove_brick_start_and_commit(tmp_path, default_ctx):
    ctx, remote, _ = grown(tmp_path, default_ctx, 4, 4)
    for v in VOLUMES:
        remote.state.override[GlusterBricks(v)] = tuple(brick(f"compute{n}", v) for n in range(1, 9))
        remote.state.override[GlusterVolume(v)] = {**remote.state.table[GlusterVolume(v)],
                                                   "Number of Bricks": "2 x 4 = 8"}
    with pytest.raises(PreconditionError) as refused:
        check_preconditions([P03], ctx, {"controller": remote})
    lines = str(refused.value).splitlines()[1:]
    assert [line.split(" holds")[0] for line in lines] == [f"controller: compute{n}" for n in range(5, 9)]
    gone = " ".join(brick(f"compute{n}", "vm-instances") for n in range(5, 9))
    assert (f"gluster volume remove-brick vm-instances {gone} start, then its status until completed, then "
            f"gluster volume remove-brick vm-instances {gone} commit") in lines[0]


def test_a_peer_the_inventory_lost_without_bricks_is_named(default_ctx):
    remote = controller_of_four(default_ctx)
    remote.state.override = {GlusterPool(): frozenset({"localhost", "compute1", "compute2", "compute3", "compute4",
                                                       "old9"})}
    with pytest.raises(PreconditionError, match=r"controller: old9 is in GlusterFS's trusted pool but not in the "
                                                r"inventory \(it holds no brick\): detach it \(gluster peer detach "
                                                r"old9\)"):
        check_preconditions([P03], default_ctx, {"controller": remote})


def test_a_lowered_replica_count_is_refused_before_any_change(tmp_path, default_ctx):
    ctx, remote, _ = grown(tmp_path, default_ctx, 4, 2)
    with pytest.raises(PreconditionError, match="controller: vm-instances: 4 bricks in 1 replica sets of 4, the "
                                                "inventory wants 4 bricks with replica 2: the deploy never lowers"):
        check_preconditions([P03], ctx, {"controller": remote})


def test_five_computes_with_replica_4_is_refused_by_the_inventory(tmp_path):
    with pytest.raises(InventoryError, match=r"glusterfs.replica: 4 does not fit the 5 compute hosts \(their number "
                                             r"must be a multiple of the replica count: 4 or 8 compute hosts for "
                                             r"replica 4, or replica 5 for these 5\)"):
        inventory(tmp_path, 5, 4)


def test_the_brick_comparison_names_what_the_new_brick_lacks_and_holds_otherwise():
    old = ["./_base/abc 2147483648", "./compute_nodes 120", "./locks/nova-abc 0"]
    assert file_difference(list(old), old) == ""
    said = file_difference(["./_base/abc 1048576", "./compute_nodes 120", "./stray 3"], old)
    assert said == ("2 only on the old brick: ./_base/abc 2147483648, ./locks/nova-abc 0; "
                    "2 only on the new: ./_base/abc 1048576, ./stray 3")
    many = [f"./f{i} 1" for i in range(10)]
    assert file_difference([], many, shown=2) == "10 only on the old brick: ./f0 1, ./f1 1 ..."


def test_pending_heal_is_awaited_asking_the_daemon_for_a_heal_before_each_poll(default_inventory):
    """A brick with entries pending: the await runs `heal VOL` before each poll (the daemon may
    sleep 600 s after a round that healed nothing) and ends once no brick has an entry pending."""
    pending = GlusterHealPending("vm-instances")

    class Healing(FakeRemote):
        """Every heal asked for heals half of what is pending."""
        def run(self, command, **kw):
            result = super().run(command, **kw)
            left = self.state.table[pending]
            self.state.table[pending] = {b: n // 2 for b, n in left.items()}
            return result

    remote = Healing(default_inventory.host("controller"))
    remote.state.table[pending] = {brick("compute1", "vm-instances"): 5, brick("compute5", "vm-instances"): 0}
    step = healed("vm-instances", interval=0.01)
    result = apply_host(remote, [step])
    assert result.error is None and result.steps[0].changed
    assert remote.state.changes == ["gluster --mode=script volume heal vm-instances"] * 3   # 5 -> 2 -> 1 -> 0


@pytest.mark.parametrize("seen", [{}, {brick("compute1", "vm-instances"): 0, brick("compute5", "vm-instances"): -1}],
                         ids=["heal info failed", "a brick not answering"])
def test_a_heal_info_that_cannot_tell_is_not_healed(seen):
    step = healed("vm-instances")
    assert step.diff({GlusterHealPending("vm-instances"): seen}, set()).changed
    assert not step.diff({GlusterHealPending("vm-instances"): {brick("compute1", "vm-instances"): 0}}, set()).changed
