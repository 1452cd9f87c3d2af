"""Debian packages on this machine (the operator's), installed when a tool the
lab, the image builders or the checks need is missing. One implementation for
all three; each caller says what it needs and turns a failure into its own error."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger("lab.apt")


class InstallError(RuntimeError):
    """The packages could not be installed; the message holds the command to run."""


def install(packages: Sequence[str]) -> None:
    """apt-get install as root; lists refreshed once when the first try fails
    (a fresh machine may have none, or old ones naming versions long gone)."""
    hint = f"apt-get install --no-install-recommends {' '.join(packages)}"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise InstallError(f"missing on this machine; run as root: {hint}")
    log.info("installing on this machine: %s", " ".join(packages))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    argv = ["apt-get", "-q", "-y", "--no-install-recommends", "install", *packages]
    if subprocess.run(argv, env=env, capture_output=True).returncode == 0:
        return
    subprocess.run(["apt-get", "-q", "update"], env=env, capture_output=True)
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallError(f"could not install; run: {hint} ({(done.stderr or done.stdout).strip()[-300:]})")


def present(tool: str) -> bool:
    """An absolute path that exists, or a command on PATH (or in /usr/sbin, /sbin:
    a non-root PATH lacks them)."""
    if tool.startswith("/"):
        return Path(tool).exists()
    return bool(shutil.which(tool)) or any(Path(d, tool).exists() for d in ("/usr/sbin", "/sbin"))


def missing(wanted: Mapping[str, str]) -> list[str]:
    """The packages of `wanted` (a command or an absolute path -> the Debian
    package that brings it) whose tool is absent here."""
    return sorted({package for tool, package in wanted.items() if not present(tool)})


def ensure(wanted: Mapping[str, str]) -> None:
    """Every tool of `wanted` present: the missing ones' packages installed (as
    root). InstallError otherwise, holding the command to run."""
    packages = missing(wanted)
    if packages:
        install(packages)
