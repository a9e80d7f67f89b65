"""The dashboard at /ui driven in real headless Chromium (Debian's chromium + chromedriver, through
Selenium) against the local stack, and /docs and /redoc rendered offline in the same browser.

Every test ends with two checks on what the browser did: no request left for a host other than the
stack's (Chrome's performance log sees every request, assets and XHRs alike), and no console error.
Screenshots go to test-artifacts/dashboard/ (their paths are printed)."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import h5py
import httpx
import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from stratus.local import chromium

from tests.conftest import wait_until

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from stratus.local.process import LocalStackProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
TENANT = "dashboard"
OCTET = {"content-type": "application/octet-stream"}
JOB_TIMEOUT_S = 90
PAGE_TIMEOUT_S = 20
MiB = 1024 * 1024


def start_chromium(user_data_dir: Path, downloads: Path) -> WebDriver:
    """Headless Chromium with a fresh profile, logging the console and every network request, saving
    downloads into ``downloads``."""
    options = chromium.options(user_data_dir)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return chromium.start(options)


@pytest.fixture(scope="module")
def downloads() -> Iterator[Path]:
    """Where the browser saves what the page downloads."""
    folder = Path(tempfile.mkdtemp(prefix="stratus-downloads-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[WebDriver]:
    if not chromium.is_installed():
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    profile = Path(tempfile.mkdtemp(prefix="stratus-chromium-"))
    driver = start_chromium(profile, downloads)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def token(local_stack: LocalStackProcess) -> str:
    """A bearer token of a tenant of this module's own."""
    return local_stack.token(TENANT)


@pytest.fixture
def api(local_stack: LocalStackProcess, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=local_stack.api_url, timeout=60, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


@pytest.fixture(autouse=True)
def browser_stays_on_the_stack(
    request: pytest.FixtureRequest, local_stack: LocalStackProcess
) -> Iterator[None]:
    """After the test: every request the browser made went to the stack, and the console is clean
    (a test that expects a refused request drains the console log itself)."""
    if "browser" not in request.fixturenames:
        yield
        return
    driver: WebDriver = request.getfixturevalue("browser")
    driver.get_log("performance")  # what earlier tests did is theirs
    driver.get_log("browser")
    yield
    stack_hosts = {urlsplit(url).netloc for url in (local_stack.api_url, local_stack.s3_url)}
    requested = requested_urls(driver)
    assert requested, "the performance log saw no request"
    strays = sorted({url for url in requested if urlsplit(url).netloc not in stack_hosts})
    assert not strays, f"requests to hosts other than the stack: {strays}"
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


def requested_urls(driver: WebDriver) -> list[str]:
    """The http(s) URLs of every request since the log was last read (Chrome's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url.startswith(("http://", "https://")):
                urls.append(url)
    return urls


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")  # noqa: T201  # the artefact's path, for whoever reads the test log
    return path


def script(driver: WebDriver, code: str, *arguments: Any) -> Any:
    return driver.execute_script(code, *arguments)


def wait_for(driver: WebDriver, expression: str, timeout: float = PAGE_TIMEOUT_S) -> None:
    """Wait until the JavaScript ``expression`` is truthy in the page."""
    wait_until(lambda: bool(script(driver, f"return Boolean({expression});")), timeout, interval=0.2)


def open_page(driver: WebDriver, local_stack: LocalStackProcess, token: str, fragment: str = "") -> None:
    """Open the dashboard at #``fragment`` (a fresh page load, so nothing of the last page lingers),
    signed in through the sign-in form if the tab is not."""
    driver.get("about:blank")
    driver.get(f"{local_stack.api_url}/ui#{fragment}")
    wait_for(driver, "document.getElementById('token') || !document.getElementById('nav').hidden")
    if driver.find_elements(By.ID, "token"):
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
        wait_for(driver, "!document.getElementById('nav').hidden")


def hdf5_bytes(shape: tuple[int, ...], seed: int = 0) -> bytes:
    """A real HDF5 file with the `data` dataset the built-ins read."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("data", data=np.random.default_rng(seed).random(shape, dtype=np.float32))
    return buffer.getvalue()


def upload(api: httpx.Client, data: bytes) -> str:
    answer = api.post("/api/v0/files", content=data, headers=OCTET)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["file_id"])


def status_of(driver: WebDriver, selector: str) -> str | None:
    found: str | None = script(
        driver, "const e = document.querySelector(arguments[0]); return e && e.dataset.status;", selector
    )
    return found


