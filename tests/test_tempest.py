"""tempest-config and tempest: the written tempest.conf (parsed back with
configparser) carries what the suite knows, under option names of Tempest
33.0.0 only; it is 0600; the CLI's arguments; the run's argv; results read
from subunit2junitxml's JUnit; Debian's packages installed when a tool is missing."""
from __future__ import annotations

import configparser
import os
import stat
from pathlib import Path

import pytest

from deploy import tempest, tempest_config
from deploy.__main__ import parse_args
from deploy.inventory import load_inventory
from deploy.secrets import Secrets

ROOT = Path(__file__).resolve().parent.parent
OPTIONS_33 = {tuple(line.split()) for line in (ROOT / "tests/data/tempest-33.0.0-options.txt").read_text().splitlines()
              if line and not line.startswith("#")}
LIBRARY_OPTIONS = {("DEFAULT", "log_dir"), ("DEFAULT", "log_file"), ("oslo_concurrency", "lock_path")}
FACTS = tempest_config.CloudFacts({"tiny": "11111111-aaaa", "debian-12": "22222222-bbbb"}, "33333333-cccc",
                                  Path("/cache/tiny.qcow2"), ("external-net", "router", "security-group"))


@pytest.fixture
def lab(tmp_path):
    path = tmp_path / "inventory.yaml"
    path.write_text((ROOT / "inventory.yaml").read_text())
    inventory = load_inventory(path, check_keys=False)
    return inventory, Secrets(inventory.secrets_path)


def written(lab, out: Path | None = None) -> tuple[Path, configparser.ConfigParser]:
    inventory, secrets = lab
    path = tempest_config.write(inventory, secrets, FACTS, out)
    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str
    conf.read(path)
    return path, conf


def test_config_carries_identity_credentials_images_flavors_network_and_dashboard(lab):
    inventory, secrets = lab
    _, conf = written(lab)
    assert conf["identity"]["uri_v3"] == f"http://{inventory.controller.address}:5000/v3"
    assert conf["auth"]["admin_username"] == "admin" and conf["auth"]["admin_project_name"] == "admin"
    assert conf["auth"]["admin_password"] == secrets.get("admin_keystone").reveal()
    # the small image for both: a rebuild to the debian image costs minutes under emulation
    assert (conf["compute"]["image_ref"], conf["compute"]["image_ref_alt"]) == ("11111111-aaaa", "11111111-aaaa")
    assert (conf["validation"]["image_ssh_user"], conf["validation"]["image_alt_ssh_user"]) == ("tiny", "tiny")
    assert (conf["compute"]["flavor_ref"], conf["compute"]["flavor_ref_alt"]) == ("1", "2")   # m1.tiny, m1.small
    assert conf["network"]["public_network_id"] == "33333333-cccc"
    assert conf["dashboard"]["dashboard_url"] == f"https://{inventory.gateway.public_address}/horizon/"
    assert conf["scenario"]["img_file"] == "/cache/tiny.qcow2"


def test_network_extensions_are_the_ones_neutron_lists():
    """Tempest's default `all` would expect DVR and L3 HA, which this cloud does not deploy."""
    inventory = load_inventory(ROOT / "inventory.yaml", check_keys=False)
    values = tempest_config.settings(inventory, Secrets(ROOT / "nonexistent-secrets.yaml", create=False), FACTS,
                                     Path("/w"))
    assert values["network-feature-enabled"]["api_extensions"] == "external-net,router,security-group"


def test_feature_flags_say_what_this_cloud_does(lab):
    inventory, _ = lab
    _, conf = written(lab)
    features = conf["compute-feature-enabled"]
    assert features.getboolean("live_migration") is True
    assert features.getboolean("block_migration_for_live_migration") is False   # the instances share
    assert features.getboolean("config_drive") is True
    assert conf["compute"].getint("min_compute_nodes") == len(inventory.with_role("compute")) == 4
    available = conf["service_available"]
    assert {s: available.getboolean(s) for s in available if s not in conf.defaults()} == {
        "cinder": True, "neutron": True, "glance": True, "nova": True, "horizon": True, "swift": False}


