"""The report's 02-boot-cirros, 04-boot-ubuntu and 05-ssh-into-vm: each image
boots, takes its key from the metadata service, and is reached over SSH; and
every compute host runs a guest, under the hypervisor the host can do."""
import json
import shlex
from concurrent.futures import ThreadPoolExecutor

import pytest

from checks.readings import config_files, domain_type, effective_virt_type, host_domain_type
from scenarios.cloud import wait_gone

pytestmark = pytest.mark.scenario

# busybox has wget; a minimal Debian has neither wget nor curl, but bash
METADATA_GET = (
    "wget -qO- http://169.254.169.254/openstack/latest/meta_data.json 2>/dev/null || "
    "bash -c 'exec 3<>/dev/tcp/169.254.169.254/80 && printf \"GET /openstack/latest/meta_data.json HTTP/1.0\\r\\n"
    "Host: 169.254.169.254\\r\\n\\r\\n\" >&3 && cat <&3'")


def image_names(config) -> list[str]:
    from pytest_deploy import inventory_of
    return [i.name for i in inventory_of(config).images]


def pytest_generate_tests(metafunc):
    if "image" in metafunc.fixturenames:
        names = image_names(metafunc.config)
        # the first image's guest boots in its test; the others' boot beside the other
        # scenarios (conftest.booting_ahead) and their tests come last
        metafunc.parametrize("image", [names[0]] + [pytest.param(n, marks=pytest.mark.order(101)) for n in names[1:]]
                             if names else [])


def startup_seconds(systemd_analyze: str) -> float | None:
    """The total of `systemd-analyze time` ("Startup finished in ... = 1min 5.801s"), or
    None when the guest has no systemd or its startup has not finished."""
    if "=" not in systemd_analyze:
        return None
    total = 0.0
    for word in systemd_analyze.split("=", 1)[1].split("\n", 1)[0].split():
        for unit, scale in (("min", 60.0), ("ms", 0.001), ("s", 1.0)):
            if word.endswith(unit) and word[:-len(unit)].replace(".", "", 1).isdigit():
                total += float(word[:-len(unit)]) * scale
                break
    return total


def test_boot_each_image_and_log_in(image, boot, booted_ahead, cloud, timing):
    """Boot the image with a fresh key pair; wait ACTIVE; SSH in with the key
    through its floating IP; inside, the hostname is the server's name, the
    address is the one Neutron gave, the metadata service answers with this
    server's id; delete it and see it gone. An image booted ahead (every one
    after the first) is timed by the guest's own `systemd-analyze`: its boot
    to SSH from its creation would count the scenarios run meanwhile."""
    if guest := booted_ahead(image):
        shell = guest.shell(timeout=600)
        if (seconds := startup_seconds(shell.run("systemd-analyze time 2>/dev/null || true"))) is not None:
            timing(f"{image} startup (systemd-analyze, booted beside the other scenarios)", seconds)
    else:
        guest = boot(image)
        shell = guest.shell(timeout=600)
        timing(f"{image} boot to SSH", guest.boot_watch())
    try:
        hostname = shell.run("hostname").strip()
        assert hostname.split(".")[0] == guest.server.name, f"hostname {hostname!r}, server {guest.server.name!r}"
        addresses = shell.run("ip -4 -o addr show")
        assert f" {guest.fixed_ip}/" in addresses, f"{guest.fixed_ip} (Neutron's) not in the guest: {addresses}"
        meta = shell.run(METADATA_GET)
        if meta.startswith("HTTP/"):  # the raw answer: drop the headers
            meta = meta.split("\r\n\r\n", 1)[1]
        assert json.loads(meta)["uuid"] == guest.server.id, f"metadata answered for another server: {meta[:200]}"
    finally:
        shell.close()
    cloud.nova.servers.delete(guest.server)
    wait_gone(cloud, lambda: cloud.nova.servers.get(guest.server.id), f"server {guest.server.name}")


