"""The tiny image: built from Debian's packages, small, cached, and booting
under QEMU (TCG here) to SSH with the hostname and key of a fake metadata service."""
import time

import pytest

import images
from images import boot, cache

pytestmark = pytest.mark.images


@pytest.fixture(scope="module")
def tiny(image_cache, root_only):
    return images.build("tiny", image_cache)


def test_tiny_is_a_small_qcow2(tiny):
    assert tiny.suffix == ".qcow2"
    assert tiny.read_bytes()[:4] == b"QFI\xfb"
    assert tiny.stat().st_size < 100 * 2**20
    record = cache.read_record(tiny)
    assert record["kernel"].endswith("-cloud-amd64") and "dropbear-bin" in record["packages"]


def test_second_build_is_a_cache_hit(tiny, image_cache):
    before = tiny.stat().st_mtime_ns
    started = time.monotonic()
    again = images.build("tiny", image_cache)
    took = time.monotonic() - started
    assert again == tiny and tiny.stat().st_mtime_ns == before
    assert took < 5, f"a cached build took {took:.1f}s"


def test_boots_to_ssh_with_metadata_hostname_and_key(tiny, tmp_path):
    report = boot.boot_test("tiny", tiny, tmp_path)
    assert report.boot_to_ssh_s < 60
    assert report.hostname == "boot-check"  # Nova's "boot-check.novalocal", short like cloud-init
    assert report.user == "tiny"
    assert "console=ttyS0" in report.cmdline and "console=tty0" in report.cmdline
    assert "ext4 ok" in report.disk_check and "vfat ok" in report.disk_check
    assert "vdb" in report.disk_check  # the listing found the second disk
    console = (tmp_path / "console.log").read_text(errors="replace")
    assert "tiny: metadata from http://169.254.169.254 (OpenStack)" in console
    assert "tiny: sshd up on " in console


def test_ec2_paths_alone_are_enough(tiny, tmp_path):
    with boot.Guest(tiny, tmp_path, boot.PROFILES["tiny"], hostname="ec2-style.example", metadata="ec2") as g:
        g.wait_console("tiny: sshd up", 60)
        with g.connect() as client:
            assert boot.run(client, "hostname").strip() == "ec2-style"
        assert "(EC2)" in g.console_text()


def test_boots_without_metadata_and_powers_off_by_acpi(tiny, tmp_path):
    with boot.Guest(tiny, tmp_path, boot.PROFILES["tiny"], metadata=None) as g:
        g.wait_console("tiny: sshd up", 90)
        assert "tiny: no metadata" in g.console_text()
        assert g.powerdown(timeout=60) < 60


def test_what_a_cirros_test_harness_calls(tiny, tmp_path):
    """As Tempest's remote client uses CirrOS: `sudo` without a password for the
    image's user, busybox's `nc`, and `dhclient -r && dhclient` (detached: the
    release drops the address the session runs over), with udhcpc's pid file
    under /var/run as Tempest's udhcpc renewal reads it."""
    from deploy.waits import wait_for

    with boot.Guest(tiny, tmp_path, boot.PROFILES["tiny"], hostname="harness") as g:
        g.wait_console("tiny: sshd up", 60)
        with g.connect() as client:
            assert boot.run(client, "id -un").strip() == "tiny"
            assert boot.run(client, "sudo -n id -u").strip() == "0"
            assert boot.run(client, "sudo -n sh -c 'id -un'").strip() == "root"
            assert boot.run(client, "echo | nc -w 2 127.0.0.1 22 | head -c 4") == "SSH-"
            assert boot.run(client, "test -s /var/run/udhcpc.eth0.pid && echo yes").strip() == "yes"
            boot.run(client, "setsid sh -c 'sudo -n /sbin/dhclient -r && sudo -n /sbin/dhclient; "
                             "echo rc=$? > /tmp/dhclient.out' </dev/null >/dev/null 2>&1 &")

        def renewed() -> str:
            with g.connect(timeout=30) as again:
                return boot.run(again, "cat /tmp/dhclient.out 2>/dev/null; cat /run/tiny-ip.eth0 2>/dev/null")
        out = wait_for(lambda: "rc=" in (text := renewed()) and text, 90, "dhclient -r && dhclient in tiny",
                       transient=(images.ImageError,))
        assert out.splitlines()[0] == "rc=0" and len(out.splitlines()) == 2, out


def test_the_login_user_finds_ip_and_pings_as_test_harnesses_do(tiny, tmp_path):
    """What Tempest and the scenarios run as the image's user (not root): `ip`
    on PATH, and Debian's ping as that user (busybox's needs root), with
    Tempest's own command line."""
    report = boot.boot_test("tiny", tiny, tmp_path, disk=False, commands={
        "shell": "echo $0 $BASH_VERSION",
        "ip": "ip -4 -o addr show lo",
        "ping": "set -eu -o pipefail; PATH=$PATH:/sbin:/usr/sbin; ping -c1 -w1 -s56 127.0.0.1 && echo PING-OK",
        "curl": "command -v curl",
    })
    out = report.outputs
    assert report.user == "tiny"
    assert "bash" in out["shell"], out["shell"]
    assert "127.0.0.1/8" in out["ip"], out["ip"]
    assert "PING-OK" in out["ping"], out["ping"]
    assert out["curl"].strip() == "/usr/bin/curl", out["curl"]
