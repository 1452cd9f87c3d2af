"""The live-migration waiter (deploy.migration, the scenarios' and drain's),
drain and undrain (deploy.drain) and their command line, against a fake Nova
(tests/fake_nova.py): nothing is contacted."""
from __future__ import annotations

import pytest
from novaclient import exceptions as nova_exceptions

from deploy.__main__ import drain_command, parse_args
from deploy.inventory import load_inventory
from deploy.drain import DEFAULT_REASON, DrainFailed, DrainRefused, drain, undrain
from deploy.migration import live_migrate
from deploy.waits import WaitFailed, WaitTimeout
from tests.fake_nova import FakeNova

FAST = {"interval": 0.01}


def quiet(_line: str) -> None:
    pass


def test_the_waiter_returns_once_this_migration_completed_and_the_server_is_idle_elsewhere():
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.boot("vm1", "compute1")
    nova.scripts["id-vm1"] = ["queued", "preparing", "running", "running", "completed"]
    seconds, host = live_migrate(nova, "id-vm1", **FAST)
    assert host == "compute2" and seconds >= 0
    assert ("live_migrate", "id-vm1", None, False) in nova.calls
    # the way back: the record of the way there (completed) must not end the wait at once
    seconds, host = live_migrate(nova, nova.servers.get("id-vm1"), to="compute1", **FAST)
    assert host == "compute1" and [m.status for m in nova.migrations_] == ["completed", "completed"]


def test_an_earlier_failed_migration_of_the_server_does_not_end_the_wait():
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.boot("vm1", "compute1")
    nova.scripts["id-vm1"] = ["running", "error"]
    with pytest.raises(WaitFailed):
        live_migrate(nova, "id-vm1", timeout=30, **FAST)
    nova.scripts["id-vm1"], nova.unseen["id-vm1"] = ["running", "completed"], 3  # listed three looks late
    assert live_migrate(nova, "id-vm1", timeout=30, **FAST)[1] == "compute2"


@pytest.mark.parametrize("state", ["error", "failed", "cancelled"])
def test_the_waiter_gives_up_at_once_on_a_failed_migration_naming_the_server(state):
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.boot("vm1", "compute1")
    nova.scripts["id-vm1"] = ["running", state, "completed"]  # never reached: the wait ended on `state`
    with pytest.raises(WaitFailed, match=rf"vm1 \(id-vm1\) live-migrated away from compute1: it went to '{state}'"):
        live_migrate(nova, "id-vm1", timeout=30, **FAST)


def test_the_waiter_gives_up_at_once_on_a_server_in_error():
    nova = FakeNova.with_computes("compute1", "compute2")
    vm = nova.boot("vm1", "compute1")
    nova.scripts["id-vm1"] = ["running"]
    live = nova.step

    def step(migration):
        live(migration)
        vm.status = "ERROR"
    nova.step = step
    with pytest.raises(WaitFailed, match=r"it went to 'ERROR' \(server ERROR, task migrating on compute1\)"):
        live_migrate(nova, "id-vm1", timeout=30, **FAST)


def test_the_waiter_times_out_naming_the_server_and_the_last_state():
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.boot("vm1", "compute1")
    nova.scripts["id-vm1"] = ["running"]
    with pytest.raises(WaitTimeout, match=r"vm1 \(id-vm1\) live-migrated away from compute1; last seen: running"):
        live_migrate(nova, "id-vm1", timeout=0.2, **FAST)


def test_drain_disables_with_the_reason_and_moves_every_guest_of_every_project():
    nova = FakeNova.with_computes("compute1", "compute2", "compute3")
    for name in ("a", "b"):
        nova.boot(name, "compute2")
    nova.boot("elsewhere", "compute1")
    said = []
    moved = drain(nova, "compute2", "kernel update", say=said.append, **FAST)
    assert nova.calls[1] == ("disable_log_reason", "uuid-compute2", "kernel update")
    assert nova.service("compute2").disabled_reason == "kernel update"
    assert [(m.name, m.id, m.source, m.target) for m in moved] == [
        ("a", "id-a", "compute2", "compute1"), ("b", "id-b", "compute2", "compute1")]
    assert [c for c in nova.calls if c[0] == "live_migrate"] == [("live_migrate", "id-a", None, False),
                                                                 ("live_migrate", "id-b", None, False)]
    assert ("servers.list", {"all_tenants": 1, "host": "compute2"}, -1) in nova.calls
    assert not nova.servers.list(search_opts={"all_tenants": 1, "host": "compute2"})
    assert moved[0].line().startswith("moved a (id-a) from compute2 to compute1 in ")
    assert "compute2: nova-compute disabled (reason: kernel update)" in said[0]


