"""Checks of 02-glusterfs-all: glusterd installed and listening on every host,
its ports open to the management network only."""
import pytest

from deploy.phases.p02_glusterfs_all import brick_dir, gluster_rules, public_rules

pytestmark = [pytest.mark.p02, pytest.mark.usefixtures("phase_p02")]


@pytest.mark.controller
@pytest.mark.compute
def test_glusterd_running_and_listening(host):
    name = host.backend.hostname
    assert host.package("glusterfs-server").is_installed, f"{name}: glusterfs-server is not installed"
    assert host.service("glusterd").is_running, f"{name}: glusterd is not running"
    assert host.socket("tcp://0.0.0.0:24007").is_listening, f"{name}: nothing listens on TCP 24007"


@pytest.mark.compute
def test_brick_is_xfs(host, inventory):
    name, path = host.backend.hostname, inventory.glusterfs.brick_path
    fstype = host.run("stat -f -c %%T %s", path).stdout.strip()
    assert fstype == "xfs", f"{name}: {path} is on {fstype or 'nothing'}, expected its own XFS filesystem"
    assert host.file(brick_dir(inventory)).is_directory, f"{name}: brick directory {brick_dir(inventory)} missing"


@pytest.mark.controller
@pytest.mark.compute
def test_gluster_ports_closed_to_other_networks(host, inventory):
    missing = [c for c in gluster_rules(inventory).checks() if host.run(c).rc != 0]
    assert not missing, f"{host.backend.hostname}: firewall rules missing: {missing}"


@pytest.mark.gateway
def test_public_interface_default_deny(host, inventory):
    rules = public_rules(inventory.host(host.backend.hostname))
    missing = [c for c in rules.checks() if host.run(c).rc != 0]
    assert not missing, f"{host.backend.hostname}: public default-deny rules missing: {missing}"