def test_dashboard_refuses_a_bad_token(browser: WebDriver, local_stack: LocalStackProcess) -> None:
    browser.get(f"{local_stack.api_url}/ui")
    script(browser, "sessionStorage.clear();")
    browser.get("about:blank")
    browser.get(f"{local_stack.api_url}/ui")
    wait_for(browser, "document.getElementById('token')")

    browser.find_element(By.ID, "token").send_keys("not-a-token")
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(browser, "document.querySelector('.sign-in .error:not([hidden])')")

    shown = browser.find_element(By.CSS_SELECTOR, ".sign-in .error").text
    screenshot(browser, "sign-in-refused")
    assert "unauthorized" in shown and "a valid credential is required" in shown, shown
    assert script(browser, "return sessionStorage.getItem('stratus.token');") is None
    assert browser.find_element(By.ID, "nav").get_attribute("hidden") is not None
    # The refused request is the one console error expected here.
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert len(errors) == 1 and "/api/v0/executions" in errors[0] and "401" in errors[0], errors


def test_dashboard_follows_a_threshold_execution_to_completed(
    browser: WebDriver, local_stack: LocalStackProcess, token: str, api: httpx.Client
) -> None:
    file_id = upload(api, hdf5_bytes((24, 24, 24)))
    body = {"algorithm_name": "threshold", "algorithm_major_version": 1, "input_dataset_ids": [file_id]}
    execution_id = api.post("/api/v0/execute-algorithm", json=body).json()["execution_id"]

    open_page(browser, local_stack, token, f"/executions/{execution_id}")
    wait_for(browser, "document.querySelector('.status-line[data-status=COMPLETED]')", JOB_TIMEOUT_S)
    wait_for(browser, "document.getElementById('log').textContent.includes('Execution completed')")

    screenshot(browser, "execution-completed")
    progress = browser.find_element(By.CSS_SELECTOR, ".status-line [role=progressbar]")
    assert progress.get_attribute("aria-valuenow") == "100"
    log = browser.find_element(By.ID, "log").text
    facts = dict(zip(
        [e.text for e in browser.find_elements(By.CSS_SELECTOR, "dl.facts dt")],
        [e.text for e in browser.find_elements(By.CSS_SELECTOR, "dl.facts dd")],
        strict=True,
    ))  # fmt: skip
    assert facts["Algorithm"].startswith("threshold 1") and facts["Device"] == "cpu", facts
    assert file_id in facts["Inputs"] and "download" in facts["Outputs"], facts
    assert 0 <= log.find("Starting execution.") < log.index("Execution completed"), log
    open_page(browser, local_stack, token, "/")
    row = f"tr[data-id='{execution_id}']"
    wait_for(browser, f"document.querySelector(\"{row}[data-status=COMPLETED] [aria-valuenow='100']\")")
    screenshot(browser, "jobs")


def test_dashboard_downloads_a_file_as_its_id_dot_h5(
    browser: WebDriver, local_stack: LocalStackProcess, token: str, api: httpx.Client, downloads: Path
) -> None:
    data = hdf5_bytes((12, 12, 12), seed=5)
    file_id = upload(api, data)
    open_page(browser, local_stack, token, "/files")
    button = f"tr[data-id='{file_id}'] button.link:not(.danger)"
    wait_for(browser, f'document.querySelector("{button}")')

    browser.find_element(By.CSS_SELECTOR, button).click()

    saved = downloads / f"{file_id}.h5"
    wait_until(saved.exists, PAGE_TIMEOUT_S, interval=0.2)
    wait_until(lambda: saved.stat().st_size == len(data), PAGE_TIMEOUT_S, interval=0.2)
    assert saved.read_bytes() == data


