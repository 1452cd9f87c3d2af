"""Steps against a fake host: the first apply acts, a second apply emits nothing."""
import pytest

from deploy.phases import Context
from deploy.phases.p01_network_gateway import steps as p01_steps
from deploy.runner import apply_host
from deploy.secrets import Secrets
from deploy.steps import Block, Command, File, Ini, Line, Packages, Service, Sysctl, ini_set
from tests.fakes import FakeHost, FakeRemote
from tests.phase_cases import converged


@pytest.fixture
def remote(default_inventory):
    return FakeRemote(default_inventory.host("compute1"))


def every_kind():
    conf = File("t", "/etc/demo.conf", "a = 1\n", mode="0640", owner="root", group="nova")
    return [
        Packages("t", ["iptables", "crudini"]),
        conf,
        Block("t", "/etc/hosts", "demo", ["1.2.3.4 x"]),
        Line("t", "/etc/hosts", "127.0.0.1 localhost", match=lambda l: l.startswith("127.0.0.1")),
        Ini("t", "/etc/nova/nova.conf", {"DEFAULT": {"my_ip": "192.168.0.1"}, "api": {"auth_strategy": "keystone"}}),
        Sysctl("t", "net.ipv4.ip_forward", "1"),
        Service("t", "demo.service", restart_on=[conf]),
    ]


def test_second_apply_of_every_step_emits_nothing(remote):
    first = apply_host(remote, every_kind())
    assert first.error is None and first.changed == 7
    remote.state.changes.clear()
    second = apply_host(remote, every_kind())
    assert second.error is None and second.changed == 0, [s.reason for s in second.steps if s.changed]
    assert remote.state.changes == []


def test_no_op_apply_costs_one_round_trip(remote):
    apply_host(remote, every_kind())
    remote.round_trips = 0
    apply_host(remote, every_kind())
    assert remote.round_trips == 1


def test_phase_01_is_idempotent_on_every_host(default_inventory, tmp_path):
    ctx = Context(default_inventory, Secrets(tmp_path / "s.yaml"))
    for host in default_inventory.hosts:
        remote = FakeRemote(host)
        steps = p01_steps(ctx, host)
        assert apply_host(remote, steps).changed > 0
        remote.state.table = converged("p01", host.name, steps)  # the NAT rules live, as the host now shows
        remote.state.changes.clear()
        assert apply_host(remote, p01_steps(ctx, host)).changed == 0, host.name
        assert remote.state.changes == []


def test_unchanged_reports_a_reason(remote):
    apply_host(remote, every_kind())
    second = apply_host(remote, every_kind())
    assert all(s.reason for s in second.steps)


def test_service_restarts_when_its_config_changed(remote):
    apply_host(remote, every_kind())
    remote.state.files["/etc/demo.conf"] = ("a = 2\n", "0640", "root", "nova")
    remote.state.changes.clear()
    apply_host(remote, every_kind())
    assert remote.state.changes == ["write /etc/demo.conf", "systemctl restart demo.service"]


def test_mode_and_owner_fixed_without_rewriting(remote):
    apply_host(remote, every_kind())
    remote.state.files["/etc/demo.conf"] = ("a = 1\n", "0644", "root", "root")
    remote.state.changes.clear()
    apply_host(remote, every_kind()[:2])
    assert remote.state.changes == ["chmod 0640 /etc/demo.conf", "chown root:nova /etc/demo.conf"]


def test_only_missing_packages_installed(remote):
    remote.state.packages = {"iptables"}
    apply_host(remote, [Packages("t", ["iptables", "crudini"])])
    assert len(remote.state.changes) == 1 and remote.state.changes[0].count("crudini") == 2
    assert " iptables" not in remote.state.changes[0]


def test_command_without_guard_says_it_is_not_idempotent(remote):
    step = Command("t", "echo hi")
    assert not step.idempotent
    result = apply_host(remote, [step])
    assert result.steps[0].reason == "not idempotent: runs every time"


def test_failing_step_is_named_and_stops_the_host(remote):
    remote.state.fail_on = "sysctl -q -w"
    result = apply_host(remote, every_kind())
    assert "t: sysctl net.ipv4.ip_forward=1" in result.error and "simulated failure" in result.error
    assert [s.step for s in result.steps][-1].startswith("t: /etc/nova/nova.conf")


def test_block_replaces_itself_and_keeps_the_rest():
    step = Block("t", "/etc/hosts", "m", ["a", "b"])
    once = step.transform("127.0.0.1 localhost\n")
    assert once == "127.0.0.1 localhost\n# BEGIN m\na\nb\n# END m\n"
    changed = Block("t", "/etc/hosts", "m", ["c"]).transform(once + "tail\n")
    assert changed == "127.0.0.1 localhost\n# BEGIN m\nc\n# END m\ntail\n"


def test_ini_set_keeps_comments_and_replaces_values():
    text = "[DEFAULT]\n# my_ip = 1.1.1.1\ndebug = true\n\n[database]\nconnection = sqlite://\n"
    out = ini_set(text, {"DEFAULT": {"my_ip": "10.0.0.1", "debug": None}, "database": {"connection": "mysql://x"},
                         "new": {"flag": True}})
    assert out == ("[DEFAULT]\n# my_ip = 1.1.1.1\nmy_ip = 10.0.0.1\n\n[database]\nconnection = mysql://x\n"
                   "\n[new]\nflag = true\n")
    assert ini_set(out, {"DEFAULT": {"my_ip": "10.0.0.1"}}) == out


def test_ini_set_without_sections():
    text = '# libvirtd.conf\n#auth_tcp = "sasl"\nlisten_tls = 0\n'
    out = ini_set(text, {"": {"auth_tcp": '"none"', "listen_tls": None}})
    assert out == '# libvirtd.conf\n#auth_tcp = "sasl"\nauth_tcp = "none"\n'
    assert ini_set(out, {"": {"auth_tcp": '"none"'}}) == out


