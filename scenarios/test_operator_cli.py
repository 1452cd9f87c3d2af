"""The operator's first session, with the official `openstack` CLI (Debian's
python3-openstackclient on this machine, installed when missing) and the
clouds.yaml the deploy wrote, as the demo user: a key pair, a security group
allowing SSH from the operator, `server create --flavor m1.small --image tiny
--key-name K --config-drive true --network vm`, a floating IP, then SSH in with
the key and read the server's own id from its config drive. Every resource is
deleted through the CLI, its deletion registered the moment it exists."""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from types import SimpleNamespace

import paramiko
import pytest

from checks.tools import ensure_tools
from deploy import handoff
from deploy.phases.p09_openstack_gateway.networks import PUBLIC_NETWORK, VM_NETWORK
from deploy.waits import wait_for, wait_for_status
from scenarios.cloud import Stopwatch, ssh

pytestmark = pytest.mark.scenario

OPENSTACK = "/usr/bin/openstack"
FLAVOR = "m1.small"


class OperatorCli:
    """`openstack --os-cloud NAME ...` with only the written clouds.yaml as configuration."""

    def __init__(self, clouds_file: str, cloud: str):
        self.cloud = cloud
        # no OS_* of this machine's environment: the file alone says where and who
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        self.env["OS_CLIENT_CONFIG_FILE"] = clouds_file

    def __call__(self, *args: str, parse: bool = True, timeout: float = 180):
        argv = [OPENSTACK, "--os-cloud", self.cloud, *args, *(["-f", "json"] if parse else [])]
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise AssertionError(f"`openstack --os-cloud {self.cloud} {' '.join(args)}` exited {done.returncode}: "
                                 f"{(done.stderr or done.stdout).strip()[-600:]}")
        return json.loads(done.stdout) if parse and done.stdout.strip() else done.stdout


@pytest.fixture(scope="module")
def demo_cli(cloud, inventory, secrets) -> OperatorCli:
    ensure_tools({OPENSTACK: "python3-openstackclient"})
    path = handoff.folder(inventory) / handoff.CLOUDS_FILE
    if not path.exists():   # a --no-deploy run: the same file the deploy writes
        handoff.write(inventory, secrets)
    return OperatorCli(str(path), f"{handoff.cloud_name(inventory)}-demo")


def test_the_operator_boots_and_reaches_a_guest_with_the_official_cli(demo_cli, cloud, cleanup, inventory,
                                                                      tmp_path, timing):
    cli = demo_cli
    image = inventory.images[0]
    tag = uuid.uuid4().hex[:6]
    key = paramiko.ECDSAKey.generate(bits=256)
    public_key = tmp_path / "key.pub"
    public_key.write_text(f"{key.get_name()} {key.get_base64()} operator-{tag}\n")
    key_name = f"operator-{tag}"
    cli("keypair", "create", "--public-key", str(public_key), key_name)
    cleanup.add(f"keypair {key_name}", lambda: cli("keypair", "delete", key_name, parse=False))
    group = cli("security", "group", "create", f"operator-ssh-{tag}", "--description", "SSH from the operator")
    cleanup.add(f"security group {group['name']}",
                lambda: cli("security", "group", "delete", group["id"], parse=False))
    cli("security", "group", "rule", "create", "--ingress", "--protocol", "tcp", "--dst-port", "22",
        "--remote-ip", f"{inventory.public.operator_address}/32", group["id"])

    name = f"operator-{image.name}-{tag}"
    watch = Stopwatch()
    server = cli("server", "create", "--flavor", FLAVOR, "--image", image.name, "--key-name", key_name,
                 "--config-drive", "true", "--network", VM_NETWORK, "--security-group", group["id"], name)
    cleanup.add(f"server {name}", lambda: cli("server", "delete", "--wait", server["id"], parse=False, timeout=300))
    wait_for_status(lambda: cli("server", "show", server["id"]), "ACTIVE", f"server {name} ACTIVE", 600,
                    failures=("ERROR",), state=lambda s: s["status"], detail=lambda s: str(s.get("fault") or ""))
    timing("CLI server boot to ACTIVE", watch())
    address = cli("floating", "ip", "create", PUBLIC_NETWORK)
    cleanup.add(f"floating IP {address['floating_ip_address']}",
                lambda: cli("floating", "ip", "delete", address["id"], parse=False))
    cli("server", "add", "floating", "ip", server["id"], address["floating_ip_address"], parse=False)
    wait_for(lambda: address["floating_ip_address"] in json.dumps(cli("server", "show", server["id"])["addresses"]),
             60, f"{address['floating_ip_address']} on server {name}")

    guest = SimpleNamespace(id=server["id"], name=name)   # what ssh() names, and whose console it shows
    # tiny takes the key as root too; another image as its login user, under sudo
    user = "root" if image.build == "tiny" else (image.login or "root")
    with ssh(cloud, guest, address["floating_ip_address"], user, key, timeout=600) as shell:
        timing("CLI server boot to SSH", watch())
        if user != "root":
            shell.prefix = "sudo -n "
        assert shell.run("hostname").strip().split(".")[0] == name
        device = shell.run("findfs LABEL=config-2").strip()
        meta = shell.run(f"mkdir -p /mnt/cd && mount -o ro {device} /mnt/cd && "
                         "cat /mnt/cd/openstack/latest/meta_data.json; umount /mnt/cd")
    assert json.loads(meta)["uuid"] == server["id"], f"the config drive describes another server: {meta[:200]}"
    flavor = cli("server", "show", server["id"])["flavor"]
    assert FLAVOR in str(flavor), f"server {name} runs flavor {flavor}, asked for {FLAVOR}"
