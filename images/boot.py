"""Boot an image here under plain QEMU, the way Nova would, with no cloud:
user-mode networking restricted to this machine, SSH forwarded from a loopback
port, and a fake metadata service at 169.254.169.254 (slirp's guestfwd runs
images/metadata.py per connection) serving a fresh SSH key and a hostname."""
from __future__ import annotations

import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from deploy.waits import WaitTimeout, wait_for

from . import metadata
from .host import ImageError, ensure, sh

log = logging.getLogger("images.boot")

# slirp lets guestfwd name only addresses inside the guest's network, so the guest's
# network is 169.254.0.0/16 and the metadata address is on-link (host .2, DNS .3).
GUEST_NET = "169.254.0.0/16"
METADATA_IP = "169.254.169.254"


@dataclass(frozen=True)
class Profile:
    """How an image is booted and reached: what the boot test needs to know of it."""
    user: str
    memory_mib: int
    ssh_timeout: float
    ready_line: str | None = None  # a console line that comes just before SSH answers


PROFILES = {
    "tiny": Profile(user="tiny", memory_mib=256, ssh_timeout=60, ready_line="tiny: sshd up"),
    "debian": Profile(user="debian", memory_mib=1024, ssh_timeout=600),
}


def accelerator() -> str:
    """KVM only when the CPU says it can (a /dev/kvm without vmx/svm hangs), else TCG."""
    flags = Path("/proc/cpuinfo").read_text()
    if re.search(r"\b(vmx|svm)\b", flags) and os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "kvm"
    return "tcg"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Guest:
    """A running QEMU guest; use as a context manager, or call stop()."""
    image: Path
    work: Path
    profile: Profile
    hostname: str = "boot-check.novalocal"
    metadata: str | None = "all"  # "all" (OpenStack and EC2 paths), "ec2" only, or None: nothing answers
    extra_disk_mib: int = 0
    accel: str = field(default_factory=accelerator)
    key: paramiko.PKey = field(default_factory=lambda: paramiko.ECDSAKey.generate(bits=256))
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.console = self.work / "console.log"
        self.requests = self.work / "metadata-requests.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.started = 0.0

    @property
    def public_key(self) -> str:
        return f"{self.key.get_name()} {self.key.get_base64()} boot-test"

    def start(self) -> "Guest":
        ensure(["qemu-system-x86_64", "qemu-img"])
        for f in (self.console, self.requests):
            f.unlink(missing_ok=True)
        self.requests.touch()
        self.port = _free_port()
        netdev = (f"user,id=n0,restrict=on,net={GUEST_NET},"
                  f"hostfwd=tcp:127.0.0.1:{self.port}-:22")
        if self.metadata:
            table = self.work / "metadata.json"
            routes = metadata.routes(self.hostname, self.public_key, self.instance_id)
            if self.metadata == "ec2":
                routes = {k: v for k, v in routes.items() if k and not k.startswith("openstack")}
            table.write_text(json.dumps(routes))
            # slirp splits the command on spaces (no shell) and QEMU's option parser needs ',' doubled
            cmd = " ".join([sys.executable, metadata.__file__, str(table), str(self.requests)])
            if " " in str(self.work) or " " in sys.executable:
                raise ImageError("the boot test's paths must not contain spaces (slirp splits its command)")
            netdev += f",guestfwd=tcp:{METADATA_IP}:80-cmd:{cmd.replace(',', ',,')}"
        argv = ["qemu-system-x86_64", "-accel", self.accel, "-m", str(self.profile.memory_mib), "-smp", "1",
                "-nodefaults", "-no-user-config", "-display", "none",
                "-chardev", f"file,id=con,path={self.console}", "-serial", "chardev:con",
                # snapshot: the cached image stays as built, whatever the guest writes
                "-drive", f"file={self.image},if=virtio,format=qcow2,snapshot=on",
                "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
                # what Nova tells a guest about itself (cloud-init's OpenStack datasource looks for it)
                "-smbios", f"type=1,manufacturer=OpenStack Foundation,product=OpenStack Nova,"
                           f"serial={self.instance_id},uuid={self.instance_id}",
                "-qmp", f"unix:{self.work / 'qmp.sock'},server=on,wait=off"]
        if self.extra_disk_mib:
            extra = self.work / "extra.qcow2"
            sh(["qemu-img", "create", "-q", "-f", "qcow2", extra, f"{self.extra_disk_mib}M"])
            argv += ["-drive", f"file={extra},if=virtio,format=qcow2"]
        log.info("booting %s (%s): ssh -p %d, console %s", self.image.name, self.accel, self.port, self.console)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def __enter__(self) -> "Guest":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def console_text(self) -> str:
        try:
            return self.console.read_text(errors="replace")
        except OSError:
            return ""

    def _check_running(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            out = self.proc.stdout.read().decode(errors="replace").strip() if self.proc.stdout else ""
            raise ImageError(f"QEMU exited ({self.proc.returncode}): {out[-500:]}")

    def wait_console(self, text: str, timeout: float) -> float:
        """Seconds from start until `text` shows on the serial console."""
        def seen() -> bool:
            self._check_running()
            return text in self.console_text()
        try:
            wait_for(seen, timeout, f"{text!r} on the console of {self.image.name}", interval=0.2)
        except WaitTimeout as e:
            raise ImageError(f"{e}\nconsole tail:\n{self.console_tail()}") from None
        return time.monotonic() - self.started

    def console_tail(self, lines: int = 25) -> str:
        return "\n".join(self.console_text().splitlines()[-lines:])

    def connect(self, user: str | None = None, timeout: float | None = None) -> paramiko.SSHClient:
        """An SSH session, once the guest accepts the metadata key (polled until `timeout`)."""
        user = user or self.profile.user

        def attempt() -> paramiko.SSHClient | None:
            self._check_running()
            if not self._banner():
                return None
            client = paramiko.SSHClient()
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
            try:
                client.connect("127.0.0.1", port=self.port, username=user, pkey=self.key, timeout=10,
                               banner_timeout=10, auth_timeout=10, allow_agent=False, look_for_keys=False)
            except Exception:
                client.close()
                raise
            return client
        try:
            # until the guest has the key, sshd refuses or drops us: not ready yet; QEMU gone ends the wait
            return wait_for(attempt, timeout or self.profile.ssh_timeout, f"SSH as {user} to {self.image.name}",
                            interval=1.0, transient=(paramiko.SSHException, OSError, EOFError))
        except WaitTimeout as e:
            raise ImageError(f"{e}\nconsole tail:\n{self.console_tail()}") from None

    def _banner(self) -> bool:
        """Whether sshd answers: slirp accepts on the host side even while the guest
        refuses, so only a banner tells (and paramiko need not log each refusal)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.settimeout(5)
                return s.recv(4).startswith(b"SSH-")
        except OSError:
            return False

    def powerdown(self, timeout: float = 60) -> float:
        """Press the ACPI power button (what Nova's soft shutdown does); seconds until QEMU exits."""
        t0 = time.monotonic()
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.work / "qmp.sock"))
            f = s.makefile("rwb")
            f.readline()  # greeting
            for cmd in ("qmp_capabilities", "system_powerdown"):
                f.write(json.dumps({"execute": cmd}).encode() + b"\n")
                f.flush()
                f.readline()
        assert self.proc is not None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ImageError(f"guest did not power off within {timeout:.0f}s\n{self.console_tail()}") from None
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)