def test_account_with_other_ids_is_moved_and_its_files_follow():
    from deploy.facts import AccountIds
    from deploy.remote import Result
    from deploy.steps import Account

    step = Account("00-ids", "nova", 64060, "nova", 64060, home="/var/lib/nova", shell="/bin/sh")
    # a package created nova first, as 108:114 (before the suite's ids phase)
    ids = AccountIds("nova", "nova")
    assert step.facts() == [ids]
    change = step.diff({ids: ids.parse(Result("controller", "getent", 0, "114 108:114\n", ""))}, set())
    commands = [a.command for a in change.actions]
    assert "groupmod --gid 64060 nova" in commands[0]
    assert "find / -xdev -gid 114 -exec chgrp -h 64060 '{}' +" in commands[1]
    assert "usermod --uid 64060 --gid 64060 nova" in commands[2]
    assert "find / -xdev -uid 108 -exec chown -h 64060 '{}' +" in commands[3]
    assert step.diff({ids: ids.parse(Result("controller", "getent", 0, "64060 64060:64060\n", ""))},
                     set()).actions == []


# The case of issue 24: a killed run's orphaned install started placement-api by
# its package scripts with the packaged configuration; the suite's config came later.
def placement(tmp_path, default_inventory):
    from deploy.services import placement as module
    return module.steps(Context(default_inventory, Secrets(tmp_path / "s.yaml")))


def settled(remote, steps) -> FakeRemote:
    """Placement's database synced and its API answering, as a converged controller
    shows them (tests/phase_cases.py): on the fake host nothing comes true by itself."""
    remote.state.table.update(converged("p07", "controller", steps))
    return remote


def configs(steps) -> list[str]:
    return [s.path for s in steps if hasattr(s, "path")]


def test_a_service_started_before_its_config_was_written_is_restarted_by_the_next_run(tmp_path, default_inventory):
    steps = placement(tmp_path, default_inventory)
    remote = settled(FakeRemote(default_inventory.host("controller")), steps)
    apply_host(remote, steps)
    # the run that wrote the config died before restarting; the unit runs since before the write
    remote.state.unit_started["placement-api"] = min(remote.state.mtimes[p] for p in configs(steps)) - 60
    remote.state.changes.clear()
    result = apply_host(remote, steps)
    assert remote.state.changes == ["systemctl restart placement-api"]
    assert any("configuration newer than the running service" in s.reason for s in result.steps)
    remote.state.changes.clear()
    assert apply_host(remote, steps).changed == 0      # restarted after the write: nothing more


def test_a_service_a_package_started_is_restarted_when_the_suite_writes_its_config(tmp_path, default_inventory):
    steps = placement(tmp_path, default_inventory)
    remote = settled(FakeRemote(default_inventory.host("controller")), steps)
    remote.state.packages = {"placement-api"}
    remote.state.units["placement-api"] = ["enabled", "active"]   # by the package's own scripts
    remote.state.unit_started["placement-api"] = remote.state.tick()
    apply_host(remote, steps)
    assert "systemctl restart placement-api" in remote.state.changes
    assert "systemctl start placement-api" not in remote.state.changes


@pytest.mark.parametrize("state", ["activating", "reloading"])
def test_a_service_still_starting_with_an_old_config_is_restarted_not_started(tmp_path, default_inventory, state):
    steps = placement(tmp_path, default_inventory)
    remote = settled(FakeRemote(default_inventory.host("controller")), steps)
    apply_host(remote, steps)
    remote.state.units["placement-api"] = ["enabled", state]   # e.g. crash-looping on the packaged ini
    remote.state.unit_started["placement-api"] = min(remote.state.mtimes[p] for p in configs(steps)) - 60
    remote.state.changes.clear()
    apply_host(remote, steps)
    assert remote.state.changes == ["systemctl restart placement-api"]


def _start_command_exit(tmp_path, start_rc: int, state: str) -> int:
    """The start action's shell, with a `systemctl` that fails its start and reports `state`."""
    import stat
    import subprocess
    from deploy.steps.services import start
    fake = tmp_path / "systemctl"
    fake.write_text(f"#!/bin/sh\ncase $1 in start) exit {start_rc};; is-active) echo {state};; esac\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    command = start("odd unit;name.service")[0].command
    return subprocess.run(["sh", "-c", command], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, timeout=10).returncode


@pytest.mark.parametrize("start_rc,state,expected", [(0, "active", 0), (1, "activating", 0), (1, "active", 0),
                                                     (1, "failed", 1), (1, "inactive", 1)])
def test_a_failed_start_counts_only_while_systemd_restarts_the_unit(tmp_path, start_rc, state, expected):
    assert _start_command_exit(tmp_path, start_rc, state) == expected


def test_the_start_is_awaited_until_active_and_a_failed_unit_ends_the_wait(remote):
    from deploy.facts import UnitInfo
    from deploy.steps.base import Refused
    from deploy.steps.services import start
    awaited = start("libvirtd.service")[1].await_check
    info = lambda active: UnitInfo("enabled", active, False, 0, 0)  # noqa: E731
    assert awaited.holds({awaited.facts[0]: info("active")})
    assert not awaited.holds({awaited.facts[0]: info("activating")})
    with pytest.raises(Refused, match="libvirtd.service is failed after its start: see journalctl -u libvirtd.service"):
        awaited.holds({awaited.facts[0]: info("failed")})
    first = apply_host(remote, [Service("t", "demo.service")])
    assert first.error is None and remote.state.units["demo.service"][1] == "active"
