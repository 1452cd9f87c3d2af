"""Commands run on this machine, and the host tools the builders need.

A fresh CI machine has none of them: as root the builder installs what is
missing from Debian's packages; otherwise it stops with the one command to run.
"""
from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


# command -> Debian package that provides it
TOOLS = {
    "qemu-img": "qemu-utils",
    "qemu-system-x86_64": "qemu-system-x86",
    "syslinux": "syslinux",
    "mcopy": "mtools",
    "mkfs.fat": "dosfstools",
    "mke2fs": "e2fsprogs",
    "debootstrap": "debootstrap",
    "grub-mkimage": "grub-common",
    "dpkg-deb": "dpkg",
    "apt-get": "apt",
}
# files a command alone does not bring (boot code the disks are made of)
FILES = {
    "/usr/lib/syslinux/mbr/mbr.bin": "syslinux-common",
    "/usr/lib/grub/i386-pc/boot.img": "grub-pc-bin",
}


class ImageError(RuntimeError):
    """A build or boot step failed; the message names the command and its output."""


def sh(argv: Sequence[str], *, cwd: Path | None = None, env: dict | None = None,
       timeout: float = 1800, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-4:]
        raise ImageError(f"{' '.join(map(str, argv))} failed (exit {p.returncode}): {' / '.join(tail)}")
    return p


def ensure(commands: Sequence[str] = (), files: Sequence[str] = ()) -> None:
    """Make the named host commands and files present, installing their packages as root."""
    from lab import apt
    try:
        apt.ensure({**{c: TOOLS[c] for c in commands}, **{f: FILES[f] for f in files}})
    except apt.InstallError as e:
        raise ImageError(f"host tools: {e}") from None


def package_version(pkg: str) -> str:
    """The installed version of a host package (part of a build's inputs)."""
    p = sh(["dpkg-query", "-W", "-f=${Version}", pkg], check=False)
    return p.stdout.strip() if p.returncode == 0 else "absent"
