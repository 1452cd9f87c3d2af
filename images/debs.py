"""Debian packages as build material: resolve the candidate version apt would
install, download it with `apt-get download` into a cache, unpack it with
`dpkg-deb -x`. Nothing but Debian's registry is reachable, through apt (which
honours http_proxy)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .host import ImageError, sh

log = logging.getLogger("images.debs")


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    arch: str
    depends: str

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.version.replace(':', '%3a')}_{self.arch}.deb"


def _env() -> dict:
    return {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


_updated = False


def _update_once() -> None:
    """Refresh apt's lists once per process: a fresh machine may have none, or old ones."""
    global _updated
    if _updated or os.geteuid() != 0:
        return
    _updated = True
    log.info("apt-get update")
    sh(["apt-get", "-q", "update"], env=_env(), check=False)


def _show(names: list[str]) -> dict[str, Package]:
    # One apt-cache call for all names: each call costs about a second of parsing lists.
    p = sh(["apt-cache", "show", "--no-all-versions", *names], env=_env(), check=False)
    found = {}
    for stanza in p.stdout.split("\n\n"):
        fields = dict(re.findall(r"(?m)^([\w-]+): (.*)$", stanza))
        if "Package" in fields and "Version" in fields:
            found[fields["Package"]] = Package(fields["Package"], fields["Version"],
                                               fields.get("Architecture", "amd64"), fields.get("Depends", ""))
    return found


def _lists_stamp() -> str:
    """Changes whenever apt's idea of the candidates can change."""
    paths = [*Path("/var/lib/apt/lists").glob("*_Packages*"), *Path("/etc/apt").rglob("*")]
    return json.dumps(sorted((str(p), p.stat().st_mtime_ns) for p in paths if p.is_file()))


def candidates(names: list[str], memo_dir: Path | None = None) -> dict[str, Package]:
    """The versions apt would install now, remembered in memo_dir until apt's lists change."""
    memo = memo_dir / "candidates.json" if memo_dir else None
    key = hashlib.sha256((_lists_stamp() + "\0".join(sorted(names))).encode()).hexdigest()
    if memo and memo.exists():
        saved = json.loads(memo.read_text()).get(key)
        if saved:
            return {n: Package(**v) for n, v in saved.items()}
    found = _show(names)
    if set(names) - set(found):
        _update_once()
        found = _show(names)
    missing = sorted(set(names) - set(found))
    if missing:
        raise ImageError(f"no installable version of {', '.join(missing)}; run: apt-get update")
    if memo:
        memo.parent.mkdir(parents=True, exist_ok=True)
        saved = json.loads(memo.read_text()) if memo.exists() else {}
        saved = {k: v for k, v in saved.items() if k == key or len(saved) < 20}
        saved[key] = {n: asdict(p) for n, p in found.items()}
        memo.write_text(json.dumps(saved))
    return found


def candidate(name: str) -> Package:
    return candidates([name])[name]


def kernel_package(meta: Package) -> str:
    """The versioned kernel package a metapackage (linux-image-cloud-amd64) stands for."""
    for alt in meta.depends.split(","):
        name = alt.split("|")[0].split("(")[0].strip()
        if name.startswith("linux-image-"):
            return name
    raise ImageError(f"{meta.name} depends on no linux-image package")


def resolve(names: list[str], memo_dir: Path | None = None) -> list[Package]:
    """Candidates of these names; a kernel metapackage is replaced by the kernel it stands for."""
    found = candidates(names, memo_dir)
    metas = [n for n in names if n.startswith("linux-image-") and found[n].depends.startswith("linux-image-")]
    kernels = candidates([kernel_package(found[m]) for m in metas], memo_dir) if metas else {}
    out = []
    for n in names:
        out.append(kernels[kernel_package(found[n])] if n in metas else found[n])
    return out


def fetch(pkgs: list[Package], deb_dir: Path) -> list[Path]:
    """The .deb files of these exact versions, downloaded once into deb_dir."""
    deb_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for pkg in pkgs:
        dest = deb_dir / pkg.filename
        if not dest.exists():
            _download(pkg, dest)
        out.append(dest)
    return out


def _download(pkg: Package, dest: Path) -> None:
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        # Downloading as root into a dir the _apt user cannot read is fine: skip the sandbox warning.
        argv = ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", f"{pkg.name}={pkg.version}"]
        p = sh(argv, cwd=Path(tmp), env=_env(), check=False)
        if p.returncode != 0:
            _update_once()
            sh(argv, cwd=Path(tmp), env=_env())
        got = list(Path(tmp).glob("*.deb"))
        if len(got) != 1:
            raise ImageError(f"apt-get download {pkg.name}={pkg.version} gave {len(got)} files")
        got[0].rename(dest)
    log.info("downloaded %s", dest.name)


def extract(debs: list[Path], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        sh(["dpkg-deb", "-x", deb, dest])
    return dest