def test_demo_user_is_tempests_pre_provisioned_account(lab):
    import yaml

    inventory, secrets = lab
    _, conf = written(lab)
    accounts = Path(conf["auth"]["test_accounts_file"])
    assert accounts.parent == tempest_config.workspace(inventory) / "etc"
    [demo] = yaml.safe_load(accounts.read_text())
    assert (demo["username"], demo["project_name"]) == ("demo", "demo")
    assert demo["password"] == secrets.get("demo_keystone").reveal()
    assert stat.S_IMODE(os.stat(accounts).st_mode) == 0o600


def test_every_option_written_is_tempest_33s(lab):
    _, conf = written(lab)
    used = {(s, o) for s in [*conf.sections(), "DEFAULT"] for o in (conf[s] if s != "DEFAULT" else conf.defaults())
            if s == "DEFAULT" or o not in conf.defaults()}
    unknown = used - OPTIONS_33 - LIBRARY_OPTIONS
    assert not unknown, f"not options of Tempest 33.0.0: {sorted(unknown)}"
    assert ("compute", "min_compute_nodes") in OPTIONS_33   # the list is the real one, not empty


def test_written_0600_where_asked_with_the_workspace_made(lab, tmp_path):
    inventory, _ = lab
    out = tmp_path / "elsewhere" / "my-tempest.conf"
    old = os.umask(0o000)
    try:
        path, conf = written(lab, out)
    finally:
        os.umask(old)
    assert path == out and stat.S_IMODE(os.stat(out).st_mode) == 0o600
    folder = tempest_config.workspace(inventory)
    assert Path(conf["oslo_concurrency"]["lock_path"]) == folder / "lock" and (folder / "lock").is_dir()
    default, _ = written(lab)
    assert default == folder / "etc" / "tempest.conf" and stat.S_IMODE(os.stat(default).st_mode) == 0o600


def test_an_image_missing_from_glance_is_named(lab):
    inventory, secrets = lab
    facts = tempest_config.CloudFacts({"tiny": "x"}, "n", None)
    with pytest.raises(tempest_config.TempestConfigError, match="images debian-12: not active in Glance"):
        tempest_config.write(inventory, secrets, facts)


def test_cli_arguments():
    args = parse_args(["tempest", "--smoke"])
    assert (args.command, args.smoke, args.regex) == ("tempest", True, None)
    args = parse_args(["tempest", "--regex", "tempest.api.compute", "--junit", "x.xml"])
    assert (args.regex, args.junit, args.smoke) == ("tempest.api.compute", "x.xml", False)
    assert parse_args(["tempest-config", "--out", "/tmp/t.conf"]).out == "/tmp/t.conf"
    assert parse_args(["apply", "--until", "p05"]).until == "p05"
    for bad in (["tempest", "--smoke", "--regex", "x"], ["tempest-config", "--smoke"], ["apply", "--out", "x"],
                ["tempest", "--until", "p05"], ["tempest-confg"]):
        with pytest.raises(SystemExit) as e:
            parse_args(bad)
        assert e.value.code == 2, bad


def test_run_argv():
    conf = Path("/w/etc/tempest.conf")
    assert tempest.run_argv(conf, smoke=True) == [tempest.TEMPEST, "run", "--config-file", str(conf),
                                                  "--concurrency", "2", "--smoke"]
    assert tempest.run_argv(conf, regex="tempest.api")[-2:] == ["--regex", "tempest.api"]


JUNIT = """<testsuite errors="0" failures="1" name="" tests="3" time="9.1">
<testcase classname="tempest.api.compute.servers.test_create_server.ServersTestJSON" name="test_list_servers[id-1,smoke]" time="1.0"/>
<testcase classname="tempest.scenario.test_network_basic_ops.TestNetworkBasicOps" name="test_network_basic_ops[id-2,smoke]" time="5.0">
<failure type="testtools.testresult.real._StringException">Traceback (most recent call last):
  ...
tempest.lib.exceptions.TimeoutException: Request timed out
Details: port 4 did not go ACTIVE</failure>
</testcase>
<testcase classname="tempest.api.object_storage.test_container_services.ContainerTest" name="setUpClass" time="0.0">
<skipped>Swift support is required</skipped>
</testcase>
</testsuite>"""


