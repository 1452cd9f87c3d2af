"""The operator's handoff: clouds.yaml and the openrc files beside the
inventory, 0600, written atomically, with the secrets file's passwords; the
summary says where everything is and shows no password."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy import handoff
from deploy.inventory import load_inventory
from deploy.secrets import Secrets

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def lab(tmp_path):
    """The default inventory in a folder of its own, with its secrets."""
    path = tmp_path / "inventory.yaml"
    path.write_text((ROOT / "inventory.yaml").read_text())
    inventory = load_inventory(path, check_keys=False)
    secrets = Secrets(inventory.secrets_path)
    for name in ("admin_keystone", "demo_keystone"):
        secrets.get(name)
    return inventory, secrets


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_files_beside_the_inventory_0600_whatever_the_umask(lab):
    inventory, secrets = lab
    old = os.umask(0o000)
    try:
        files = handoff.write(inventory, secrets)
    finally:
        os.umask(old)
    names = [p.name for p in files]
    assert names == ["clouds.yaml", "admin-openrc.sh", "demo-openrc.sh"]
    assert all(p.parent == inventory.path.parent for p in files)
    assert {p.name: mode(p) for p in files} == dict.fromkeys(names, 0o600)
    assert not [p for p in inventory.path.parent.iterdir() if p.name.endswith(".tmp")], "a temporary file was left"


def test_clouds_yaml_holds_both_clouds_with_the_secrets_files_passwords(lab):
    inventory, secrets = lab
    handoff.write(inventory, secrets)
    clouds = yaml.safe_load((inventory.path.parent / "clouds.yaml").read_text())["clouds"]
    assert set(clouds) == {"lab-admin", "lab-demo"}
    admin, demo = clouds["lab-admin"]["auth"], clouds["lab-demo"]["auth"]
    assert admin["password"] == secrets.get("admin_keystone").reveal()
    assert demo["password"] == secrets.get("demo_keystone").reveal()
    assert (admin["username"], admin["project_name"]) == ("admin", "admin")
    assert (demo["username"], demo["project_name"]) == ("demo", "demo")
    assert admin["auth_url"] == f"http://{inventory.controller.address}:5000/v3"
    assert clouds["lab-demo"]["region_name"] == inventory.region


def test_openrc_files_set_the_users_environment_when_sourced(lab):
    inventory, secrets = lab
    handoff.write(inventory, secrets)
    for suffix, user, secret in (("admin", "admin", "admin_keystone"), ("demo", "demo", "demo_keystone")):
        rc = inventory.path.parent / f"{suffix}-openrc.sh"
        shown = subprocess.run(["sh", "-c", '. "$1" && echo "$OS_USERNAME $OS_PROJECT_NAME $OS_AUTH_URL $OS_PASSWORD"',
                                "sh", str(rc)], capture_output=True, text=True, check=True,
                               env={"PATH": os.environ["PATH"], "OS_CLOUD": "stale"}).stdout.split()
        assert shown == [user, user, f"http://{inventory.controller.address}:5000/v3", secrets.get(secret).reveal()]


def test_written_again_in_place_of_a_symlink_not_through_it(lab, tmp_path):
    inventory, secrets = lab
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep me\n")
    (inventory.path.parent / "clouds.yaml").symlink_to(elsewhere)
    handoff.write(inventory, secrets)
    assert elsewhere.read_text() == "keep me\n"
    assert not (inventory.path.parent / "clouds.yaml").is_symlink()


def test_summary_names_dashboard_users_password_places_and_first_command_without_a_password(lab):
    inventory, secrets = lab
    files = handoff.write(inventory, secrets)
    lines = handoff.summary(inventory, secrets, files)
    text = "\n".join(lines)
    assert f"https://{inventory.gateway.public_address}/horizon/" in text and "inventory.pki/ca.pem" in text
    assert f"password admin_keystone in {inventory.secrets_path}" in text
    assert f"password demo_keystone in {inventory.secrets_path}" in text
    assert str(inventory.path.parent / "clouds.yaml") in text
    commands = [line.strip() for line in lines if line.startswith("    ")]
    assert commands[0] == "openstack --os-cloud lab-admin server list"
    assert len(commands) == 3 and "--flavor m1.small --image tiny" in commands[2]
    for name in ("admin_keystone", "demo_keystone"):
        assert secrets.get(name).reveal() not in text


def test_cloud_name_from_the_lab_or_the_inventory_file(lab, tmp_path):
    import dataclasses

    inventory, _ = lab
    assert handoff.cloud_name(inventory) == "lab"
    real = dataclasses.replace(inventory, lab=dataclasses.replace(inventory.lab, embedded=False),
                               path=tmp_path / "My_Site.yaml")
    assert handoff.cloud_name(real) == "my-site"
    assert handoff.cloud_name(dataclasses.replace(real, path=tmp_path / "inventory.yaml")) == "lab"


def test_the_operator_scenarios_cli_sees_only_the_written_clouds_yaml(tmp_path, monkeypatch):
    """The scenario's `openstack` calls: --os-cloud, -f json, OS_CLIENT_CONFIG_FILE set and no other OS_*
    of this machine; a failing command is named with its output."""
    import json as _json

    from scenarios import test_operator_cli as scenario

    fake = tmp_path / "openstack"
    fake.write_text("#!/usr/bin/env python3\nimport json, os, sys\n"
                    "if 'fail' in sys.argv: print('No Network found for nowhere', file=sys.stderr); sys.exit(1)\n"
                    "print(json.dumps({'argv': sys.argv[1:], 'os': {k: v for k, v in os.environ.items() "
                    "if k.startswith('OS_')}}))\n")
    fake.chmod(0o755)
    monkeypatch.setattr(scenario, "OPENSTACK", str(fake))
    monkeypatch.setenv("OS_PASSWORD", "not-this-one")
    cli = scenario.OperatorCli("/x/clouds.yaml", "lab-demo")
    seen = cli("server", "show", "abc")
    assert seen["argv"] == ["--os-cloud", "lab-demo", "server", "show", "abc", "-f", "json"]
    assert seen["os"] == {"OS_CLIENT_CONFIG_FILE": "/x/clouds.yaml"}
    assert _json.loads(cli("keypair", "delete", "k", parse=False))["argv"][-1] == "k"
    with pytest.raises(AssertionError, match=r"`openstack --os-cloud lab-demo server fail` exited 1: No Network"):
        cli("server", "fail")