def test_dashboard_draws_a_workflow_dag_with_step_states(
    browser: WebDriver, local_stack: LocalStackProcess, token: str, api: httpx.Client
) -> None:
    file_id = upload(api, hdf5_bytes((16, 16, 16), seed=1))
    threshold = {"algorithm_name": "threshold", "algorithm_major_version": 1}
    mapped = [{"from_step": "segment", "from_field": "output_dataset_ids", "to_field": "input_dataset_ids"}]
    steps = [
        {"id": "segment", "task_type": "execution", "config": {**threshold, "input_dataset_ids": [file_id]}},
        {"id": "refine", "task_type": "execution", "config": threshold, "depends_on": ["segment"],
         "input_mappings": mapped},
        {"id": "normalise", "task_type": "execution", "depends_on": ["segment"], "input_mappings": mapped,
         "config": {**threshold, "additional_parameters": {"operation": "normalize"}}},
    ]  # fmt: skip
    created = api.post("/api/v0/workflows", json={"name": "dashboard dag", "steps": steps})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]

    open_page(browser, local_stack, token, f"/workflows/{workflow_id}")
    wait_for(browser, "document.querySelector('#dag g.node')")
    seen = set(
        script(browser, "return [...document.querySelectorAll('#dag g.node')].map(n => n.dataset.status)")
    )
    wait_for(browser, "document.querySelector('.status-line[data-status=COMPLETED]')", JOB_TIMEOUT_S)
    wait_for(
        browser, "[...document.querySelectorAll('#dag g.node')].every(n => n.dataset.status === 'COMPLETED')"
    )

    screenshot(browser, "workflow-dag")
    nodes = script(
        browser,
        "return Object.fromEntries([...document.querySelectorAll('#dag g.node')].map(n => "
        "[n.dataset.step, n.getBoundingClientRect().x]))",
    )
    edges = script(
        browser,
        "return [...document.querySelectorAll('#dag .edge')].map(e => [e.dataset.from, e.dataset.to])",
    )
    assert set(nodes) == {"segment", "refine", "normalise"}
    assert sorted(map(tuple, edges)) == [("segment", "normalise"), ("segment", "refine")]
    assert nodes["refine"] == nodes["normalise"] > nodes["segment"]  # one layer right of their dependency
    assert seen <= {"PENDING", "RUNNING", "COMPLETED"}
    assert script(browser, "return document.querySelectorAll('#dag a g.node').length") == 3  # linked to jobs


def test_dashboard_shows_a_campaigns_plot_best_and_trials(
    browser: WebDriver, local_stack: LocalStackProcess, token: str, api: httpx.Client
) -> None:
    file_id = upload(api, hdf5_bytes((4, 4), seed=3))
    body = {
        "algorithm_name": "branin",
        "algorithm_major_version": 1,
        "input_dataset_ids": [file_id],
        "kind": "grid",
        "search_space": {"x": {"values": [-3.0, 3.0]}, "y": {"values": [2.0, 12.0]}},
        "objectives": [{"name": "branin", "direction": "minimize"}],
        "budget": 4,
        "batch_size": 4,
    }
    created = api.post("/api/v0/campaigns", json=body)
    assert created.status_code == 201, created.text
    campaign_id = created.json()["campaign_id"]

    open_page(browser, local_stack, token, f"/campaigns/{campaign_id}")
    wait_for(browser, "document.querySelector('.status-line[data-status=COMPLETED]')", JOB_TIMEOUT_S)
    wait_for(browser, "document.getElementById('plot').naturalWidth > 0")

    screenshot(browser, "campaign")
    trials = script(
        browser, "return [...document.querySelectorAll('tr[data-trial]')].map(r => r.dataset.status)"
    )
    best = browser.find_element(By.ID, "best").text
    assert trials == ["COMPLETED"] * 4
    assert "trial" in best and "branin=" in best and "x=-3" in best and "y=12" in best, best
    assert script(browser, "return document.getElementById('plot').src.startsWith('blob:')")
    open_page(browser, local_stack, token, "/campaigns")
    wait_for(browser, f"document.querySelector(\"tr[data-id='{campaign_id}'][data-status=COMPLETED]\")")


def test_dashboard_links_a_workflow_campaigns_trials_to_their_workflows(
    browser: WebDriver, local_stack: LocalStackProcess, token: str, api: httpx.Client
) -> None:
    file_id = upload(api, hdf5_bytes((4, 4), seed=4))
    step = {
        "id": "score",
        "task_type": "execution",
        "config": {"algorithm_name": "branin", "algorithm_major_version": 1, "input_dataset_ids": [file_id]},
    }
    body = {
        "workflow": {"name": "scored", "steps": [step]},
        "kind": "grid",
        "search_space": {"score.x": {"values": [3.0]}},
        "objectives": [{"name": "score.branin"}],
        "budget": 1,
    }
    created = api.post("/api/v0/campaigns", json=body)
    assert created.status_code == 201, created.text

    open_page(browser, local_stack, token, f"/campaigns/{created.json()['campaign_id']}")
    wait_for(browser, "document.querySelector('tr[data-trial][data-status=COMPLETED]')", JOB_TIMEOUT_S)

    link = script(browser, "return document.querySelector('tr[data-trial] a[href^=\"#/workflows/\"]').href")
    headers = script(browser, "return [...document.querySelectorAll('th')].map(th => th.textContent)")
    (trial,) = api.get(f"/api/v0/campaigns/{created.json()['campaign_id']}").json()["trials"]
    assert link.endswith(f"#/workflows/{trial['workflow_id']}") and "Workflow" in headers
    browser.find_element(By.CSS_SELECTOR, "tr[data-trial] a[href^='#/workflows/']").click()
    wait_for(browser, "document.querySelector('#dag g.node[data-status=COMPLETED]')")  # its workflow's DAG