def hypervisor_problem(remote, server) -> str | None:
    """The guest's libvirt domain on its compute is of the type the host can do
    (kvm only with vmx/svm and /dev/kvm), and nova-compute's effective virt_type says the same."""
    host = remote.host.name
    instance = getattr(server, "OS-EXT-SRV-ATTR:instance_name")
    running_as = domain_type(remote.run(["virsh", "-c", "qemu:///system", "dumpxml", instance]).stdout)
    flags = int(remote.run("grep -Ewc 'vmx|svm' /proc/cpuinfo", check=False).stdout.strip() or 0)
    dev_kvm = remote.run(["test", "-c", "/dev/kvm"], check=False).ok
    can = host_domain_type(flags, dev_kvm)
    # the daemon is a script: the kernel names its process nova-compute (a shell running pgrep is not)
    pid = remote.run(["pgrep", "-o", "-x", "nova-compute"], check=False).stdout.strip()
    if not pid:
        return f"{host}: nova-compute is not running, its virt_type cannot be read"
    cmdline = remote.run(f"tr '\\0' '\\n' < /proc/{pid}/cmdline").stdout.splitlines()
    paths = config_files(cmdline, lambda d: remote.run(f"ls -1 {shlex.quote(d)}/*.conf 2>/dev/null",
                                                       check=False).stdout.split())
    texts = [(p, r.stdout) for p in paths if (r := remote.run(["cat", p], check=False)).ok]
    virt_type, where = effective_virt_type(texts)
    said = (f"{host}: guest {server.name} ({instance}) runs as <domain type='{running_as}'>; the host can do "
            f"{can} (vmx/svm flags: {flags}, /dev/kvm: {'yes' if dev_kvm else 'no'}); nova-compute's virt_type "
            f"is {virt_type} ({where})")
    return None if running_as == can == virt_type else said


@pytest.mark.order(99)   # first: its four boots at once use both cores, before booting_ahead's guest
def test_every_compute_runs_a_guest(boot, cloud, inventory, pool, timing):
    """Boot one tiny guest on each compute host (asked for by host name); all
    go ACTIVE on the host asked for, under the hypervisor the host can do, and
    each answers SSH."""
    image = inventory.images[0].name
    computes = [h.name for h in inventory.with_role("compute")]
    with ThreadPoolExecutor(len(computes)) as workers:
        guests = list(workers.map(lambda host: boot(image, host=host), computes))
    placed = {g.server.name: g.host for g in guests}
    assert sorted(placed.values()) == sorted(computes), f"guests placed {placed}, wanted one on each of {computes}"
    wrong = [p for g in guests if (p := hypervisor_problem(pool[g.host], g.server))]
    assert not wrong, "; ".join(wrong)

    def reach(guest):
        shell = guest.shell(timeout=600)
        try:
            return shell.run("hostname").strip()
        finally:
            shell.close()

    with ThreadPoolExecutor(len(guests)) as workers:
        names = list(workers.map(reach, guests))
    assert [n.split(".")[0] for n in names] == [g.server.name for g in guests]


def test_a_config_drive_carries_the_guests_metadata(boot, inventory, timing):
    """Boot with a config drive (`--config-drive true`): the guest finds the
    drive labelled config-2 and reads its own id from it, no metadata service
    asked."""
    image = inventory.images[0].name
    guest = boot(image, config_drive=True)
    shell = guest.root_shell(timeout=600)
    timing("config-drive boot to SSH", guest.boot_watch())
    try:
        device = shell.run("findfs LABEL=config-2").strip()
        meta = shell.run(f"mkdir -p /mnt/cd && mount -o ro {device} /mnt/cd && "
                         "cat /mnt/cd/openstack/latest/meta_data.json; umount /mnt/cd")
    finally:
        shell.close()
    assert json.loads(meta)["uuid"] == guest.server.id, f"the config drive describes another server: {meta[:200]}"