def test_drain_fails_at_once_on_a_failed_migration_naming_the_guest_and_moves_no_more():
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.boot("a", "compute2")
    nova.boot("b", "compute2")
    nova.scripts["id-a"] = ["running", "error"]
    with pytest.raises(DrainFailed, match=r"guest a \(id-a\): gave up waiting .*'error'.*nova-compute's log on compute2"):
        drain(nova, "compute2", say=quiet, timeout_per_guest=30, **FAST)
    assert [c[1] for c in nova.calls if c[0] == "live_migrate"] == ["id-a"]


def test_drain_names_the_guest_when_nova_refuses_its_migration():
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.boot("a", "compute2")

    def refuse(server, host=None, block_migration=None):
        raise nova_exceptions.Conflict(409, "Cannot 'os-migrateLive' instance while it is in task_state migrating")
    nova.servers.live_migrate = refuse
    with pytest.raises(DrainFailed, match=r"guest a \(id-a\): Nova refused its live migration: Cannot"):
        drain(nova, "compute2", say=quiet, **FAST)


def test_drain_refuses_a_host_nova_does_not_list_naming_the_computes_it_has():
    nova = FakeNova.with_computes("compute1", "compute2")
    with pytest.raises(DrainRefused, match=r"^Nova lists no nova-compute on compute9; Nova's computes: compute1, "
                                           r"compute2$"):
        drain(nova, "compute9", say=quiet)
    with pytest.raises(DrainRefused, match=r"on controller; Nova's computes"):  # a nova-scheduler host is no compute
        undrain(nova, "controller")
    with pytest.raises(DrainRefused, match=r"compute5 \(a compute of the inventory: is it deployed"):
        drain(nova, "compute5", inventory_computes=["compute5"], say=quiet)
    assert not [c for c in nova.calls if c[0] != "servers.list"]


@pytest.mark.parametrize("status", ["SHUTOFF", "PAUSED", "MIGRATING"])
def test_drain_refuses_a_guest_that_is_not_active_by_name_and_changes_nothing(status):
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.boot("running", "compute2")
    nova.boot("asleep", "compute2", status=status)
    with pytest.raises(DrainFailed, match=rf"guest asleep \(id-asleep\) is {status} .*nothing was changed"):
        drain(nova, "compute2", say=quiet, **FAST)
    assert nova.service("compute2").status == "enabled"
    assert not [c for c in nova.calls if c[0] != "servers.list"]


def test_drain_refuses_to_migrate_off_a_host_whose_service_is_down():
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.service("compute2").state = "down"
    nova.boot("a", "compute2")
    with pytest.raises(DrainFailed, match=r"nova-compute is down: live migration needs it up; guests there: a \(id-a\)"):
        drain(nova, "compute2", say=quiet, **FAST)
    nova.servers_.clear()   # an empty host that is down drains: there is nothing to move
    assert drain(nova, "compute2", say=quiet, **FAST) == []
    assert nova.service("compute2").status == "disabled"


def test_drain_fails_naming_a_server_still_on_the_host_at_the_end():
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.boot("a", "compute2")
    real_live_migrate = nova.servers.live_migrate

    def and_one_more_lands(server, host=None, block_migration=None):
        real_live_migrate(server, host, block_migration)
        nova.boot("late", "compute2")   # placed before the disable took effect
    nova.servers.live_migrate = and_one_more_lands
    with pytest.raises(DrainFailed, match=r"still on compute2 after the drain: late \(id-late, ACTIVE\); drain again"):
        drain(nova, "compute2", say=quiet, **FAST)


def test_draining_a_drained_empty_host_again_succeeds_and_says_so():
    nova = FakeNova.with_computes("compute1", "compute2")
    nova.boot("a", "compute2")
    assert len(drain(nova, "compute2", "maintenance", say=quiet, **FAST)) == 1
    said = []
    assert drain(nova, "compute2", "another reason", say=said.append, **FAST) == []
    assert said == ["compute2: nova-compute already disabled (reason: maintenance)",
                    "compute2: already empty: no server to move"]
    assert [c for c in nova.calls if c[0] == "disable_log_reason"] == [
        ("disable_log_reason", "uuid-compute2", "maintenance")]


