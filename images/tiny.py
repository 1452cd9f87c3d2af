"""tiny: what CirrOS is, made of Debian's packages. Debian's cloud kernel, a
busybox userland, dropbear for SSH, e2fsprogs and blkid for a second disk, and
what test harnesses written for CirrOS call in a guest: Debian's sudo (no
password for the image's users), Debian's curl (Tempest reads the metadata
service with it), Debian's ping (busybox's needs root; this one pings as any
user over ICMP datagram sockets, which the boot allows to every group as
systemd does on Debian) with bash as the login user's shell (busybox-static's
ash runs its own applet for any applet's name, whatever PATH says), the
config drive readable by group cdrom as on Debian, busybox's nc, a
`dhclient` over udhcpc. All of
it in the initramfs, which is the root. The disk only carries SYSLINUX, the
kernel and the initramfs, so stock Nova boots it by BIOS from the first disk."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import cache, debs, disk
from .cpio import Tree
from .elf import interpreter, modinfo, needed
from .host import ImageError, ensure, package_version

log = logging.getLogger("images.tiny")

NAME = "tiny"
# Packages whose files go in; libraries are taken only as the binaries need them.
PACKAGES = ["busybox-static", "dropbear-bin", "e2fsprogs", "util-linux", "sudo",
            "libc6", "libcrypt1", "libtomcrypt1", "libtommath1", "libgmp10", "zlib1g",
            "libext2fs2", "libcom-err2", "libblkid1", "libuuid1",
            "libpam0g", "libpam-modules", "libaudit1", "libcap-ng0", "libselinux1", "libpcre2-8-0",
            # curl and the libraries it links (ldd /usr/bin/curl on Debian 12)
            "curl", "libcurl4", "libbrotli1", "libffi8", "libgnutls30", "libgssapi-krb5-2", "libhogweed6",
            "libidn2-0", "libk5crypto3", "libkeyutils1", "libkrb5-3", "libkrb5support0", "libldap-2.5-0",
            "libnettle8", "libnghttp2-14", "libp11-kit0", "libpsl5", "librtmp1", "libsasl2-2", "libssh2-1",
            "libssl3", "libtasn1-6", "libunistring2", "libzstd1",
            "iputils-ping", "libcap2", "bash", "libtinfo6"]
# binaries that are not busybox applets, or are better than the applet (mke2fs makes ext4)
BINARIES = ["usr/sbin/dropbear", "usr/bin/dropbearkey", "usr/bin/dbclient", "usr/bin/curl", "bin/ping",
            "bin/bash",
            "sbin/mke2fs", "sbin/e2fsck", "sbin/resize2fs", "sbin/blkid"]
LINKS = {"/sbin/mkfs.ext4": "mke2fs", "/sbin/mkfs.ext3": "mke2fs", "/sbin/mkfs.ext2": "mke2fs",
         "/sbin/fsck.ext4": "e2fsck", "/sbin/fsck.ext2": "e2fsck", "/usr/bin/ssh": "dbclient"}
# Debian's sudo, setuid root, with the policy plugin it loads and the two PAM modules
# its PAM stack names (/etc/pam.d/sudo below); they go where sudo and libpam look.
SUDO = "usr/bin/sudo"
SUDO_PARTS = {"/usr/libexec/sudo/sudoers.so": "usr/libexec/sudo/sudoers.so",
              "/lib/x86_64-linux-gnu/security/pam_permit.so": "lib/x86_64-linux-gnu/security/pam_permit.so",
              "/lib/x86_64-linux-gnu/security/pam_deny.so": "lib/x86_64-linux-gnu/security/pam_deny.so"}
# Names busybox knows under another name only: a symlink would keep the unknown name as argv[0].
WRAPPERS = {"/sbin/mkfs.vfat": "mkdosfs", "/sbin/mkfs.fat": "mkdosfs"}
# Drivers the cloud kernel builds as modules, for what Nova and QEMU attach:
# virtio disk/NIC/SCSI/console/RNG/balloon, IDE CD-ROM (config drive), FAT and ISO 9660,
# and the ACPI power button (soft shutdown). Their dependencies come along.
MODULES = ["virtio_pci", "virtio_blk", "virtio_net", "virtio_scsi", "sd_mod", "sr_mod", "ata_piix",
           "ata_generic", "virtio_console", "virtio_rng", "virtio_balloon", "vfat", "nls_cp437",
           "nls_ascii", "nls_iso8859_1", "nls_utf8", "isofs", "button", "evdev"]
USER = ("tiny", 1000)
DISK_MIB = 48
LIB_DIRS = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "usr/lib", "usr/libexec/sudo"]
HOST_COMMANDS = ["qemu-img", "syslinux", "mcopy", "mkfs.fat", "dpkg-deb", "apt-get"]
HOST_PACKAGES = ["qemu-utils", "syslinux", "mtools", "dosfstools"]


def inputs(cache_dir: Path) -> tuple[str, list[debs.Package]]:
    """The hash of everything the image is made of, and the packages to fetch."""
    pkgs = debs.resolve(["linux-image-cloud-amd64", *PACKAGES], cache_dir)
    text = [f"{p.name}={p.version}" for p in pkgs] + [f"host {p}={package_version(p)}" for p in HOST_PACKAGES]
    sources = cache.recipe_sources("tiny.py", "cpio.py", "elf.py", "disk.py", guest="tiny")
    return cache.digest(text, sources), pkgs


def build(cache_dir: Path) -> Path:
    ensure(HOST_COMMANDS)
    key, pkgs = inputs(cache_dir)
    image = cache_dir / f"{NAME}-{key}.qcow2"
    with cache.locked(cache_dir, NAME):
        if image.exists():
            return image
        started = time.monotonic()
        log.info("building %s (%s)", image.name, ", ".join(f"{p.name} {p.version}" for p in pkgs[:3]))
        for stale in cache_dir.glob(f"{NAME}-work-*"):  # left by a build that was killed
            shutil.rmtree(stale, ignore_errors=True)
        files = debs.fetch(pkgs, cache_dir / "debs")
        with tempfile.TemporaryDirectory(prefix=f"{NAME}-work-", dir=cache_dir) as tmp:
            work = Path(tmp)
            root = debs.extract(files, work / "debs")
            kver = _kernel_version(root)
            tree = _initramfs(root, kver)
            tree.write_cpio_gz(work / "initrd.gz")
            raw = work / "disk.raw"
            disk.fat_syslinux(raw, DISK_MIB, {"vmlinuz": root / "boot" / f"vmlinuz-{kver}",
                                              "initrd.gz": work / "initrd.gz"},
                              SYSLINUX_CFG, label="TINY-BOOT", volume_id=key[:8])
            disk.to_qcow2(raw, image)
            initrd_bytes = (work / "initrd.gz").stat().st_size
        cache.write_record(image, {
            "name": NAME, "inputs": key, "kernel": kver, "packages": {p.name: p.version for p in pkgs},
            "initrd_bytes": initrd_bytes, "image_bytes": image.stat().st_size,
            "build_seconds": round(time.monotonic() - started, 1),
        })
        cache.drop_stale(cache_dir, NAME, image)
        log.info("built %s in %.0fs", image, time.monotonic() - started)
        return image


SYSLINUX_CFG = """\
SERIAL 0 115200
DEFAULT tiny
PROMPT 0
TIMEOUT 0
LABEL tiny
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND console=tty0 console=ttyS0,115200n8 panic=10
"""


def _kernel_version(root: Path) -> str:
    found = sorted(p.name for p in (root / "lib" / "modules").iterdir())
    if len(found) != 1:
        raise ImageError(f"expected one kernel in the packages, found {found}")
    return found[0]


def _initramfs(root: Path, kver: str) -> Tree:
    tree = Tree()
    for d in ("/proc", "/sys", "/dev", "/run", "/tmp", "/var/log", "/mnt", "/etc/dropbear"):
        tree.dir(d)
    tree.dir("/tmp", 0o1777)
    tree.dir("/root", 0o700)
    tree.dir(f"/home/{USER[0]}", 0o755, owner=(USER[1], USER[1]))
    # The kernel opens /dev/console before /init runs, before devtmpfs is mounted.
    tree.device("/dev/console", "c", 5, 1)
    tree.device("/dev/null", "c", 1, 3, 0o666)

    busybox = root / "bin" / "busybox"
    tree.file("/bin/busybox", busybox, 0o755)
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout
    names = {a.rsplit("/", 1)[-1] for a in applets.split() if not a.startswith(("sbin/", "usr/sbin/"))}
    for applet in applets.split():
        if applet != "bin/busybox":  # the list names the binary itself too
            tree.symlink("/" + applet, "/bin/busybox")
        # The login user's bash finds commands by PATH (/usr/bin:/bin under dropbear),
        # not as busybox's ash does: its sbin applets (ip, ifconfig ...) there too,
        # as Debian puts ip in /usr/bin.
        name = applet.rsplit("/", 1)[-1]
        if applet.startswith(("sbin/", "usr/sbin/")) and name not in names:
            tree.symlink("/usr/bin/" + name, "/bin/busybox")
    tree.symlink("/init", "/bin/busybox")  # busybox init, by its name

    libs: set[str] = set()
    for rel in BINARIES:
        src = _find(root, rel)
        dest = "/" + rel
        tree.file(dest, src, 0o755)
        libs |= _closure(root, src, tree)
    for link, target in LINKS.items():
        tree.symlink(link, target)
    for path, applet in WRAPPERS.items():
        tree.file(path, f'#!/bin/sh\nexec /bin/busybox {applet} "$@"\n', 0o755)
    libs |= _sudo(root, tree)
    log.debug("libraries: %s", sorted(libs))
    tree.file("/etc/mke2fs.conf", root / "etc" / "mke2fs.conf")

    _modules(root, kver, tree)
    _etc(tree)
    guest = cache.PACKAGE_DIR / "guest" / NAME
    for src in sorted(p for p in guest.rglob("*") if p.is_file()):
        tree.file("/" + str(src.relative_to(guest)), src, 0o755 if os.access(src, os.X_OK) else 0o644)
    return tree


def _sudo(root: Path, tree: Tree) -> set[str]:
    """sudo (setuid root), its sudoers plugin and PAM modules, with their libraries."""
    sudo = _find(root, SUDO)
    tree.file("/" + SUDO, sudo, 0o4755)
    libs = _closure(root, sudo, tree)
    for dest, rel in SUDO_PARTS.items():
        src = next((_resolve(root, root / d / rel) for d in ("", "usr") if (root / d / rel).exists()), None)
        if src is None:
            raise ImageError(f"{rel} is in none of the packages {PACKAGES}")
        tree.file(dest, src, 0o644)
        libs |= _closure(root, src, tree)
    return libs


def _find(root: Path, rel: str) -> Path:
    """A file of the packages, wherever the usr-merge put it."""
    name = rel.split("/")[-1]
    for d in ("sbin", "bin", "usr/sbin", "usr/bin"):
        if (root / d / name).is_file():
            return root / d / name
    raise ImageError(f"{rel} is in none of the packages {PACKAGES}")


def _resolve(root: Path, path: Path) -> Path:
    """Follow symlinks inside the unpacked tree (absolute targets mean the tree, not this machine)."""
    for _ in range(20):
        if not path.is_symlink():
            return path
        target = os.readlink(path)
        path = root / target.lstrip("/") if target.startswith("/") else path.parent / target
    raise ImageError(f"symlink loop at {path}")


def _closure(root: Path, binary: Path, tree: Tree) -> set[str]:
    """Put the binary's interpreter and libraries (recursively) into the tree."""
    interp = interpreter(binary)
    if interp and interp not in tree.entries:
        tree.file(interp, _resolve(root, root / interp.lstrip("/")), 0o755)
    done: set[str] = set()
    todo = needed(binary)
    while todo:
        soname = todo.pop()
        if soname in done:
            continue
        done.add(soname)
        for d in LIB_DIRS:
            if (root / d / soname).exists():
                real = _resolve(root, root / d / soname)
                tree.file(f"/lib/x86_64-linux-gnu/{soname}", real, 0o755)
                todo += needed(real)
                break
        else:
            raise ImageError(f"{binary.name} needs {soname}, which none of the packages has: add its package")
    return done


