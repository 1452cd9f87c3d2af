"""The inventory's schema as data: every field with its YAML type, default and
what is allowed. `read_section` checks one mapping of the file against it;
the fields themselves are in deploy/schema_fields.py (the README's table
"Inventory schema" is made from them).

A field's problem is one line: the field's path, the value, what is allowed
(`hosts[2] (compute3).port: -22 is out of range (allowed: an integer 1-65535)`).
Relations between fields (addresses inside networks, unique names) are in
deploy/inventory_checks.py.
"""
from __future__ import annotations

import datetime
import difflib
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

REQUIRED: Any = object()


class InventoryError(ValueError):
    """A problem in the inventory file; the one-line message names the field."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.splitlines()))


class Bad(Exception):
    """A value's type is right but the value is not allowed; `str()` says why."""


def describe(value: Any) -> str:
    """A value as an error shows it: scalars as written, containers by size only
    (an alias-built structure can be huge when printed)."""
    names = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null",
             bytes: "binary", datetime.date: "date", datetime.datetime: "timestamp"}
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} keys"
    text = repr(value)
    return f"{names.get(type(value), type(value).__name__)} {text[:70] + '...' if len(text) > 70 else text}"


def show(value: Any) -> str:
    text = repr(value)
    return text[:70] + "..." if len(text) > 70 else text