def test_undrain_enables_and_clears_forced_down_and_says_when_there_was_nothing_to_do():
    nova = FakeNova.with_computes("compute1", "compute2")
    service = nova.service("compute2")
    service.status, service.disabled_reason, service.forced_down = "disabled", "maintenance", True
    lines = undrain(nova, "compute2")
    assert nova.calls == [("force_down", "uuid-compute2", False), ("enable", "uuid-compute2")]
    assert (service.status, service.forced_down, service.disabled_reason) == ("enabled", False, None)
    assert lines[:2] == ["compute2: nova-compute no longer forced down",
                         "compute2: nova-compute enabled (it was disabled: maintenance); the scheduler may place "
                         "guests there again"]
    assert lines[2] == "compute2: nova-compute now enabled, up"
    nova.calls.clear()
    service.state = "down"
    assert undrain(nova, "compute2")[0] == "compute2: nova-compute already enabled"
    assert nova.calls == []
    assert "now enabled, down (start it on the host: systemctl start nova-compute" in undrain(nova, "compute2")[1]


def test_the_command_line_of_drain_and_undrain():
    args = parse_args(["drain", "compute2"])
    assert (args.command, args.host, args.reason) == ("drain", "compute2", DEFAULT_REASON)
    args = parse_args(["drain", "compute2", "--reason", "disk swap", "--inventory", "lab.yaml"])
    assert (args.host, args.reason, args.inventory) == ("compute2", "disk swap", "lab.yaml")
    assert parse_args(["undrain", "compute2"]).reason is None
    assert parse_args(["apply"]).host is None


@pytest.mark.parametrize("argv, message", [
    (["drain"], "drain: HOST missing"),
    (["undrain"], "undrain: HOST missing"),
    (["undrain", "compute2", "--reason", "x"], "--reason: only with the command drain"),
    (["drain", "compute2", "--reason", ""], "--reason: 0 characters"),
    (["drain", "compute2", "--reason", "x" * 256], "--reason: 256 characters"),
    (["drain", "compute2", "--reason", "two\nlines"], "printable ones on one line"),
    (["apply", "compute2"], "compute2: a HOST only with drain or undrain"),
    (["drain", "compute2", "--until", "p05"], "--until: only with apply or plan"),
])
def test_the_command_line_refuses_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err.splitlines()[-1]


def test_the_command_exits_2_without_a_secrets_file_or_for_an_unknown_host_and_1_for_a_failed_guest(
        default_inventory, capsys, tmp_path):
    copy = tmp_path / "inventory.yaml"
    copy.write_text(default_inventory.path.read_text())
    # no secrets file beside the inventory: refused before anything is contacted
    assert drain_command(parse_args(["drain", "compute2"]), load_inventory(copy, check_keys=False)) == 2
    assert capsys.readouterr().err == (f"deploy: drain compute2: no secrets file {tmp_path}/inventory.secrets.yaml: "
                                       "deploy the cloud first (python -m deploy apply)\n")
    inventory = default_inventory
    nova = FakeNova.with_computes("compute1", "compute2")
    assert drain_command(parse_args(["undrain", "compute7"]), inventory, nova) == 2
    assert capsys.readouterr().err == ("deploy: undrain compute7: Nova lists no nova-compute on compute7; "
                                       "Nova's computes: compute1, compute2\n")
    nova.boot("off", "compute2", status="SHUTOFF")
    assert drain_command(parse_args(["drain", "compute2"]), inventory, nova) == 1
    assert capsys.readouterr().err.startswith("deploy: drain compute2: guest off (id-off) is SHUTOFF")
    nova.servers_.clear()
    nova.boot("a", "compute2")
    assert drain_command(parse_args(["drain", "compute2", "--reason", "fans"]), inventory, nova) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("moved a (id-a) from compute2 to compute1 in ")
    assert out[-1] == ("compute2: drained: 1 guest(s) moved, none left; its nova-compute stays disabled until: "
                       "python -m deploy undrain compute2")
    assert nova.service("compute2").disabled_reason == "fans"
    assert drain_command(parse_args(["undrain", "compute2"]), inventory, nova) == 0
    assert nova.service("compute2").status == "enabled"