def run(client: paramiko.SSHClient, command: str, timeout: float = 120) -> str:
    """stdout of a command in the guest; a non-zero exit is an ImageError with its stderr."""
    _, stdout, stderr = client.exec_command(command, timeout=timeout)
    out = stdout.read().decode(errors="replace")
    err = stderr.read().decode(errors="replace")
    rc = stdout.channel.recv_exit_status()
    if rc != 0:
        raise ImageError(f"guest command {command!r} failed (exit {rc}): {(err or out).strip()[-800:]}")
    return out


# A second disk, the way a test would use a Cinder volume: find it, format it,
# mount it, write, unmount, mount again, read back.
DISK_CHECK = r"""
set -e
disk=/dev/{dev}
lsblk
test -b $disk
mkfs.ext4 -q -F -L scratch $disk
mkdir -p /mnt/scratch
mount $disk /mnt/scratch
dd if=/dev/urandom of=/mnt/scratch/blob bs=1024 count=4096 2>/dev/null
written=$(sha256sum /mnt/scratch/blob | cut -d' ' -f1)
umount /mnt/scratch
mount $disk /mnt/scratch
read=$(sha256sum /mnt/scratch/blob | cut -d' ' -f1)
umount /mnt/scratch
test "$written" = "$read"
echo "ext4 ok $read"
mkfs.vfat -n SCRATCH $disk >/dev/null
mount -t vfat $disk /mnt/scratch
echo hello > /mnt/scratch/hello.txt
umount /mnt/scratch
mount -t vfat $disk /mnt/scratch
grep -q hello /mnt/scratch/hello.txt
umount /mnt/scratch
echo "vfat ok"
"""


@dataclass
class BootReport:
    name: str
    image: str
    accel: str
    boot_to_ssh_s: float
    hostname: str
    cmdline: str
    user: str
    disk_check: str
    metadata_requests: int
    console: str
    outputs: dict[str, str] = field(default_factory=dict)


def boot_test(name: str, image: Path, work: Path, disk: bool = True,
              commands: dict[str, str] | None = None) -> BootReport:
    """Boot, log in with the metadata key, check hostname and a second disk, run `commands`
    (label -> shell command, as the image's user); the guest is stopped after."""
    profile = PROFILES[name]
    with Guest(image, work, profile, extra_disk_mib=64 if disk else 0) as guest:
        if profile.ready_line:
            guest.wait_console(profile.ready_line, profile.ssh_timeout)
        client = guest.connect()
        with client:
            hostname = run(client, "hostname").strip()
            took = time.monotonic() - guest.started
            whoami = run(client, "id -un").strip()
            cmdline = run(client, "cat /proc/cmdline").strip()
            outputs = {label: run(client, cmd) for label, cmd in (commands or {}).items()}
            disk_out = ""
            if disk:
                sudo = "" if whoami == "root" else "sudo -n " if name == "debian" else None
                if sudo is None:  # tiny has no sudo: its root takes the same key
                    with guest.connect("root", timeout=30) as root:
                        disk_out = run(root, "sh -c " + shlex.quote(DISK_CHECK.format(dev="vdb")))
                else:
                    disk_out = run(client, f"{sudo}sh -c " + shlex.quote(DISK_CHECK.format(dev="vdb")))
        requests = len(guest.requests.read_text().splitlines())
        log.info("%s: SSH as %s after %.1fs, hostname %s", name, whoami, took, hostname)
        return BootReport(name, str(image), guest.accel, round(took, 1), hostname, cmdline, whoami,
                          disk_out.strip(), requests, str(guest.console), outputs)
