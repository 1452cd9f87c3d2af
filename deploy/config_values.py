"""Values from the inventory on their way into a config file: one line each,
whatever the validator let through (a line break in a region or an NTP server
would write a setting of its own into the file)."""
from __future__ import annotations

from collections.abc import Mapping


def one_line(value: str, what: str) -> str:
    """`value` unchanged, or ValueError if it could end its line in a config file."""
    if any(c in value for c in "\n\r\0"):
        raise ValueError(f"{what}: {value!r} carries a line break; a config value must stay on one line")
    return value


def one_word(value: str, what: str) -> str:
    """`value` unchanged, or ValueError if a config line would read it as several words."""
    if value.split() != [value]:
        raise ValueError(f"{what}: {value!r} is not one word")
    return value


def ini_settings(settings: Mapping[str, Mapping[str, object]], path: str) -> Mapping[str, Mapping[str, object]]:
    """Every value of an INI file's settings on one line (a password is checked but not shown)."""
    for section, values in settings.items():
        for key, value in values.items():
            text = value.reveal() if hasattr(value, "reveal") else str(value)
            if any(c in text for c in "\n\r\0"):
                shown = "(a secret)" if hasattr(value, "reveal") else repr(text)
                raise ValueError(f"{path} [{section}] {key}: {shown} carries a line break; "
                                 "a config value must stay on one line")
    return settings


def fstab_field(text: str) -> str:
    """A field of /etc/fstab: blanks and backslashes as octal escapes (fstab(5))."""
    one_line(text, "an /etc/fstab field")
    return text.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011")
