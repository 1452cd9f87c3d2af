"""The report's 18-add-cirros and 19-add-ubuntu: the inventory's images in
Glance, uploaded from the operator's machine.

Idempotent by content: an image whose name and sha512 (Glance's os_hash_value)
match is left alone; a changed image is uploaded anew, and the older ones of
that name are deleted once the new one is active.
"""
from __future__ import annotations

import hashlib
import logging
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .inventory import Image, Inventory
from .secrets import Secrets
from .waits import wait_for_status

log = logging.getLogger(__name__)
IMAGE_FAILURES = ("killed", "deleted", "pending_delete")  # an upload that ends there will not become active


class ImageImportError(RuntimeError):
    """An image could not be made, fetched or uploaded; the message names it."""


def local_file(image: Image, cache_dir: Path) -> Path:
    """The image's file on this machine: built, given, or downloaded once and verified."""
    if image.build:
        import images  # the builder; imported only when an image is to be built
        try:
            return images.build(image.build, cache_dir)
        except images.ImageError as e:
            raise ImageImportError(f"images: {image.name}: build {image.build}: {e}") from None
    if image.file:
        if not image.file.is_file():
            raise ImageImportError(f"images: {image.name}: file {image.file} does not exist")
        return image.file
    assert image.url and image.checksum
    want = image.checksum.removeprefix("sha256:")
    dest = cache_dir / "downloads" / f"{want[:16]}-{Path(image.url).name}"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_suffix(".part")
        log.info("downloading %s", image.url)
        try:
            urllib.request.urlretrieve(image.url, part)
        except OSError as e:
            raise ImageImportError(f"images: {image.name}: {image.url}: {e}") from None
        got = digest(part, "sha256")
        if got != want:
            part.unlink()
            raise ImageImportError(f"images: {image.name}: {image.url} has sha256 {got}, the inventory says {want}")
        part.rename(dest)
    return dest


def digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def glance_client(inv: Inventory, secrets: Secrets):
    from glanceclient import Client

    from .openstack_api import admin_session

    # uploads take minutes; a request with a file body is not sent again
    return Client("2", session=admin_session(inv, secrets, timeout=300, connect_retries=0))


def local_files(inv: Inventory, cache_dir: Path) -> dict[str, Path]:
    """Every inventory image's file here (built or fetched as needed): no cloud needed."""
    return {image.name: local_file(image, cache_dir) for image in inv.images}


def converge(inv: Inventory, secrets: Secrets, files: dict[str, Path],
             progress: Callable[[str], None] = log.info, glance=None) -> list[tuple[str, bool, str]]:
    """Each inventory image in Glance; returns (image, changed, reason) per image."""
    if not inv.images:
        return []
    glance = glance or glance_client(inv, secrets)
    results = []
    for image in inv.images:
        path = files[image.name]
        sha512 = digest(path, "sha512")
        have = [i for i in glance.images.list(filters={"name": image.name})]
        if any(i.get("os_hash_value") == sha512 and i.get("status") == "active" for i in have):
            results.append((image.name, False, f"{path.name} already in Glance (same sha512)"))
            continue
        started = time.monotonic()
        progress(f"glance: uploading {image.name} from {path.name} ({path.stat().st_size / 2**20:.0f} MiB)")
        new = glance.images.create(name=image.name, disk_format=image.disk_format,
                                   container_format=image.container_format, visibility=image.visibility)
        try:
            with open(path, "rb") as f:
                glance.images.upload(new.id, f)
            wait_for_status(lambda: glance.images.get(new.id), "active", f"image {image.name} active", 300,
                            failures=IMAGE_FAILURES)
        except Exception:
            glance.images.delete(new.id)  # no half-uploaded image left under a good name
            raise
        for old in have:
            glance.images.delete(old.id)
        reason = ("replaced a changed image" if have else "missing") + f", uploaded in {time.monotonic() - started:.0f}s"
        results.append((image.name, True, reason))
    return results
