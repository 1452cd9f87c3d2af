"""Files: whole, a marked block, a line, INI settings; written atomically, only when they differ."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ..facts import Fact, FileState
from .base import Action, Change, Step, Values, no_change


@dataclass
class Edit(Step):
    """A file whose wanted content is a function of its current content.

    The file is read with its mode and owner in one fact; the new content is
    computed here and written atomically only if it differs.
    """
    script: str
    path: str
    transform: Callable[[str | None], str]
    mode: str = "0644"
    owner: str = "root"
    group: str = "root"
    title: str = ""

    def __post_init__(self) -> None:
        self.title = self.title or self.path

    def facts(self) -> list[Fact]:
        return [FileState(self.path)]

    def diff(self, values: Values, done: set[str]) -> Change:
        info = values[FileState(self.path)]
        current = info.content if info else None
        wanted = self.transform(current)
        if current is None:
            return Change([self._write(wanted)], "file missing")
        actions, reasons = [], []
        if current != wanted:
            actions.append(self._write(wanted))
            reasons.append("content differs")
        else:
            mode, owner, group = info.mode, info.owner, info.group
            if int(mode, 8) != int(self.mode, 8):
                actions.append(Action.run(["chmod", self.mode, self.path]))
                reasons.append(f"mode {mode} -> {self.mode}")
            if (owner, group) != (self.owner, self.group):
                actions.append(Action.run(["chown", f"{self.owner}:{self.group}", self.path]))
                reasons.append(f"owner {owner}:{group} -> {self.owner}:{self.group}")
        return Change(actions, ", ".join(reasons)) if actions else no_change("content, mode and owner as wanted")

    def _write(self, content: str) -> Action:
        return Action.write(self.path, content.encode(), self.mode, self.owner, self.group)

    def fresh(self) -> list[Action]:
        return [self._write(self.transform(None))]


def File(script: str, path: str, content: str, **kw) -> Edit:
    """A file with exactly this content."""
    return Edit(script, path, lambda _old: content, **kw)


def Block(script: str, path: str, marker: str, lines: Iterable[str], **kw) -> Edit:
    """A marked block of lines inside a file that others also write (like blockinfile)."""
    begin, end = f"# BEGIN {marker}", f"# END {marker}"
    block = "\n".join([begin, *lines, end]) + "\n"

    def transform(old: str | None) -> str:
        old = old or ""
        if begin in old and end in old:
            head, _, rest = old.partition(begin)
            _, _, tail = rest.partition(end)
            return head + block + tail.lstrip("\n")
        return old + ("" if old.endswith("\n") or not old else "\n") + block

    return Edit(script, path, transform, title=kw.pop("title", f"{path} block {marker}"), **kw)


def Line(script: str, path: str, line: str, match: Callable[[str], bool], **kw) -> Edit:
    """A line present in a file: the first line that `match`es is replaced, else appended."""
    def transform(old: str | None) -> str:
        lines = (old or "").splitlines()
        for i, existing in enumerate(lines):
            if match(existing):
                lines[i] = line
                break
        else:
            lines.append(line)
        return "\n".join(lines) + "\n"

    return Edit(script, path, transform, title=kw.pop("title", f"{path}: {line}"), **kw)


def ini_set(text: str | None, settings: Mapping[str, Mapping[str, object]]) -> str:
    """Set keys in an INI file, keeping comments, order and everything else.

    Section "" holds the keys of a file without sections. A value of None
    removes the key. Keys commented out in the packaged file
    stay commented; the active setting is added under its section.
    """
    lines = (text or "").splitlines()
    for section, values in settings.items():
        header = f"[{section}]"
        try:
            # Section "" is the top of a file without sections (libvirtd.conf, qemu.conf).
            start = -1 if section == "" else next(i for i, l in enumerate(lines) if l.strip() == header)
        except StopIteration:
            if lines and lines[-1].strip():
                lines.append("")
            lines.append(header)
            start = len(lines) - 1
        end = len(lines) if section == "" else next(
            (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        for key, value in values.items():
            found = [i for i in range(start + 1, end)
                     if lines[i].split("=", 1)[0].strip() == key and not lines[i].lstrip().startswith(("#", ";"))]
            if value is None:
                for i in reversed(found):
                    del lines[i]
                    end -= 1
                continue
            text_value = str(value).lower() if isinstance(value, bool) else (
                value.reveal() if hasattr(value, "reveal") else str(value))
            new = f"{key} = {text_value}"
            if found:
                lines[found[0]] = new
                for i in reversed(found[1:]):
                    del lines[i]
                    end -= 1
            else:
                # after the last non-blank line of the section
                at = end
                while at > start + 1 and not lines[at - 1].strip() and section != "":
                    at -= 1
                lines.insert(at, new)
                end += 1
    return "\n".join(lines) + "\n"


def Ini(script: str, path: str, settings: Mapping[str, Mapping[str, object]], **kw) -> Edit:
    """INI settings (section -> key -> value) in a file that the package owns."""
    sections = ", ".join(f"[{s}] {len(v)} keys" for s, v in settings.items())
    return Edit(script, path, lambda old: ini_set(old, settings), title=kw.pop("title", f"{path}: {sections}"), **kw)
