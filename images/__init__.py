"""Guest images built from Debian's packages alone (the cloud has no internet):
`tiny` (a CirrOS-like initramfs system) and `debian` (Debian 12 with cloud-init)."""
from __future__ import annotations

from pathlib import Path

from .cache import DEFAULT_CACHE
from .host import ImageError

NAMES = ("tiny", "debian")

__all__ = ["NAMES", "DEFAULT_CACHE", "ImageError", "build"]


def build(name: str, cache_dir: Path = DEFAULT_CACHE) -> Path:
    """The qcow2 of image `name`, built if no image with the same inputs is cached."""
    if name == "tiny":
        from . import tiny
        return tiny.build(Path(cache_dir))
    if name == "debian":
        from . import debian
        return debian.build(Path(cache_dir))
    raise ImageError(f"unknown image {name!r}: choose from {', '.join(NAMES)}")
