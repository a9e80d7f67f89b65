"""The dashboard's files at /ui: public, served from the package with their content types, the page
revalidated on every load and its assets cached for good under a content-hashed folder; nothing else on
disk reachable. (tests/e2e/test_dashboard.py drives the page itself in Chromium.)"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from stratus.api.routes.ui import IMMUTABLE, REVALIDATE, load_bundle

ASSET = re.compile(r'(?:src|href)="(ui/[^"]+)"')
IMPORT = re.compile(r'^import .* from "([^"]+)";$', re.MULTILINE)
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def test_dashboard_page_is_public_and_revalidated(anonymous_client: TestClient) -> None:
    answer = anonymous_client.get("/ui")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["cache-control"] == REVALIDATE and answer.headers["etag"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert f"ui/v-{load_bundle().version}/app.js" in answer.text


def test_dashboard_assets_are_cached_for_good_under_their_version(anonymous_client: TestClient) -> None:
    page = anonymous_client.get("/ui").text

    assets = ASSET.findall(page)

    assert {url.rsplit("/", 1)[1] for url in assets} >= {"app.js", "style.css"}
    for url in assets:
        answer = anonymous_client.get(f"/{url}")
        assert answer.status_code == 200, url
        assert answer.headers["content-type"] == TYPES[url[url.rfind(".") :]], url
        assert answer.headers["cache-control"] == IMMUTABLE, url


def test_dashboard_asset_answers_not_modified_to_its_etag(anonymous_client: TestClient) -> None:
    url = f"/ui/v-{load_bundle().version}/app.js"
    etag = anonymous_client.get(url).headers["etag"]

    answer = anonymous_client.get(url, headers={"If-None-Match": etag})

    assert answer.status_code == 304 and answer.content == b""


def test_dashboard_asset_of_another_version_is_revalidated(anonymous_client: TestClient) -> None:
    answer = anonymous_client.get("/ui/v-000000000000/app.js")

    assert answer.status_code == 200 and answer.headers["cache-control"] == REVALIDATE


@pytest.mark.parametrize(
    "path",
    [
        "/ui/nothing.js",
        "/ui/v-1/%2e%2e/routes/ui.py",
        "/ui/..%2fapp.py",
        "/ui/lib/app.js",
        "/ui/v-1/index.html",
    ],
)
def test_dashboard_serves_only_its_own_files(anonymous_client: TestClient, path: str) -> None:
    answer = anonymous_client.get(path)

    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


def test_dashboard_with_a_trailing_slash_redirects_relatively(anonymous_client: TestClient) -> None:
    answer = anonymous_client.get("/ui/", follow_redirects=False)

    # Relative, so a stage prefix in front of /ui (API Gateway) is kept.
    assert answer.status_code == 308 and answer.headers["location"] == "../ui"


def test_dashboard_modules_import_only_files_it_ships() -> None:
    bundle = load_bundle()

    imports = {
        name: IMPORT.findall(asset.body.decode())
        for name, asset in bundle.assets.items()
        if name.endswith(".js")
    }

    assert imports["app.js"], "app.js imports the views"
    for name, targets in imports.items():
        assert all(t.startswith("./") and t[2:] in bundle.assets for t in targets), (name, targets)


def test_dashboard_names_no_outside_host() -> None:
    texts = {name: asset.body.decode() for name, asset in load_bundle().assets.items()}

    # The one URL in the scripts is the SVG namespace, an identifier no browser fetches.
    leaks = {name for name, text in texts.items() if re.search(r"https?://(?!www\.w3\.org/2000/svg)", text)}

    assert not leaks


def test_dashboard_routes_stay_out_of_the_openapi_document(anonymous_client: TestClient) -> None:
    paths = anonymous_client.get("/openapi.json").json()["paths"]

    assert not [path for path in paths if path.startswith("/ui")]


def test_dashboard_page_preloads_every_module(anonymous_client: TestClient) -> None:
    page = anonymous_client.get("/ui").text

    preloaded = set(re.findall(r'rel="modulepreload" href="ui/v-\w+/([\w.]+)"', page))

    assert preloaded == {name for name in load_bundle().assets if name.endswith(".js")} - {"app.js"}
