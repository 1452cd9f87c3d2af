"""Measure the guest images: size, build time cold (empty cache: downloads,
debootstrap, everything) and cached (a second build: a lookup), and boot-to-SSH
under QEMU on this machine (TCG without vmx/svm). Appends a dated section to
bench/results-images.md.

    sudo .venv/bin/python bench/images.py [--images tiny,debian] [--boots 3]

The cold builds use a temporary cache, removed afterwards; the images' usual
cache (~/.cache/guest-images) is left alone.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import images  # noqa: E402
from images import boot, cache  # noqa: E402
from images.host import sh  # noqa: E402


def timed(fn):
    started = time.monotonic()
    value = fn()
    return value, time.monotonic() - started


def machine() -> str:
    mem_kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    return (f"{os.cpu_count()} cores ({cpu.group(1) if cpu else platform.machine()}), "
            f"{mem_kib / 2**20:.0f} GiB, Linux {platform.release()}, QEMU accel {boot.accelerator()}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", default="tiny,debian")
    parser.add_argument("--boots", type=int, default=3, help="boots of tiny (debian boots once: minutes)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-images-", dir="/var/tmp") as tmp:
        for name in args.images.split(","):
            image, cold = timed(lambda: images.build(name, Path(tmp)))
            _, cached = timed(lambda: images.build(name, Path(tmp)))
            virtual = int(re.search(r"virtual size: .*\((\d+) bytes\)",
                                    sh(["qemu-img", "info", image]).stdout).group(1))
            boots = []
            for i in range(args.boots if name == "tiny" else 1):
                work = Path(tmp, f"boot-{name}-{i}")
                boots.append(boot.boot_test(name, image, work).boot_to_ssh_s)
                shutil.rmtree(work, ignore_errors=True)
            record = cache.read_record(image)
            rows.append((name, image.stat().st_size, virtual, cold, cached, boots, record))
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} — {machine()}\n",
             "| image | qcow2 MiB | virtual MiB | build cold s | build cached s | boot to SSH s (TCG) | kernel |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, size, virtual, cold, cached, boots, record in rows:
        boot_text = f"{statistics.median(boots):.1f}"
        if len(boots) > 1:
            boot_text += f" (median of {len(boots)}: {', '.join(f'{b:.1f}' for b in boots)})"
        lines.append(f"| {name} | {size / 2**20:.1f} | {virtual / 2**20:.0f} | {cold:.1f} | {cached:.2f} | "
                     f"{boot_text} | {record.get('kernel', '?')} |")
    lines += ["", "Cold: an empty cache (packages downloaded through apt, debootstrap for debian). "
                  "Cached: the same build again (inputs hashed, image found). Boot to SSH: QEMU started "
                  "until the first command over SSH with the fake metadata service's key returned.", ""]
    out = Path(__file__).with_name("results-images.md")
    if not out.exists():
        out.write_text("# Guest images: measured figures\n\nTargets: tiny boots to SSH under TCG in under 30 s "
                       "and weighs tens of MB; a cached build is instant.\n")
    with out.open("a") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
