"""debian: a Debian 12 cloud image with cloud-init, from Debian's packages only.

debootstrap (minbase) into a directory, the rest through apt inside it with
this machine's sources, then an ext4 filesystem made from the directory
(`mke2fs -d`) inside a one-partition MBR disk that GRUB boots: no loop device,
no mount of the image. cloud-init reads a config drive or the metadata service
and gives the default user `debian` the instance's key."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from . import cache, debs, disk
from .host import ImageError, ensure, package_version, sh

log = logging.getLogger("images.debian")

NAME = "debian"
SUITE = "bookworm"
PACKAGES = ["linux-image-cloud-amd64", "cloud-init", "cloud-guest-utils", "openssh-server", "sudo",
            "systemd-sysv", "udev", "dbus", "ifupdown", "isc-dhcp-client", "iproute2", "netbase",
            "procps", "kmod", "less", "iputils-ping", "ca-certificates", "dosfstools"]
# Versions that name the image (debootstrap takes whatever the mirror has for the rest).
VERSIONED = ["linux-image-cloud-amd64", "cloud-init", "openssh-server", "systemd", "libc6", "base-files"]
HOST_COMMANDS = ["debootstrap", "mke2fs", "grub-mkimage", "qemu-img", "apt-get"]
HOST_FILES = ["/usr/lib/grub/i386-pc/boot.img"]
HOST_PACKAGES = ["debootstrap", "e2fsprogs", "grub-pc-bin", "qemu-utils"]
GRUB_MODULES = ["biosdisk", "part_msdos", "ext2", "normal", "linux", "boot", "configfile", "echo", "test",
                "search", "search_fs_uuid", "serial", "terminal", "gzio"]
CMDLINE = "ro console=tty0 console=ttyS0,115200n8 consoleblank=0"


def _mirror() -> tuple[str, str]:
    """This machine's Debian mirror (debootstrap's) and its sources for the guest's apt."""
    from lab.errors import LabError
    from lab.mirror import machine_sources, main_archive, sources_list
    try:
        sources = machine_sources()
        return main_archive(sources), sources_list(sources)
    except LabError as e:
        raise ImageError(str(e)) from None


def inputs(cache_dir: Path) -> tuple[str, str, str]:
    pkgs = debs.resolve(VERSIONED, cache_dir)
    mirror, sources = _mirror()
    text = [f"{p.name}={p.version}" for p in pkgs] + [f"host {p}={package_version(p)}" for p in HOST_PACKAGES]
    text += [sources, " ".join(PACKAGES), " ".join(GRUB_MODULES), CMDLINE]
    return cache.digest(text, cache.recipe_sources("debian.py", "disk.py", guest=NAME)), mirror, sources


