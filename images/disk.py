"""Bootable disks assembled without mounting anything (loop mounts fail inside
containers, and need root): a FAT "superfloppy" with SYSLINUX for tiny, and an
MBR disk with one ext4 partition and GRUB for debian."""
from __future__ import annotations

import struct
import tempfile
from pathlib import Path

from .host import ImageError, sh

GRUB_DIR = Path("/usr/lib/grub/i386-pc")
SECTOR = 512
PART_START = 2048  # sectors: the usual 1 MiB alignment, and the gap where GRUB's core.img lives


def fat_syslinux(raw: Path, size_mib: int, files: dict[str, Path], syslinux_cfg: str,
                 label: str, volume_id: str) -> None:
    """A whole-disk FAT filesystem that SYSLINUX boots: the BIOS runs its boot
    sector directly, so no partition table is needed."""
    raw.unlink(missing_ok=True)
    with open(raw, "wb") as f:
        f.truncate(size_mib * 2**20)
    sh(["mkfs.fat", "-n", label, "-i", volume_id, raw])
    sh(["syslinux", "--install", raw])
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp, "syslinux.cfg")
        cfg.write_text(syslinux_cfg)
        for name, src in {**files, "syslinux.cfg": cfg}.items():
            sh(["mcopy", "-o", "-i", raw, src, f"::{name}"])


def mbr(disk_sectors: int, start: int, bootable: bool = True, ptype: int = 0x83) -> bytes:
    """The 72 bytes from offset 440: disk signature, one partition filling the disk, 0x55AA."""
    # CHS fields say "use LBA" (the maximum); every BIOS since the 90s reads the LBA fields.
    entry = struct.pack("<B3sB3sII", 0x80 if bootable else 0, b"\xfe\xff\xff", ptype, b"\xfe\xff\xff",
                        start, disk_sectors - start)
    return struct.pack("<IH", 0x1D1CE, 0) + entry + b"\0" * 48 + b"\x55\xaa"


def ext4_grub(raw: Path, size_mib: int, root: Path, label: str, uuid: str, grub_modules: list[str]) -> None:
    """One ext4 partition populated from `root` (mke2fs -d), GRUB in the MBR and the gap after it.

    grub-install would need the disk as a device; instead grub-mkimage builds core.img
    with the partition and filesystem drivers built in, and boot.img (the MBR code)
    finds it at sector 1, where it expects it by default.
    """
    sectors = size_mib * 2**20 // SECTOR
    raw.unlink(missing_ok=True)
    with open(raw, "wb") as f:
        f.truncate(sectors * SECTOR)
    fs_kib = (sectors - PART_START) * SECTOR // 1024
    # -F: the file already holds the partition table; -E offset writes the filesystem inside partition 1.
    sh(["mke2fs", "-q", "-F", "-t", "ext4", "-L", label, "-U", uuid, "-d", root,
        "-E", f"offset={PART_START * SECTOR}", raw, f"{fs_kib}k"], timeout=1800)
    with tempfile.TemporaryDirectory() as tmp:
        core = Path(tmp, "core.img")
        sh(["grub-mkimage", "-O", "i386-pc", "-o", core, "-p", "(hd0,msdos1)/boot/grub", *grub_modules])
        core_bytes = core.read_bytes()
    if len(core_bytes) > (PART_START - 1) * SECTOR:
        raise ImageError(f"GRUB core.img is {len(core_bytes)} bytes: more than the gap before partition 1")
    boot = (GRUB_DIR / "boot.img").read_bytes()
    with open(raw, "r+b") as f:
        f.write(boot[:440])  # boot code only: the partition table follows
        f.write(mbr(sectors, PART_START))
        f.seek(SECTOR)
        f.write(core_bytes)


def to_qcow2(raw: Path, out: Path, compress: bool = False) -> None:
    tmp = out.with_name(out.name + ".partial")
    sh(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", *(["-c"] if compress else []), raw, tmp])
    tmp.rename(out)