def key_text(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else repr(key)


def join(where: str, key: str) -> str:
    return f"{where}.{key_text(key)}" if where else key_text(key)


@dataclass(frozen=True)
class Field:
    kind: str                                   # the YAML type, as the README names it
    allowed: str                                # what is allowed, for errors and the README
    types: tuple[type, ...] = (str,)
    check: Callable[[Any], Any] | None = None   # value -> parsed value, or raise Bad
    default: Any = REQUIRED
    default_doc: str | None = None              # the default as the README shows it
    section: Mapping[str, Field] | None = None  # a mapping of fields
    item: Field | None = None                   # a list of these

    def parse(self, where: str, value: Any) -> Any:
        if value is None and (self.section is not None or self.item is not None):
            value = [] if self.item is not None else {}   # `time:` with nothing under it
        if self.section is not None:
            return read_section(where, value, self.section)
        if isinstance(value, bool) and bool not in self.types or not isinstance(value, self.types):
            raise InventoryError(f"{where}: expected {self.kind} ({self.allowed}), got {describe(value)}")
        if self.item is not None:
            items = [self.item.parse(f"{where}[{i}]", v) for i, v in enumerate(value)]
            first: dict[Any, int] = {}
            for i, v in enumerate(items):
                if first.setdefault(v, i) != i:
                    raise InventoryError(f"{where}[{i}]: {show(value[i])} is listed twice (first as {where}[{first[v]}])")
            return items
        try:
            return self.check(value) if self.check else value
        except Bad as e:
            raise InventoryError(f"{where}: {show(value)} {e} (allowed: {self.allowed})") from None


def read_section(where: str, data: Any, fields: Mapping[str, Field]) -> dict[str, Any]:
    """Check one mapping: no unknown keys, required ones present, each value allowed."""
    if not isinstance(data, dict):
        raise InventoryError(f"{where or 'the inventory'}: expected a mapping (keys: {', '.join(fields)}), "
                             f"got {describe(data)}")
    for key in data:
        if key not in fields:
            near = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise InventoryError(f"{join(where, key)}: unknown key ({hint}allowed: {', '.join(fields)})")
    out = {}
    for key, field in fields.items():
        if key in data:
            out[key] = field.parse(join(where, key), data[key])
        elif field.default is REQUIRED:
            raise InventoryError(f"{join(where, key)}: required ({field.kind}: {field.allowed})")
        elif field.section is not None:
            out[key] = read_section(join(where, key), {}, field.section)   # its fields' defaults
        else:
            out[key] = field.default
    return out


# ---------------------------------------------------------------- value checks
def pattern(regex: str, reason: str, flags: int = 0) -> Callable[[str], str]:
    compiled = re.compile(regex, re.ASCII | flags)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise Bad(reason)
        return value
    return check


def choice(*values: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in values:
            near = difflib.get_close_matches(value, values, n=1, cutoff=0.7)
            raise Bad("is not known" + (f" (did you mean {near[0]!r}?)" if near else ""))
        return value
    return check


def int_range(low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise Bad("is out of range")
        return value
    return check


_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
DNS_NAME = rf"{_LABEL}(\.{_LABEL})*"
IPV4 = rf"{_OCTET}(\.{_OCTET}){{3}}"


def ipv4(value: str) -> str:
    if not re.fullmatch(IPV4, value, re.ASCII):
        raise Bad("is not an IPv4 address")
    return value


def network(max_prefix: int) -> Callable[[str], ipaddress.IPv4Network]:
    def check(value: str) -> ipaddress.IPv4Network:
        if not re.fullmatch(rf"{IPV4}/([0-9]|[12][0-9]|3[0-2])", value, re.ASCII):
            raise Bad("is not a network (ADDRESS/PREFIX)")
        try:
            net = ipaddress.IPv4Network(value)
        except ValueError as e:
            raise Bad(f"is not a network ({e})") from None
        if net.prefixlen > max_prefix:
            raise Bad(f"is too small (prefix longer than /{max_prefix})")
        if net.is_loopback or net.is_multicast or net.is_link_local or net.is_reserved or net.is_unspecified \
                or net.overlaps(ipaddress.IPv4Network("0.0.0.0/8")):
            raise Bad("is a loopback, link-local, multicast or reserved range")
        return net
    return check


def host_name(value: str) -> str:
    if not re.fullmatch(_LABEL, value, re.ASCII):
        raise Bad("is not a host name")
    if value.isdigit():
        raise Bad("is all digits")
    if value == "localhost":
        raise Bad("is this machine's own name in /etc/hosts")
    return value


def dns_name_or_ipv4(value: str) -> str:
    if re.fullmatch(r"[0-9.]+", value):
        return ipv4(value)
    if len(value) > 253 or not re.fullmatch(DNS_NAME, value, re.ASCII | re.IGNORECASE):
        raise Bad("is not a host name or IPv4 address")
    return value


SYSTEM_DIRS = {"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root", "/run",
               "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/log", "/var/lib/nova"}


def host_path(value: str) -> str:
    """A directory on the hosts: absolute, normalized, of characters every tool
    takes (a space is fine: the suite quotes it, and fstab gets it as \\040)."""
    if not value.startswith("/"):
        raise Bad("is not an absolute path")
    if not re.fullmatch(r"(/[A-Za-z0-9._+@%,=~-]([A-Za-z0-9 ._+@%,=~-]*[A-Za-z0-9._+@%,=~-])?)+", value, re.ASCII) \
            or any(part in (".", "..") for part in value.split("/")) or len(value) > 200:
        raise Bad("is not a normalized path of letters, digits, inner spaces and ._+@%,=~-")
    if value in SYSTEM_DIRS:
        raise Bad("is a system directory")
    return value


def local_path(value: str) -> str:
    """A path on this machine: any text a file name can be, on one line."""
    if not value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise Bad("is empty or has a control character (a line break, a NUL byte)")
    return value


SIZE_UNITS = {"M": 1, "G": 1024, "T": 1024 * 1024}


def size(value: str) -> str:
    m = re.fullmatch(r"([1-9][0-9]{0,6})([MGT])", value, re.ASCII)
    if not m:
        raise Bad("is not a size with a unit")
    if int(m[1]) * SIZE_UNITS[m[2]] < 300:
        raise Bad("is smaller than XFS's smallest filesystem")
    return value


def url(schemes: tuple[str, ...], path: bool = True) -> Callable[[str], str]:
    tail = r"(/[A-Za-z0-9._~%/+!$&()*,;=:@?-]*)?" if path else "/?"
    compiled = re.compile(rf"({'|'.join(schemes)})://({DNS_NAME}|{IPV4})(:(?P<port>[0-9]{{1,5}}))?{tail}",
                          re.ASCII | re.IGNORECASE)

    def check(value: str) -> str:
        m = compiled.fullmatch(value)
        if not m or (m['port'] and not 1 <= int(m['port']) <= 65535):
            raise Bad("is not a URL the suite takes")
        return value
    return check


def mirror(value: str) -> str:
    return value if value == "auto" else url(("http", "https"))(value)


def proxy(value: str) -> str:
    if value == "":
        return value
    try:
        return url(("http",), path=False)(value)
    except Bad:
        raise Bad("must be an http:// URL or empty") from None


def checksum(value: str) -> str:
    if not re.fullmatch(r"sha256:[0-9a-fA-F]{64}", value, re.ASCII):
        raise Bad("is not sha256: and 64 hex digits")
    return value.lower()