def build(cache_dir: Path) -> Path:
    if os.geteuid() != 0:
        raise ImageError("the debian image needs root (debootstrap, chroot): run as root")
    ensure(HOST_COMMANDS, HOST_FILES)
    key, mirror, sources = inputs(cache_dir)
    image = cache_dir / f"{NAME}-{key}.qcow2"
    with cache.locked(cache_dir, NAME):
        if image.exists():
            return image
        started = time.monotonic()
        _clear_stale_work(cache_dir)
        work = Path(tempfile.mkdtemp(prefix=f"{NAME}-work-", dir=cache_dir))
        try:
            root = work / "root"
            installed = _bootstrap(root, mirror, sources)
            # derived from the inputs: the same inputs give the same image, bit for bit where mke2fs allows
            fs_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"guest-images/{NAME}/{key}"))
            kernel = _configure(root, fs_uuid)
            used_mib = _du_mib(root)
            # room for first-boot writes; cloud-init's growpart takes the rest of a bigger flavor disk
            size_mib = -(-int(used_mib * 1.25 + 384) // 128) * 128
            raw = work / "disk.raw"
            disk.ext4_grub(raw, size_mib, root, label="debian-root", uuid=fs_uuid, grub_modules=GRUB_MODULES)
            shutil.rmtree(root)
            disk.to_qcow2(raw, image, compress=True)
        finally:
            _remove_work(work)
        cache.write_record(image, {
            "name": NAME, "inputs": key, "kernel": kernel, "mirror": mirror,
            "packages": installed, "disk_mib": size_mib,
            "used_mib": used_mib, "image_bytes": image.stat().st_size,
            "build_seconds": round(time.monotonic() - started, 1),
        })
        cache.drop_stale(cache_dir, NAME, image)
        log.info("built %s in %.0fs", image, time.monotonic() - started)
        return image


def _chroot(root: Path, *argv: str, timeout: float = 1800) -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8",
           **{k: v for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")}}
    sh(["chroot", root, *argv], env=env, timeout=timeout)


def _bootstrap(root: Path, mirror: str, sources: str) -> dict[str, str]:
    """The tree with every package installed; returns the versions of the ones that name the image."""
    t0 = time.monotonic()
    log.info("debootstrap --variant=minbase %s from %s", SUITE, mirror)
    sh(["debootstrap", "--variant=minbase", SUITE, root, mirror], timeout=1800)
    log.info("debootstrap took %.0fs", time.monotonic() - t0)
    (root / "etc/apt/sources.list").write_text(sources)
    (root / "etc/apt/apt.conf.d/00guest-images").write_text(
        '// The mirror may serve a dated snapshot, as on the build machine.\n'
        'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n')
    # Services do not start inside the build's chroot.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    # cloud-init's own files first, so its package keeps ours (dpkg would ask otherwise).
    _copy_guest_files(root)
    # Kernel and initramfs hooks want /proc and /sys; fresh instances, never bind mounts of this machine's.
    mounts = [(root / "proc", "proc"), (root / "sys", "sysfs")]
    try:
        for where, fstype in mounts:
            sh(["mount", "-t", fstype, fstype, where])
        t0 = time.monotonic()
        _chroot(root, "apt-get", "-q", "update")
        _chroot(root, "apt-get", "-q", "-y", "dist-upgrade")
        _chroot(root, "apt-get", "-q", "-y", "install", *PACKAGES)
        log.info("apt inside the tree took %.0fs", time.monotonic() - t0)
    finally:
        for where, _ in reversed(mounts):
            sh(["umount", where], check=False)
    p = sh(["chroot", root, "dpkg-query", "-W", "-f=${Package}=${Version}\n", *VERSIONED[1:],
            "linux-image-cloud-amd64"], check=False)
    policy.unlink()
    return dict(line.split("=", 1) for line in p.stdout.split())


def _copy_guest_files(root: Path) -> None:
    guest = cache.PACKAGE_DIR / "guest" / NAME
    for src in guest.rglob("*"):
        if src.is_file():
            dest = root / src.relative_to(guest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)


def _configure(root: Path, fs_uuid: str) -> str:
    """What makes the tree an image: fstab, bootloader config, a blank identity."""
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    if not kernels or not (root / "vmlinuz").exists() or not (root / "initrd.img").exists():
        raise ImageError("the tree has no kernel, or no /vmlinuz and /initrd.img links to it")
    (root / "etc/fstab").write_text(f"UUID={fs_uuid} / ext4 rw,discard,errors=remount-ro 0 1\n")
    (root / "etc/hostname").write_text("debian\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    grub = root / "boot/grub"
    (grub / "i386-pc").mkdir(parents=True, exist_ok=True)
    for mod in disk.GRUB_DIR.iterdir():
        if mod.suffix in (".mod", ".lst"):
            shutil.copyfile(mod, grub / "i386-pc" / mod.name)
    # /vmlinuz and /initrd.img follow the newest kernel (Debian's kernel hooks keep them),
    # so a kernel upgrade inside the guest boots without a bootloader package.
    (grub / "grub.cfg").write_text(f"""\
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
set timeout=1
set default=0
menuentry "Debian GNU/Linux 12 (bookworm)" {{
    search --no-floppy --fs-uuid --set=root {fs_uuid}
    linux /vmlinuz root=UUID={fs_uuid} {CMDLINE}
    initrd /initrd.img
}}
""")
    # Each instance gets its own identity: machine-id at first boot, SSH host keys from cloud-init.
    (root / "etc/machine-id").write_text("")
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    for hostkey in (root / "etc/ssh").glob("ssh_host_*"):
        hostkey.unlink()
    for leftover in [*(root / "var/cache/apt/archives").glob("*.deb"), *(root / "var/lib/apt/lists").glob("*_*")]:
        leftover.unlink()
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    for log_file in (root / "var/log").rglob("*"):
        if log_file.is_file():
            log_file.write_bytes(b"")
    return kernels[-1].name.removeprefix("vmlinuz-")


def _du_mib(root: Path) -> int:
    return int(sh(["du", "-sm", "--apparent-size", root]).stdout.split()[0])


def _mounted_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
            if line.split()[1].startswith(prefix)]


def _remove_work(work: Path) -> None:
    """Never delete through a mount: unmount what a killed build left mounted first."""
    for mnt in sorted(_mounted_under(work), key=len, reverse=True):
        sh(["umount", "-l", mnt], check=False)
    if _mounted_under(work):
        raise ImageError(f"{work} still has mounts under it; not removing it")
    shutil.rmtree(work, ignore_errors=True)


def _clear_stale_work(cache_dir: Path) -> None:
    for old in cache_dir.glob(f"{NAME}-work-*"):
        _remove_work(old)
