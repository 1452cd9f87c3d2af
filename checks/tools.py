"""Tools the checks use on the operator's machine, from Debian's packages when
missing: a real headless browser (Chromium driven through its ChromeDriver by
Selenium), ping."""
from __future__ import annotations

import os

from lab import apt

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PACKAGES = ["chromium", "chromium-driver"]


class ToolMissing(RuntimeError):
    pass


def ensure_packages(paths: list[str], packages: list[str]) -> None:
    """Debian packages on this machine, installed when one of `paths` is missing
    (as root); otherwise the error names the command to run."""
    if all(os.path.exists(p) for p in paths):
        return
    try:
        apt.install(packages)
    except apt.InstallError as e:
        raise ToolMissing(f"{', '.join(paths)}: {e}") from None


def ensure_chromium() -> None:
    ensure_packages([CHROMIUM, CHROMEDRIVER], PACKAGES)


def headless_chromium():
    """A Selenium WebDriver for headless Chromium; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--no-proxy-server"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    return driver
