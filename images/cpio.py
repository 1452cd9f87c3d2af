"""A gzip'd newc cpio archive (the initramfs format) written from a tree
described in memory: owners, device nodes and modes come out right without root
or fakeroot, and the archive is byte-for-byte reproducible (all mtimes 0)."""
from __future__ import annotations

import gzip
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Entry:
    mode: int  # including the file type bits
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)
    uid: int = 0
    gid: int = 0


class Tree:
    """Paths (absolute, '/'-separated) to entries; parent directories appear as needed."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def dir(self, path: str, mode: int = 0o755, owner: tuple[int, int] = (0, 0)) -> None:
        self._parents(path)
        self.entries[path] = Entry(stat.S_IFDIR | mode, uid=owner[0], gid=owner[1])

    def file(self, path: str, data: bytes | str | Path, mode: int = 0o644) -> None:
        if isinstance(data, Path):
            data = data.read_bytes()
        elif isinstance(data, str):
            data = data.encode()
        self._parents(path)
        self.entries[path] = Entry(stat.S_IFREG | mode, data)

    def symlink(self, path: str, target: str) -> None:
        self._parents(path)
        self.entries[path] = Entry(stat.S_IFLNK | 0o777, target.encode())

    def device(self, path: str, kind: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._parents(path)
        self.entries[path] = Entry((stat.S_IFCHR if kind == "c" else stat.S_IFBLK) | mode, rdev=(major, minor))

    def _parents(self, path: str) -> None:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/" + "/".join(parts[:i])
            if d not in self.entries:
                self.entries[d] = Entry(stat.S_IFDIR | 0o755)

    def write_cpio_gz(self, out: Path) -> None:
        # No file name in the gzip header either: the same tree gives the same bytes anywhere.
        with open(out, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=9,
                                                   mtime=0) as f:
            ino = 1
            for path in sorted(self.entries):
                e = self.entries[path]
                _member(f, path.lstrip("/"), e, ino)
                ino += 1
            _member(f, "TRAILER!!!", Entry(0), 0)


def _member(f, name: str, e: Entry, ino: int) -> None:
    encoded = name.encode() + b"\0"
    fields = [ino, e.mode, e.uid, e.gid, 1, 0, len(e.data), 0, 0, e.rdev[0], e.rdev[1], len(encoded), 0]
    header = b"070701" + b"".join(b"%08X" % v for v in fields)
    f.write(header + encoded + b"\0" * (-(len(header) + len(encoded)) % 4))
    f.write(e.data + b"\0" * (-len(e.data) % 4))
