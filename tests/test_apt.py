"""Installing the operator machine's own tools: one helper for lab, images and checks."""
import pytest

from lab import apt


def test_without_root_the_error_names_the_command(monkeypatch):
    monkeypatch.setattr(apt.os, "geteuid", lambda: 1000)
    with pytest.raises(apt.InstallError, match="run as root: apt-get install --no-install-recommends chromium ping"):
        apt.install(["chromium", "ping"])
