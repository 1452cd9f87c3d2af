"""The Debian mirror this machine's apt uses: the lab's hosts use the same
one, through the proxy, and the proxy allows nothing else."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .errors import LabError


@dataclass(frozen=True)
class Source:
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]


def machine_sources(etc: Path = Path("/etc/apt")) -> list[Source]:
    """Debian sources of this machine (deb822 and one-line formats), enabled ones only."""
    found: list[Source] = []
    files = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list")),
             *sorted((etc / "sources.list.d").glob("*.sources"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text()
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"(?m)^(\w[\w-]*):\s*(.+)$", stanza))
                if fields.get("Enabled", "yes").lower() == "no" or "deb" not in fields.get("Types", "").split():
                    continue
                for uri in fields.get("URIs", "").split():
                    found.append(Source(uri.rstrip("/"), tuple(fields.get("Suites", "").split()),
                                        tuple(fields.get("Components", "main").split())))
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    found.append(Source(words[1].rstrip("/"), (words[2],), tuple(words[3:]) or ("main",)))
    debian = [s for s in found if any(x.startswith("bookworm") for x in s.suites)]
    if not debian:
        raise LabError("no Debian bookworm source in this machine's /etc/apt: the lab takes its mirror from there")
    return debian


def mirror_hosts(sources: list[Source]) -> list[str]:
    return sorted({urlparse(s.uri).hostname or "" for s in sources} - {""})


def main_archive(sources: list[Source]) -> str:
    """The URI that serves `bookworm` itself (debootstrap's mirror)."""
    for s in sources:
        if "bookworm" in s.suites:
            return s.uri
    raise LabError("no source serves the bookworm suite in this machine's /etc/apt")


def sources_list(sources: list[Source]) -> str:
    return "".join(f"deb {s.uri} {suite} {' '.join(s.components)}\n" for s in sources for suite in s.suites)