def _modules(root: Path, kver: str, tree: Tree) -> None:
    """The wanted modules and their dependencies, plus tiny.order: a load order, dependencies first."""
    kdir = root / "lib" / "modules" / kver
    by_name = {p.name[:-3].replace("-", "_"): p for p in kdir.rglob("*.ko")}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        if name not in by_name:
            return  # built into the kernel
        visiting.add(name)
        for dep in filter(None, modinfo(by_name[name]).get("depends", "").split(",")):
            visit(dep.replace("-", "_"))
        order.append(name)

    for m in MODULES:
        if m not in by_name and not _builtin(kdir, m):
            raise ImageError(f"module {m} is neither built into {kver} nor shipped with it")
        visit(m)
    rels = []
    for name in order:
        rel = str(by_name[name].relative_to(kdir))
        tree.file(f"/lib/modules/{kver}/{rel}", by_name[name])
        rels.append(rel)
    tree.file(f"/lib/modules/{kver}/tiny.order", "\n".join(rels) + "\n")


def _builtin(kdir: Path, name: str) -> bool:
    builtin = (kdir / "modules.builtin").read_text().split()
    return any(Path(b).name[:-3].replace("-", "_") == name for b in builtin)


def _etc(tree: Tree) -> None:
    user, uid = USER
    # '*' (not '!'): no password can match, yet dropbear still accepts keys; it refuses '!' accounts.
    # root keeps busybox's ash; the login user gets bash, so that PATH decides (Debian's ping, not the applet)
    tree.file("/etc/passwd", f"root:x:0:0:root:/root:/bin/sh\n{user}:x:{uid}:{uid}:{user}:/home/{user}:/bin/bash\n")
    tree.file("/etc/shadow", f"root:*:19000:0:99999:7:::\n{user}:*:19000:0:99999:7:::\n", 0o600)
    tree.file("/etc/group", f"root:x:0:\ntty:x:5:\nwheel:x:10:{user}\ncdrom:x:24:{user}\n{user}:x:{uid}:\n")
    tree.file("/etc/shells", "/bin/sh\n/bin/ash\n/bin/bash\n")
    tree.file("/etc/hostname", "tiny\n")
    tree.file("/etc/hosts", "127.0.0.1 localhost\n127.0.1.1 tiny\n")  # until the metadata names it
    tree.file("/etc/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n")
    tree.file("/etc/profile", 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nPS1="$(id -un)@$(hostname):\\w\\$ "\n')
    tree.file("/etc/os-release", 'NAME="tiny"\nID=tiny\nPRETTY_NAME="tiny (Debian 12 parts)"\n')
    tree.file("/etc/motd", "tiny: a Debian-made CirrOS. Root is the initramfs: nothing written survives a reboot.\n")
    # As CirrOS's user: root through sudo without a password (none could match: shadow has '*').
    tree.file("/etc/sudoers", "Defaults env_reset\nDefaults secure_path=\"/usr/sbin:/usr/bin:/sbin:/bin\"\n"
              f"root ALL=(ALL:ALL) ALL\n{user} ALL=(root) NOPASSWD: ALL\n", 0o440)
    # The rules above need no authentication; anything else is refused, not asked for a password.
    tree.file("/etc/pam.d/sudo", "auth required pam_deny.so\naccount required pam_permit.so\n"
              "session required pam_permit.so\n")
    tree.symlink("/var/run", "/run")  # where tools look for pid files (udhcpc.IFACE.pid)