def test_results_read_from_the_junit_file(tmp_path):
    path = tmp_path / "tempest.xml"
    path.write_text(JUNIT)
    outcome = tempest.read_junit(path)
    assert outcome.passed == ["tempest.api.compute.servers.test_create_server.ServersTestJSON."
                              "test_list_servers[id-1,smoke]"]
    assert outcome.failed == [("tempest.scenario.test_network_basic_ops.TestNetworkBasicOps."
                               "test_network_basic_ops[id-2,smoke]", "Details: port 4 did not go ACTIVE")]
    assert outcome.skipped == [("tempest.api.object_storage.test_container_services.ContainerTest.setUpClass",
                                "Swift support is required")]
    assert outcome.lines()[0] == "tempest: 1 passed, 1 failed, 1 skipped"
    with pytest.raises(tempest.TempestError, match="no Tempest results"):
        tempest.read_junit(tmp_path / "missing.xml")


def test_missing_tools_are_installed_with_debians_packages(tmp_path, monkeypatch):
    from lab import apt

    tool = tmp_path / "tempest"
    asked = []

    def install(packages):
        asked.append(packages)
        tool.write_text("")

    monkeypatch.setattr(apt, "install", install)
    tempest.ensure_installed([str(tool)], ["tempest"])
    assert asked == [["tempest"]]
    tempest.ensure_installed([str(tool)], ["tempest"])
    assert asked == [["tempest"]], "installed again though present"


def test_an_install_that_leaves_a_tool_missing_is_named(tmp_path, monkeypatch):
    from lab import apt

    monkeypatch.setattr(apt, "install", lambda packages: None)
    with pytest.raises(tempest.TempestError, match="still missing: .*/subunit2junitxml"):
        tempest.ensure_installed([str(tmp_path / "subunit2junitxml")], ["subunit"])


def test_run_without_a_config_says_how_to_write_one(lab, tmp_path):
    inventory, _ = lab
    with pytest.raises(tempest.TempestError, match="python -m deploy tempest-config"):
        tempest.run(inventory, tmp_path / "none.conf")


def test_a_run_in_the_workspace_becomes_junit_and_an_outcome(lab, tmp_path, monkeypatch):
    """Fake tempest, stestr and subunit2junitxml: tempest runs in the workspace with the config,
    the last run's stream goes to subunit2junitxml (exit 1: failures), the JUnit file is read back."""
    inventory, secrets = lab
    config = tempest_config.write(inventory, secrets, FACTS)
    record = tmp_path / "tempest-argv"
    tools = {
        "tempest": f"import os, sys\nopen({str(record)!r}, 'w').write(os.getcwd() + ' ' + ' '.join(sys.argv[1:]))\n"
                   "open('.stestr.conf', 'w').write('[DEFAULT]\\n')\nsys.exit(1)\n",
        "stestr": "import os, sys\nassert sys.argv[1:] == ['last', '--subunit'] and os.path.exists('.stestr.conf')\n"
                  "sys.stdout.write('STREAM')\nsys.exit(1)\n",
        "subunit2junitxml": f"import sys\nassert sys.stdin.read() == 'STREAM'\n"
                            f"open(sys.argv[sys.argv.index('-o') + 1], 'w').write({JUNIT!r})\nsys.exit(1)\n",
    }
    for name, body in tools.items():
        path = tmp_path / name
        path.write_text("#!" + __import__("sys").executable + "\n" + body)
        path.chmod(0o755)
    monkeypatch.setattr(tempest, "TEMPEST", str(tmp_path / "tempest"))
    monkeypatch.setattr(tempest, "STESTR", str(tmp_path / "stestr"))
    monkeypatch.setattr(tempest, "SUBUNIT2JUNITXML", str(tmp_path / "subunit2junitxml"))
    monkeypatch.setattr(tempest, "TOOLS", [str(tmp_path / n) for n in tools])
    junit = tmp_path / "reports" / "tempest.xml"
    outcome = tempest.run(inventory, config, junit, smoke=True)
    cwd, argv = record.read_text().split(" ", 1)
    assert Path(cwd) == tempest_config.workspace(inventory)
    assert argv == f"run --config-file {config} --concurrency 2 --smoke"
    assert junit.is_file()
    assert [len(outcome.passed), len(outcome.failed), len(outcome.skipped)] == [1, 1, 1]
