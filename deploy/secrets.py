"""Generated passwords: created on first use, kept in a file only its owner reads.

A `Secret` is a str that shows itself as `******` in repr and formatting for
logs; `.reveal()` gives the value where a config file or command really needs
it. Every loaded value is registered with `mask()`, so any text leaving the
suite (errors, logs, plans, JUnit) can be scrubbed in one place.
"""
from __future__ import annotations

import logging
import os
import re
import secrets as _random
import stat
import string
import threading
from pathlib import Path

import yaml

from . import yamlfile

MASK = "******"
MAX_BYTES = 1 << 20
_known: set[str] = set()
_known_lock = threading.Lock()
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SecretsError(RuntimeError):
    pass


# Letters and digits only: a password that starts with '-' reads as an option
# to keystone-manage or rabbitmqctl, and one with quotes or '@' breaks URLs.
ALPHABET = string.ascii_letters + string.digits
# Masking replaces every occurrence of a value in any text: a short value would
# also hide unrelated words, and a guessable one is no secret.
MIN_LENGTH = 16
_VALUE = re.compile(rf"[{ALPHABET}]{{{MIN_LENGTH},}}")


def new_password(length: int = 24) -> str:
    if length < MIN_LENGTH:
        raise SecretsError(f"a password of {length} characters is too short to generate (at least {MIN_LENGTH})")
    return "".join(_random.choice(ALPHABET) for _ in range(length))


def check_value(where: str, value: object) -> None:
    """A value of the secrets file: at least MIN_LENGTH letters and digits."""
    if not isinstance(value, str):
        raise SecretsError(f"{where}: expected a string")
    if not _VALUE.fullmatch(value):
        why = (f"{len(value)} characters, at least {MIN_LENGTH} needed" if len(value) < MIN_LENGTH
               else "only letters and digits are allowed")
        # the message names the key, never the value
        raise SecretsError(f"{where}: refused ({why}); delete the line to have a new one generated")


class Secret(str):
    """A password. Formats as ****** ; the value is reached only through reveal()."""

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def reveal(self) -> str:
        return str.__str__(self)


def register(value: str) -> None:
    if value:
        with _known_lock:
            _known.add(value)


def mask(text: str) -> str:
    """Replace every known secret value in `text` by ******."""
    with _known_lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        text = text.replace(value, MASK)
    return text


class MaskingFilter(logging.Filter):
    """Scrubs secrets from log records before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the caller's bug; leave it visible
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class Secrets:
    """The secrets file of one inventory. `get(name)` creates a value on first use."""

    def __init__(self, path: Path, *, create: bool = True):
        self.path = Path(path)
        self.create = create
        self._lock = threading.Lock()
        self._values: dict[str, str] = self._read()
        for value in self._values.values():
            register(value)

    @classmethod
    def placeholders(cls) -> Secrets:
        """No file: every value reads `<secret:name>` (for plans and listings)."""
        return cls(Path("/dev/null/no-secrets"), create=False)

    def _read(self) -> dict[str, str]:
        if not self.create and not self.path.exists():
            return {}
        try:
            # O_NOFOLLOW: a symlink here could point the suite at any file; the
            # checks below are made on the file actually opened (fstat).
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return {}
        except OSError as e:
            if self.path.is_symlink():
                raise SecretsError(f"{self.path}: is a symlink; the secrets file must be a plain file") from None
            raise SecretsError(f"{self.path}: cannot read ({e.strerror})") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise SecretsError(f"{self.path}: not a plain file")
            if info.st_uid != os.geteuid():
                raise SecretsError(f"{self.path}: owned by uid {info.st_uid}, not by this user (uid {os.geteuid()}); "
                                   f"the secrets file must be this user's own")
            mode = info.st_mode & 0o777
            if mode & 0o077:
                raise SecretsError(f"{self.path}: mode {mode:o} lets others read the secrets; run chmod 600 {self.path}")
            raw = f.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise SecretsError(f"{self.path}: larger than {MAX_BYTES} bytes, far more than this file ever holds")
        try:
            # the strict reader: line and column of any error, never the value
            data = yamlfile.parse(yamlfile.decode(raw))
        except yamlfile.YamlFileError as e:
            raise SecretsError(f"{self.path}: {e}") from None
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise SecretsError(f"{self.path}: line 1, column 1: expected a mapping of names to strings, "
                               f"got {yamlfile.kind_of(data)}")
        for name, value in data.items():  # keys are strings: the strict loader refuses others
            if not isinstance(value, str):
                raise SecretsError(f"{self.path}: {yamlfile.where_is(self.path, name)}: {name}: expected a string "
                                   f"(quote it), got {yamlfile.kind_of(value)}")
        for name, value in data.items():
            check_value(f"{self.path}: {name}", value)
        return data

    def get(self, name: str) -> Secret:
        if not _NAME.match(name):
            raise SecretsError(f"secret name {name!r}: use lowercase letters, digits and _")
        with self._lock:
            if name not in self._values:
                if not self.create:
                    return Secret(f"<secret:{name}>")
                self._values[name] = new_password()
                register(self._values[name])
                self._write()
            return Secret(self._values[name])

    def _write(self) -> None:
        text = ("# Generated by the deploy suite; keep private. Change a value and\n"
                "# the next run puts it in place on the hosts.\n"
                + yaml.safe_dump(dict(sorted(self._values.items())), default_flow_style=False))
        write_private(self.path, text, what="the secrets file")


def write_private(path: Path, text: str, what: str) -> None:
    """Atomically: a new temporary file beside `path` (O_EXCL|O_NOFOLLOW: never one
    that exists, nor a symlink's target), 0600 before any byte, synced, renamed."""
    tmp = path.with_name(f".{path.name}.{_temp_suffix()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        raise SecretsError(f"{tmp}: cannot create {what}'s temporary file ({e.strerror})") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def _temp_suffix() -> str:
    return _random.token_hex(8)
