"""The debian image: Debian 12 with cloud-init, built with debootstrap and apt
(minutes), booting under QEMU to SSH as `debian` with the metadata key."""
import json
import time

import pytest

import images
from images import boot, cache

pytestmark = pytest.mark.images


@pytest.fixture(scope="module")
def debian(image_cache, root_only):
    return images.build("debian", image_cache)


def test_debian_is_a_qcow2_with_cloud_init_and_the_cloud_kernel(debian, image_cache):
    assert debian.read_bytes()[:4] == b"QFI\xfb"
    assert debian.stat().st_size < 1024 * 2**20
    record = cache.read_record(debian)
    assert record["kernel"].endswith("-cloud-amd64")
    assert record["packages"]["cloud-init"].startswith("22.")
    started = time.monotonic()
    assert images.build("debian", image_cache) == debian
    assert time.monotonic() - started < 10


def test_boots_to_ssh_as_debian_through_cloud_init(debian, tmp_path):
    report = boot.boot_test("debian", debian, tmp_path, commands={
        # sshd starts before cloud-init's last stage ends
        "status": "cloud-init status --wait --long",
        "result": "cat /run/cloud-init/result.json",
        "sudo": "sudo -n id -un",
        "keys": "cat ~/.ssh/authorized_keys",
        "root": "findmnt -no SOURCE,FSTYPE /",
    })
    assert report.boot_to_ssh_s < 600
    assert report.hostname == "boot-check" and report.user == "debian"
    assert "console=ttyS0" in report.cmdline and "root=UUID=" in report.cmdline
    assert "status: done" in report.outputs["status"]
    assert "DataSourceOpenStack" in json.loads(report.outputs["result"])["v1"]["datasource"]
    assert report.outputs["sudo"].strip() == "root"
    assert "boot-test" in report.outputs["keys"]
    assert report.outputs["root"].split()[1] == "ext4"
    assert "ext4 ok" in report.disk_check and "vfat ok" in report.disk_check
