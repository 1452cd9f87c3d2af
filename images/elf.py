"""Just enough ELF reading to pack binaries and modules without host binutils
or kmod: a binary's interpreter and needed libraries, a module's dependencies."""
from __future__ import annotations

import struct
from pathlib import Path


def _sections(data: bytes) -> list[tuple[str, int, int, int, int]]:
    """(name, type, offset, size, link) of each section of a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    raw = [struct.unpack_from("<IIQQQQII", data, shoff + i * shentsize) for i in range(shnum)]
    names_off = raw[shstrndx][4]
    out = []
    for name, typ, _flags, _addr, off, size, link, _info in raw:
        end = data.index(b"\0", names_off + name)
        out.append((data[names_off + name:end].decode(), typ, off, size, link))
    return out


def needed(path: Path) -> list[str]:
    """DT_NEEDED sonames of a dynamically linked file (empty for a static one)."""
    data = path.read_bytes()
    secs = _sections(data)
    out = []
    for name, _typ, off, size, link in secs:
        if name != ".dynamic":
            continue
        strtab = secs[link][2]
        for i in range(0, size, 16):
            tag, val = struct.unpack_from("<qQ", data, off + i)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                out.append(data[strtab + val:data.index(b"\0", strtab + val)].decode())
    return out


def interpreter(path: Path) -> str | None:
    data = path.read_bytes()
    for name, _typ, off, size, _link in _sections(data):
        if name == ".interp":
            return data[off:off + size].rstrip(b"\0").decode()
    return None


def modinfo(path: Path) -> dict[str, str]:
    """A kernel module's .modinfo (first value of each key)."""
    data = path.read_bytes()
    for name, _typ, off, size, _link in _sections(data):
        if name == ".modinfo":
            info: dict[str, str] = {}
            for item in data[off:off + size].split(b"\0"):
                key, sep, value = item.decode(errors="replace").partition("=")
                if sep:
                    info.setdefault(key, value)
            return info
    return {}
