"""Dashboard first-paint figures in headless Chromium against the local stack (issue 11 §6).

Starts `python -m stratus.local` and Debian's chromium (through Selenium and chromedriver), signs in, and
loads /ui (the jobs list) repeatedly:
- cold: the browser cache cleared before each load (every asset fetched);
- warm: the cache kept (the page revalidated, its content-hashed assets straight from the cache).
For each, the median over the loads of first paint and first contentful paint (the Paint Timing API,
`performance.getEntriesByType('paint')`), and of "jobs listed": when the jobs page first showed its
tables, from the navigation's start (a MutationObserver installed before the page's own scripts).
Also the page weight: the bytes of the page and every asset it loaded (Resource Timing).

Usage: python bench/dashboard.py [--loads N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stratus.local import chromium
from stratus.local.process import running_local_stack

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
TARGET_MS = 1000.0
# Runs before the page's scripts on every load: note when the jobs page first shows a section heading.
LISTED_PROBE = """
new MutationObserver((_, observer) => {
  if (document.querySelector('#view h2')) {
    window.__jobsListed = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""
LOAD_TIMEOUT_S = 20.0


def load(driver: WebDriver, url: str) -> dict[str, float]:
    """One full load of ``url``; its paint times, jobs-listed time (ms) and bytes transferred."""
    driver.get("about:blank")
    driver.get(url)
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    figures: dict[str, Any] = {}
    while time.monotonic() < deadline:
        figures = driver.execute_script(
            "const paint = Object.fromEntries(performance.getEntriesByType('paint')"
            "  .map(e => [e.name, e.startTime]));"
            "const entries = [...performance.getEntriesByType('navigation'),"
            "  ...performance.getEntriesByType('resource')]"
            "  .filter(e => new URL(e.name).pathname.includes('/ui'));"
            "return {fp: paint['first-paint'], fcp: paint['first-contentful-paint'],"
            "  listed: window.__jobsListed, assets: entries.length,"
            "  transferred: entries.reduce((sum, e) => sum + e.transferSize, 0),"
            "  bytes: entries.reduce((sum, e) => sum + e.decodedBodySize, 0)};"
        )
        if None not in (figures.get("fp"), figures.get("fcp"), figures.get("listed")):
            return figures
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not paint and list the jobs within {LOAD_TIMEOUT_S} s: {figures}")


def measure(driver: WebDriver, url: str, loads: int, cold: bool) -> list[dict[str, float]]:
    results = []
    for _ in range(loads):
        if cold:
            driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        results.append(load(driver, url))
    return results


def median(results: list[dict[str, float]], key: str) -> float:
    return statistics.median(result[key] for result in results)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loads", type=int, default=7, help="loads per figure (the median is shown)")
    arguments = parser.parse_args()
    profile = Path(tempfile.mkdtemp(prefix="stratus-bench-chromium-"))
    with running_local_stack(TEMPLATE) as stack:
        driver = chromium.start(chromium.options(profile))
        try:
            url = f"{stack.api_url}/ui"
            driver.get(url)
            driver.execute_script("sessionStorage.setItem('stratus.token', arguments[0]);", stack.token())
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LISTED_PROBE})
            load(driver, url)  # the first load of all warms the API process, not the browser's cache
            cold = measure(driver, url, arguments.loads, cold=True)
            warm = measure(driver, url, arguments.loads, cold=False)
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
    print(f"dashboard /ui (signed in, jobs list), median of {arguments.loads} loads each, headless Chromium")
    for name, results in (("cold", cold), ("warm", warm)):
        print(
            f"{name}  first paint {median(results, 'fp'):6.0f} ms   first contentful paint "
            f"{median(results, 'fcp'):6.0f} ms   jobs listed {median(results, 'listed'):6.0f} ms"
            f"   target < {TARGET_MS:.0f} ms"
        )
    first = cold[0]
    print(
        f"page weight  {first['bytes'] / 1024:.1f} KiB: the page and its {first['assets'] - 1:.0f} assets "
        f"({first['transferred'] / 1024:.1f} KiB transferred cold, {warm[0]['transferred'] / 1024:.1f} KiB "
        "warm; the API's answers not counted)"
    )


if __name__ == "__main__":
    main()
