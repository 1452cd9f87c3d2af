"""Tools the checks use on the operator's machine, from Debian's packages when
missing: a real headless browser (Chromium driven through its ChromeDriver by
Selenium), ping."""
from __future__ import annotations

from lab import apt

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class ToolMissing(RuntimeError):
    pass


def ensure_tools(wanted: dict[str, str]) -> None:
    """Tools on this machine (absolute path or command -> Debian package), the
    missing ones' packages installed (as root); otherwise the error names the command to run."""
    try:
        apt.ensure(wanted)
    except apt.InstallError as e:
        raise ToolMissing(f"{', '.join(wanted)}: {e}") from None


def ensure_chromium() -> None:
    ensure_tools({CHROMIUM: "chromium", CHROMEDRIVER: "chromium-driver"})


def headless_chromium(trusted_keys: tuple[str, ...] = ()):
    """A Selenium WebDriver for headless Chromium; the caller quits it.
    `trusted_keys`: base64 SHA-256 hashes of public keys (SPKI) that Chromium
    accepts for TLS although no system CA signed them: the suite's own
    certificates, verified against the suite's CA by the caller first."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--no-proxy-server"):
        options.add_argument(arg)
    if trusted_keys:
        options.add_argument("--ignore-certificate-errors-spki-list=" + ",".join(trusted_keys))
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    return driver
