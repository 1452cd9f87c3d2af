"""The builders' pieces, on small data: no downloads, no QEMU."""
import gzip
import json
import subprocess
import sys
from pathlib import Path

from images import cache, disk, metadata
from images.cpio import Tree
from images.elf import interpreter, modinfo, needed


def _parse_newc(blob: bytes) -> dict[str, tuple[int, int, bytes]]:
    out, pos = {}, 0
    while True:
        head = blob[pos:pos + 110]
        assert head[:6] == b"070701"
        f = [int(head[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, uid, size, namesize = f[1], f[2], f[6], f[11]
        name = blob[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        data = blob[pos:pos + size]
        pos += size + (-size % 4)
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, uid, data)


def test_cpio_has_parents_modes_owners_and_devices(tmp_path):
    t = Tree()
    t.file("/etc/init.d/rcS", "#!/bin/sh\n", 0o755)
    t.symlink("/init", "/bin/busybox")
    t.device("/dev/console", "c", 5, 1)
    t.dir("/home/tiny", owner=(1000, 1000))
    t.write_cpio_gz(tmp_path / "a.gz")
    t.write_cpio_gz(tmp_path / "b.gz")
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()  # reproducible
    entries = _parse_newc(gzip.decompress((tmp_path / "a.gz").read_bytes()))
    assert list(entries)[:3] == ["dev", "dev/console", "etc"]  # parents before children
    assert entries["etc/init.d/rcS"][0] == 0o100755 and entries["etc/init.d/rcS"][2] == b"#!/bin/sh\n"
    assert entries["init"][0] == 0o120777 and entries["init"][2] == b"/bin/busybox"
    assert entries["dev/console"][0] == 0o020600
    assert entries["home/tiny"][1] == 1000


def test_elf_reads_interpreter_and_libraries():
    python = Path(sys.executable).resolve()
    assert "libc.so.6" in needed(python) or "libc.so.6" in needed(Path("/bin/ls"))
    assert interpreter(Path("/bin/ls")) == "/lib64/ld-linux-x86-64.so.2"
    assert modinfo(Path("/bin/ls")) == {}


def test_mbr_one_partition_after_the_grub_gap():
    tail = disk.mbr(disk_sectors=2 * 2**20, start=2048)
    assert len(tail) == 512 - 440 and tail[-2:] == b"\x55\xaa"
    entry = tail[6:22]
    assert entry[0] == 0x80 and entry[4] == 0x83
    assert int.from_bytes(entry[8:12], "little") == 2048
    assert int.from_bytes(entry[12:16], "little") == 2 * 2**20 - 2048


def test_digest_follows_inputs_and_sources(tmp_path):
    src = cache.recipe_sources("tiny.py", guest="tiny")
    assert cache.digest(["a=1"], src) == cache.digest(["a=1"], src)
    assert cache.digest(["a=1"], src) != cache.digest(["a=2"], src)
    assert any(p.name == "rcS" for p in src)


def _ask(table: Path, log: Path, path: str) -> bytes:
    request = f"GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n".encode()
    return subprocess.run([sys.executable, metadata.__file__, str(table), str(log)], input=request,
                          capture_output=True, timeout=30).stdout


def test_metadata_responder_serves_openstack_and_ec2(tmp_path):
    table, log = tmp_path / "routes.json", tmp_path / "requests.log"
    table.write_text(json.dumps(metadata.routes("vm1.novalocal", "ssh-ed25519 AAAA test", "iid-1")))
    answer = _ask(table, log, "/openstack/latest/meta_data.json")
    head, body = answer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.0 200")
    meta = json.loads(body)
    assert meta["hostname"] == "vm1.novalocal" and meta["public_keys"]["boot-test"].startswith("ssh-ed25519 AAAA")
    assert _ask(table, log, "/latest/meta-data/public-keys/").endswith(b"0=boot-test")
    assert _ask(table, log, "/latest/meta-data/public-keys/0/openssh-key").endswith(b"ssh-ed25519 AAAA test\n")
    assert _ask(table, log, "/nothing").startswith(b"HTTP/1.0 404")
    assert len(log.read_text().splitlines()) == 4
