"""Strict reading of the suite's own YAML files (the inventory, the secrets file).

Every problem is a `YamlFileError` of one line that starts with the line and
column at fault: bytes that are not UTF-8, YAML syntax, a mapping key that is
not a plain word (a list as a key, a number), a key given twice, nesting deeper
than any inventory needs. PyYAML's own messages span several lines and some of
these cases raise TypeError, UnicodeDecodeError or RecursionError instead.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_DEPTH = 32   # the inventory nests 4 levels; far deeper is a mistake, not data


class YamlFileError(ValueError):
    """A file that is not the YAML it should be; the message starts with its line and column."""


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _kind(node: yaml.Node) -> str:
    return {yaml.SequenceNode: "list", yaml.MappingNode: "mapping"}.get(type(node), "value")


class StrictLoader(yaml.SafeLoader):
    """SafeLoader with string keys, each once per mapping, and bounded nesting."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlFileError(f"{_at(self.peek_event().start_mark)}: nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` merges another mapping; its keys are checked there
        where = _at(key_node.start_mark)
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlFileError(f"{where}: a mapping key is a {_kind(key_node)}; keys are plain words like 'name'")
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str):
            raise YamlFileError(f"{where}: mapping key {key!r} is not a word; keys are plain words like 'name'")
        if key in seen:
            raise YamlFileError(f"{where}: duplicate key {key!r} (first at line {seen[key]})")
        seen[key] = key_node.start_mark.line + 1
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM is allowed), or a YamlFileError naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise YamlFileError(f"line {line}, column {column}: byte 0x{data[e.start]:02x} is not UTF-8 text; "
                            "save the file as UTF-8") from None


def parse(text: str) -> Any:
    """The document in `text` (None for an empty one), or a one-line YamlFileError."""
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = _at(mark) if mark else "somewhere"
        problem = " ".join(str(e.problem or e.context or "not valid YAML").split())
        context = ""
        if e.context and e.problem and e.context_mark:
            context = f" ({' '.join(e.context.split())} at {_at(e.context_mark)})"
        raise YamlFileError(f"{where}: not valid YAML: {problem}{context}") from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise YamlFileError(f"line {line}, column {column}: not valid YAML: character U+{e.character:04X} "
                            "is not allowed in YAML text (control characters are not)") from None
    except yaml.YAMLError as e:
        raise YamlFileError(f"not valid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise YamlFileError(f"nested too deeply to read (more than {MAX_DEPTH} levels are never needed)") from None


def read(path: Path, max_bytes: int = 1 << 20) -> Any:
    """Read and parse `path`; OSError is left to the caller, which names the file."""
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise YamlFileError(f"line 1, column 1: larger than {max_bytes} bytes, far more than this file ever holds")
    return parse(decode(data))


def kind_of(value: Any) -> str:
    """What YAML made of a value, without showing it (it may be a password)."""
    kinds = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "a mapping",
             type(None): "nothing (null)", str: "a string"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def where_is(path: Path, key: str) -> str:
    """`line L, column C` of the value of a top-level `key`, in a file that parsed."""
    node = yaml.compose(decode(Path(path).read_bytes()), Loader=StrictLoader)
    for key_node, value_node in getattr(node, "value", []):
        if getattr(key_node, "value", None) == key:
            return _at(value_node.start_mark)
    return "line 1, column 1"
