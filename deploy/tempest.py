"""`python -m deploy tempest [--smoke | --regex R]`: OpenStack's own acceptance
suite against the deployed cloud, from Debian's package `tempest` on this
(the operator's) machine, installed when missing.

Tempest runs in its workspace (LAB.state_dir/tempest: config, locks, logs,
.stestr), with the config `tempest-config` writes; its results become JUnit
at reports/tempest.xml (`stestr last --subunit | subunit2junitxml`), and the
outcome is read back from that file: passed, failed, skipped with reasons.
"""
from __future__ import annotations

import logging
import os
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .inventory import Inventory
from .pki import ca_file
from .tempest_config import workspace

log = logging.getLogger(__name__)

TEMPEST = "/usr/bin/tempest"
STESTR = "/usr/bin/stestr"
SUBUNIT2JUNITXML = "/usr/bin/subunit2junitxml"
JUNITXML_MODULE = "/usr/lib/python3/dist-packages/junitxml"   # what subunit2junitxml imports
# tempest brings python3-stestr and subunit; subunit2junitxml needs python3-junitxml beside them
PACKAGES = ["tempest", "python3-stestr", "subunit", "python3-junitxml"]
TOOLS = [TEMPEST, STESTR, SUBUNIT2JUNITXML, JUNITXML_MODULE]
CONCURRENCY = 2            # the lab's 2 cores also run every guest
DEFAULT_JUNIT = Path("reports/tempest.xml")
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"   # Debian's bundle (ca-certificates)


class TempestError(RuntimeError):
    """Tempest could not be installed or run, or gave no results; the message says which."""


def ensure_installed(paths: Sequence[str] | None = None, packages: Sequence[str] | None = None) -> None:
    """Debian's packages on this machine when a tool is missing: the same helper
    (lab.apt) as the checks' browser and the operator scenario's CLI."""
    paths = TOOLS if paths is None else paths
    packages = PACKAGES if packages is None else packages
    if all(os.path.exists(p) for p in paths):
        return
    from lab import apt

    try:
        apt.install(list(packages))
    except apt.InstallError as e:
        raise TempestError(f"tempest: {e}") from None
    still = [p for p in paths if not os.path.exists(p)]
    if still:
        raise TempestError(f"tempest: installed {' '.join(packages)}, still missing: {', '.join(still)}")


def run_argv(config: Path, smoke: bool = False, regex: str | None = None,
             concurrency: int = CONCURRENCY) -> list[str]:
    """tempest run, "from anywhere" with a config file: it makes .stestr.conf in its cwd."""
    argv = [TEMPEST, "run", "--config-file", str(config), "--concurrency", str(concurrency)]
    if smoke:
        argv.append("--smoke")
    if regex:
        argv += ["--regex", regex]
    return argv


@dataclass
class Outcome:
    passed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)    # (test, first line of the failure)
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (test, reason)

    def lines(self) -> list[str]:
        out = [f"tempest: {len(self.passed)} passed, {len(self.failed)} failed, {len(self.skipped)} skipped"]
        out += [f"  FAILED  {name}: {why}" for name, why in self.failed]
        out += [f"  skipped {name}: {why}" for name, why in self.skipped]
        return out


def case_result(case: ET.Element) -> tuple[str, str]:
    """One <testcase> of subunit2junitxml's file: ("failed", Tempest's whole text),
    ("skipped", the reason) or ("passed", "")."""
    bad = case.find("failure") if case.find("failure") is not None else case.find("error")
    if bad is not None:
        return "failed", (bad.text or bad.get("message") or "").strip()
    skip = case.find("skipped")
    if skip is not None:
        return "skipped", (skip.get("message") or skip.text or "").strip()
    return "passed", ""


def read_junit(path: Path) -> Outcome:
    """subunit2junitxml's file: <testcase classname name> with <failure>/<error>/<skipped>."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise TempestError(f"{path}: no Tempest results to read ({e})") from None
    outcome = Outcome()
    for case in root.iter("testcase"):
        name = ".".join(p for p in (case.get("classname"), case.get("name")) if p)
        kind, text = case_result(case)
        if kind == "failed":
            outcome.failed.append((name, text.splitlines()[-1][:300] if text else "(no message)"))
        elif kind == "skipped":
            outcome.skipped.append((name, text[:300]))
        else:
            outcome.passed.append(name)
    return outcome


def trust_bundle(inv: Inventory, folder: Path) -> Path | None:
    """The system's CAs and the suite's CA in one file, for SSL_CERT_FILE: Tempest's
    dashboard test opens the HTTPS dashboard with Python's default context, which
    has no option for a CA of its own (its other clients take identity's
    ca_certificates_file)."""
    ca = ca_file(inv.secrets_path)
    if not ca.exists():   # no deploy made one: the dashboard's certificate will not verify, and says so
        log.warning("tempest: %s is missing: the system's CAs only", ca)
        return None
    system = Path(SYSTEM_CAS).read_text() if Path(SYSTEM_CAS).exists() else ""
    bundle = folder / "ca-bundle.pem"
    bundle.write_text(system + ("\n" if system and not system.endswith("\n") else "") + ca.read_text())
    return bundle


def run(inv: Inventory, config: Path, junit: Path = DEFAULT_JUNIT, smoke: bool = False,
        regex: str | None = None) -> Outcome:
    """Run Tempest (output live on the terminal), write its JUnit file, return its outcome."""
    if not config.is_file():
        raise TempestError(f"{config}: no tempest.conf; write it with: python -m deploy tempest-config "
                           f"--inventory {inv.path}")
    ensure_installed()
    folder = workspace(inv)
    folder.mkdir(parents=True, exist_ok=True)
    argv = run_argv(config.resolve(), smoke, regex)
    log.info("tempest: %s (in %s)", " ".join(argv), folder)
    bundle = trust_bundle(inv, folder)
    ran = subprocess.run(argv, cwd=folder, env={**os.environ, **({"SSL_CERT_FILE": str(bundle)} if bundle else {})})
    junit = junit.resolve()
    junit.parent.mkdir(parents=True, exist_ok=True)
    stream = subprocess.run([STESTR, "last", "--subunit"], cwd=folder, capture_output=True)
    if not stream.stdout:   # its exit code may also say the last run failed: the stream is what counts
        raise TempestError(f"tempest run exited {ran.returncode} and left no results in {folder}/.stestr "
                           f"({stream.stderr.decode(errors='replace').strip()[-300:]})")
    converted = subprocess.run([SUBUNIT2JUNITXML, "-o", str(junit)], input=stream.stdout, capture_output=True)
    if converted.returncode not in (0, 1):   # 1: the stream holds failures, the file is written
        raise TempestError(f"subunit2junitxml exited {converted.returncode}: "
                           f"{converted.stderr.decode(errors='replace').strip()[-300:]}")
    outcome = read_junit(junit)
    if not (outcome.passed or outcome.failed or outcome.skipped):
        raise TempestError(f"tempest run exited {ran.returncode} and ran no test (selection: "
                           f"{'--smoke' if smoke else ''} {regex or ''})")
    if ran.returncode != 0 and not outcome.failed:
        outcome.failed.append(("tempest run", f"exited {ran.returncode}; see {folder}/logs/tempest.log"))
    return outcome
