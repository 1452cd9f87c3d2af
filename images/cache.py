"""Built images are kept under a name that hashes their inputs (recipe source,
package versions, host tool versions): a second build with the same inputs is a
file lookup, and a changed input builds a new image beside the old one."""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_CACHE = Path(os.environ.get("IMAGES_CACHE", Path.home() / ".cache" / "guest-images"))


def digest(inputs: list[str], sources: list[Path]) -> str:
    h = hashlib.sha256()
    for text in inputs:
        h.update(text.encode() + b"\0")
    for path in sorted(sources):
        h.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def recipe_sources(*names: str, guest: str | None = None) -> list[Path]:
    """The package's own files a recipe is made of (their content is part of the hash)."""
    files = [PACKAGE_DIR / n for n in names]
    if guest:
        files += [p for p in (PACKAGE_DIR / "guest" / guest).rglob("*") if p.is_file()]
    return files


@contextmanager
def locked(cache_dir: Path, name: str) -> Iterator[None]:
    """One build of an image at a time, across processes."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f".{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_record(image: Path, record: dict) -> None:
    image.with_suffix(".json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def read_record(image: Path) -> dict:
    try:
        return json.loads(image.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}


def drop_stale(cache_dir: Path, name: str, keep: Path) -> None:
    """Older builds of the same image: only the newest inputs matter."""
    for old in cache_dir.glob(f"{name}-*.qcow2"):
        if old != keep:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)