def test_dashboard_catalog_form_from_the_schema_starts_an_execution(
    browser: WebDriver, local_stack: LocalStackProcess, token: str, api: httpx.Client
) -> None:
    file_id = upload(api, hdf5_bytes((8, 8, 8), seed=2))

    open_page(browser, local_stack, token, "/algorithms")
    wait_for(browser, "document.querySelector('a.card.algorithm[data-name=threshold]')")
    screenshot(browser, "catalog")
    browser.find_element(By.CSS_SELECTOR, "a.card.algorithm[data-name=threshold]").click()
    wait_for(browser, f"document.querySelector(\"#inputs input[value='{file_id}']\")")
    operation = Select(browser.find_element(By.ID, "parameter-operation"))
    cut_off = browser.find_element(By.ID, "parameter-threshold")
    options = [option.text for option in operation.options]
    default = cut_off.get_attribute("value")
    operation.select_by_visible_text("normalize")
    cut_off.clear()
    cut_off.send_keys("0.25")
    browser.find_element(By.CSS_SELECTOR, f"#inputs input[value='{file_id}']").click()
    screenshot(browser, "catalog-form")
    browser.find_element(By.CSS_SELECTOR, "#run-form button[type=submit]").click()
    wait_for(browser, "location.hash.startsWith('#/executions/')")

    execution_id = script(browser, "return location.hash.split('/').pop()")
    record = api.get(f"/api/v0/executions/{execution_id}").json()
    assert options == ["threshold", "normalize"] and default == "0.5"
    assert record["input_dataset_ids"] == [file_id]
    assert record["additional_parameters"] == {"operation": "normalize", "threshold": 0.25}
    wait_for(browser, "document.querySelector('.status-line[data-status=COMPLETED]')", JOB_TIMEOUT_S)


