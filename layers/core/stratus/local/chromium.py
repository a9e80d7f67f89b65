"""Headless Debian Chromium through Selenium, for the dashboard's browser tests and its bench (both need
the same flags; `.ci/run` installs the `chromium` and `chromium-driver` packages)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selenium.webdriver import ChromeOptions
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Without the background-networking flags Chromium keeps calling Google's services (refused here).
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


def is_installed() -> bool:
    """Whether Debian's chromium and its driver are there."""
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def options(profile: Path) -> ChromeOptions:
    """Headless options with a fresh profile in ``profile``; callers add their own preferences."""
    from selenium import webdriver

    chosen = webdriver.ChromeOptions()
    chosen.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        chosen.add_argument(flag)
    chosen.add_argument(f"--user-data-dir={profile}")
    return chosen


def start(chosen: ChromeOptions) -> WebDriver:
    """The browser, driven through Debian's chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=chosen)
