"""/docs and /redoc work offline: their pages load Swagger UI's and ReDoc's assets from the API itself
(the fastapi-offline package), never from a CDN, and anyone may fetch them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_every_asset_from_the_api(anonymous_client: TestClient, page: str) -> None:
    html = anonymous_client.get(page).text

    assets = [url for url in ASSET.findall(html) if not url.startswith("data:")]

    assert assets, html
    assert all(url.startswith("/docs-assets/") for url in assets), assets
    for url in assets:
        answer = anonymous_client.get(url)
        assert answer.status_code == 200 and len(answer.content) > 1000, url


def test_docs_pages_name_no_outside_host(anonymous_client: TestClient) -> None:
    pages = anonymous_client.get("/docs").text + anonymous_client.get("/redoc").text

    assert "https://" not in pages and "http://" not in pages


def test_redoc_script_loads_nothing_from_a_cdn(anonymous_client: TestClient) -> None:
    # The bundle as shipped names one CDN asset (the Redocly logo); ours is served without it.
    script = anonymous_client.get("/docs-assets/redoc.standalone.js")

    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "cdn.redoc.ly" not in script.text and "data:image/svg+xml" in script.text
    assert anonymous_client.get("/docs-assets/swagger-ui.css").status_code == 200
