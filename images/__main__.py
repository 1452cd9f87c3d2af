"""python -m images build tiny|debian [--out DIR]
python -m images boot-test tiny|debian [--out DIR] [--image QCOW2] [--no-disk]"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

from . import NAMES, DEFAULT_CACHE, ImageError, build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m images", description="Guest images from Debian packages.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build an image (or find it cached); prints its path")
    t = sub.add_parser("boot-test", help="boot an image under QEMU with a fake metadata service, log in by SSH")
    for p in (b, t):
        p.add_argument("name", choices=NAMES)
        p.add_argument("--out", type=Path, default=DEFAULT_CACHE, help=f"cache and output dir ({DEFAULT_CACHE})")
    t.add_argument("--image", type=Path, help="boot this qcow2 instead of building")
    t.add_argument("--no-disk", action="store_true", help="skip the second-disk check")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("paramiko").setLevel(logging.WARNING)
    try:
        started = time.monotonic()
        image = getattr(args, "image", None) or build(args.name, args.out)
        if args.command == "build":
            print(image)
            logging.getLogger("images").info("%s ready in %.1fs", image.name, time.monotonic() - started)
            return 0
        from .boot import boot_test
        with tempfile.TemporaryDirectory(prefix=f"boot-{args.name}-") as tmp:
            report = boot_test(args.name, image, Path(tmp), disk=not args.no_disk)
            report.console = "(removed with the run's temporary dir)"
        print(json.dumps(dataclasses.asdict(report), indent=2))
        return 0
    except ImageError as e:
        print(f"images: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
