"""Secrets out of everything pytest shows or writes: log records (whichever
handler pytest installs), failure texts, captured output, user properties
(JUnit), and the terminal itself."""
from __future__ import annotations

import dataclasses
import logging

import pytest
from _pytest._code.code import ReprFileLocation, TerminalRepr

from deploy.secrets import MaskingFilter, mask


def install_log_masking() -> None:
    """Every log record is masked as it is made (deploy.secrets.MaskingFilter),
    so no handler, pytest's live log and capture included, sees a secret."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "masks_secrets", False):
        return
    masking = MaskingFilter()

    def masked(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        masking.filter(record)
        return record

    masked.masks_secrets = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked)


class MaskedFailure(TerminalRepr):
    """A failure's text with the secrets masked: stands in for the original repr
    when that held a secret, for the terminal, JUnit and every other reader."""

    def __init__(self, text: str, crash: ReprFileLocation | None):
        self.text, self.reprcrash, self.sections = text, crash, []

    def toterminal(self, tw) -> None:
        for line in self.text.splitlines():
            tw.line(line, red=line.startswith("E "), bold=line.startswith("E "))


def mask_report(report: pytest.TestReport) -> None:
    """Secrets out of everything pytest shows or writes of a test: the failure
    text (traceback, assertion details, added sections), its one-line summary,
    captured output and logs, and user properties (JUnit)."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        report.longrepr = (*longrepr[:2], mask(longrepr[2]))
    elif isinstance(longrepr, str):
        report.longrepr = mask(longrepr)
    elif longrepr is not None:
        text = str(longrepr)
        masked = mask(text)
        if masked != text:
            crash = getattr(longrepr, "reprcrash", None)
            if crash is not None:
                crash = dataclasses.replace(crash, message=mask(crash.message))
            report.longrepr = MaskedFailure(masked, crash)
    report.sections = [(title, mask(content)) for title, content in report.sections]
    report.user_properties = [(name, mask(value) if isinstance(value, str) else value)
                              for name, value in report.user_properties]


class MaskingFile:
    """The terminal's file, masking what pytest writes there (live logs, summaries)."""

    def __init__(self, file):
        self._file = file

    def write(self, text: str) -> int:
        return self._file.write(mask(text))

    def __getattr__(self, name: str):
        return getattr(self._file, name)


def pytest_sessionstart(session: pytest.Session) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    writer = getattr(reporter, "_tw", None)
    if writer is not None and not isinstance(getattr(writer, "_file", None), (MaskingFile, type(None))):
        writer._file = MaskingFile(writer._file)