def test_dashboard_uploads_dropped_files_until_ready(
    browser: WebDriver, local_stack: LocalStackProcess, token: str, api: httpx.Client, tmp_path: Path
) -> None:
    small = tmp_path / "small.h5"
    small.write_bytes(hdf5_bytes((16, 16, 16), seed=3))
    large = tmp_path / "large.h5"  # over the 4 MiB direct limit: a presigned PUT straight to S3
    large.write_bytes(hdf5_bytes((6 * MiB // 4,), seed=4))
    table = tmp_path / "prices.csv"  # a table: its name goes along, and ingestion makes it HDF5
    table.write_text("sku,price\nA1,2.5\nB2,4\n")
    open_page(browser, local_stack, token, "/files")
    drop_files(browser, [small, large, table])
    rows = "#uploads tr.upload"
    wait_for(browser, f"document.querySelectorAll('{rows}').length === 3")
    wait_for(
        browser, f"[...document.querySelectorAll('{rows}')].every(r => r.dataset.status === 'READY')", 60
    )

    screenshot(browser, "files-uploaded")
    uploaded = script(browser, f"return Object.fromEntries([...document.querySelectorAll('{rows}')]"
                               ".map(r => [r.dataset.name, r.dataset.fileId]))")  # fmt: skip
    sizes = {name: api.get(f"/api/v0/files/{fid}/status").json() for name, fid in uploaded.items()}
    assert {name: s["status"] for name, s in sizes.items()} == {
        "small.h5": "READY",
        "large.h5": "READY",
        "prices.csv": "READY",
    }
    assert [d["name"] for d in sizes["prices.csv"]["datasets"]] == ["/prices"]
    assert sizes["large.h5"]["size"] == large.stat().st_size
    assert sizes["small.h5"]["size"] == small.stat().st_size
    bars = script(browser, f"return [...document.querySelectorAll('{rows} [role=progressbar]')]"
                           ".map(b => b.getAttribute('aria-valuenow'))")  # fmt: skip
    assert bars == ["100", "100", "100"]
    s3_puts = [url for url in requested_urls_seen(browser) if url.startswith(local_stack.s3_url)]
    assert len(s3_puts) == 1 and "/uploads/" in s3_puts[0]  # the large file went to S3 itself


def drop_files(browser: WebDriver, paths: list[Path]) -> None:
    """Drop ``paths`` on the files page's zone as the browser delivers a drop: real File objects (picked
    through a scratch file input, since WebDriver cannot drag from the desktop) in a DataTransfer."""
    wait_for(browser, "document.getElementById('drop-zone')")
    script(browser, "const i = document.createElement('input'); i.type = 'file'; i.multiple = true;"
           "i.id = 'test-files'; document.body.append(i);")  # fmt: skip
    browser.find_element(By.ID, "test-files").send_keys("\n".join(map(str, paths)))
    script(
        browser,
        "const transfer = new DataTransfer();"
        "for (const f of document.getElementById('test-files').files) transfer.items.add(f);"
        "document.getElementById('test-files').remove();"
        "const zone = document.getElementById('drop-zone');"
        "const init = {dataTransfer: transfer, bubbles: true, cancelable: true};"
        "zone.dispatchEvent(new DragEvent('dragover', init));"
        "zone.dispatchEvent(new DragEvent('drop', init));",
    )


def test_dashboard_uploads_a_file_over_64_mib_in_parts(
    browser: WebDriver, local_stack: LocalStackProcess, token: str, api: httpx.Client, tmp_path: Path
) -> None:
    # Multipart from the browser: each part's ETag must be readable cross-origin (the bucket's CORS).
    huge = tmp_path / "huge.h5"
    huge.write_bytes(hdf5_bytes((65 * MiB // 4,), seed=5))
    open_page(browser, local_stack, token, "/files")

    drop_files(browser, [huge])

    row = "#uploads tr.upload[data-name='huge.h5']"
    wait_for(browser, f"document.querySelector(\"{row}\")?.dataset.status === 'READY'", 120)
    file_id = script(browser, f'return document.querySelector("{row}").dataset.fileId')
    status = api.get(f"/api/v0/files/{file_id}/status").json()
    assert (status["status"], status["size"]) == ("READY", huge.stat().st_size)
    s3_puts = [url for url in requested_urls_seen(browser) if url.startswith(local_stack.s3_url)]
    assert sum("partNumber=" in url for url in s3_puts) > 1, s3_puts  # one PUT a part, several parts


def requested_urls_seen(driver: WebDriver) -> list[str]:
    """Requests the page made, as the Resource Timing API lists them (the performance log stays for the
    after-test check)."""
    urls: list[str] = script(driver, "return performance.getEntriesByType('resource').map(e => e.name)")
    return urls


@pytest.mark.parametrize(
    ("page", "rendered"),
    [
        ("/docs", "document.querySelectorAll('.opblock').length > 20"),
        ("/redoc", "document.querySelectorAll('[data-section-id^=\"operation/\"]').length > 20"),
    ],
    ids=["docs", "redoc"],
)
def test_api_docs_render_offline(
    browser: WebDriver, local_stack: LocalStackProcess, page: str, rendered: str
) -> None:
    browser.get(local_stack.api_url + page)

    wait_for(browser, rendered)

    screenshot(browser, page.strip("/"))
    assets = [url for url in requested_urls_seen(browser) if url.endswith((".js", ".css"))]
    assert assets and all(urlsplit(url).path.startswith("/docs-assets/") for url in assets), assets


def test_dashboard_workspace_runs_resets_and_copies_a_scenario(
    browser: WebDriver, local_stack: LocalStackProcess, token: str, api: httpx.Client
) -> None:
    file_id = upload(api, hdf5_bytes((4, 4), seed=6))
    name = f"sweep-{file_id[:8]}"  # the session's stack is shared: a name of this test's own
    row = f"#workspaces tr[data-name='{name}']"
    copy_row = f"#workspaces tr[data-name='{name} what-if']"
    scenario = "#scenarios tr[data-tag='x3-y2']"
    open_page(browser, local_stack, token, "/workspaces")
    wait_for(browser, "document.querySelector('#workspaces tr[data-default=true]')")

    browser.find_element(By.ID, "workspace-name").send_keys(name)
    browser.find_element(By.CSS_SELECTOR, "#workspace-create button[type=submit]").click()
    click_in_page(browser, f"{row}[data-scenarios='0'] a")
    save_branin_scenario(browser, "x3-y2", file_id)
    click_in_page(browser, f"{scenario}[data-status=CREATED] button[data-action=run]")
    wait_for(browser, f'document.querySelector("{scenario}[data-status=COMPLETED]")', JOB_TIMEOUT_S)
    completed = browser.find_element(By.CSS_SELECTOR, scenario).text
    script(browser, "window.scrollTo(0, 0);")
    screenshot(browser, "workspace")
    execution_id = script(
        browser, f'return document.querySelector("{scenario} a.mono").hash.split("/").pop()'
    )
    click_in_page(browser, f"{scenario} button[data-action=reset]")
    wait_for(browser, f'document.querySelector("{scenario}[data-status=CREATED] button[data-action=run]")')
    reset = browser.find_element(By.CSS_SELECTOR, scenario).text
    save_branin_scenario(browser, "x3-y2", file_id)  # the tag is taken now
    wait_for(browser, "document.querySelector('#scenario-form .error:not([hidden])')")
    refused = browser.find_element(By.CSS_SELECTOR, "#scenario-form .error").text
    script(browser, "document.querySelector('#scenario-form .error').scrollIntoView({block: 'center'});")
    screenshot(browser, "workspace-refused")
    browser.find_element(By.CSS_SELECTOR, "a[href='#/workspaces']").click()
    click_in_page(browser, f"{row} button[data-action=copy]")
    browser.find_element(By.ID, "action-name").clear()
    browser.find_element(By.ID, "action-name").send_keys(f"{name} what-if")
    browser.find_element(By.CSS_SELECTOR, "#workspace-action button[type=submit]").click()
    wait_for(browser, f"document.querySelector(\"{copy_row}[data-scenarios='1']\")")
    screenshot(browser, "workspaces")
    click_in_page(browser, f"{copy_row} button[data-action=delete]")
    browser.find_element(By.CSS_SELECTOR, "#workspace-action button[type=submit]").click()
    wait_for(browser, f'!document.querySelector("{copy_row}") && document.querySelector("{row}")')
    browser.find_element(By.ID, "workspace-name").send_keys(name)
    browser.find_element(By.CSS_SELECTOR, "#workspace-create button[type=submit]").click()
    wait_for(browser, "document.querySelector('#workspace-create .error:not([hidden])')")
    taken = browser.find_element(By.CSS_SELECTOR, "#workspace-create .error").text

    workspace_id = script(browser, f'return document.querySelector("{row}").dataset.id')
    (saved,) = api.get(f"/api/v0/workspaces/{workspace_id}/scenarios").json()["scenarios"]
    kpi = api.get(f"/api/v0/executions/{execution_id}").json()["kpis"]["branin"]["value"]
    assert saved["parameters"] == {"x": 3, "y": 2, "delay_s": 0} and saved["dataset_ids"] == [file_id]
    assert f"branin={float(f'{kpi:.6g}')}" in completed, completed  # the page writes 6 significant digits
    assert "branin v1" in completed and "x=3, y=2" in completed, completed
    assert "branin=" not in reset, reset
    assert "already_exists" in refused and 'a scenario tagged "x3-y2" already exists' in refused, refused
    assert taken == f'already_exists a workspace named "{name}" already exists', taken
    # The two refused creates are the console errors expected here.
    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert len(errors) == 2 and all("409" in e for e in errors), errors
    assert "/scenarios" in errors[0] and "/scenarios" not in errors[1], errors


def click_in_page(browser: WebDriver, selector: str) -> None:
    """Click the element ``selector`` finds, once there is one, in the page's own thread: rows redrawn
    by the 2 s refresh would leave a WebDriver handle stale."""
    wait_for(browser, f'document.querySelector("{selector}")')
    script(browser, "document.querySelector(arguments[0]).click();", selector)


def save_branin_scenario(browser: WebDriver, tag: str, file_id: str) -> None:
    """Fill the workspace page's "New scenario" form (branin at x=3, y=2 on ``file_id``) and submit it."""
    wait_for(browser, f"document.querySelector(\"#inputs input[value='{file_id}']\")")
    browser.find_element(By.ID, "scenario-tag").clear()
    browser.find_element(By.ID, "scenario-tag").send_keys(tag)
    Select(browser.find_element(By.ID, "scenario-algorithm")).select_by_visible_text("branin v1")
    for parameter, value in (("x", "3"), ("y", "2")):
        browser.find_element(By.ID, f"parameter-{parameter}").clear()
        browser.find_element(By.ID, f"parameter-{parameter}").send_keys(value)
    box = browser.find_element(By.CSS_SELECTOR, f"#inputs input[value='{file_id}']")
    if not box.is_selected():
        box.click()
    browser.find_element(By.CSS_SELECTOR, "#scenario-form button[type=submit]").click()
