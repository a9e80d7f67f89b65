"""The dashboard: static files shipped in the package (`stratus/api/ui/`), served at /ui and /ui/…

Public (template.yaml routes both with Authorizer NONE, like /docs): the page holds no data; the
browser then calls the API with the token the user signs in with. Assets are served under a version
path derived from their content (`/ui/v-<hash>/app.js`) and cached for good; the page itself is
revalidated on every load (ETag), so a deploy shows at once without a build step.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Header, Path, Response
from fastapi.responses import RedirectResponse

from stratus.errors import NotFoundError

router = APIRouter(include_in_schema=False)

UI_PATH = "/ui"
INDEX = "index.html"
# index.html names its assets relative to /ui with this placeholder; it becomes `ui/v-<hash>`.
ASSETS_PLACEHOLDER = "__ASSETS__"
VERSION_PREFIX = "v-"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Presigned S3 URLs (uploads, large downloads) are on another origin, so connect-src allows any; a
# campaign's plot is fetched with the token and shown from a blob: URL.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Asset:
    """One file of the dashboard, ready to send."""

    body: bytes
    content_type: str
    etag: str


@dataclass(frozen=True)
class Bundle:
    """Every file of the dashboard, by name, and the version of the whole set."""

    assets: dict[str, Asset]
    version: str


@lru_cache(maxsize=1)
def load_bundle() -> Bundle:
    """Read the package's ui/ folder once per process (a cold start on Lambda: about 50 KB)."""
    folder = resources.files("stratus.api") / "ui"
    files = {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and _suffix(entry.name) in CONTENT_TYPES
    }
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    version = digest.hexdigest()[:12]
    index = files[INDEX].replace(ASSETS_PLACEHOLDER.encode(), f"ui/{VERSION_PREFIX}{version}".encode())
    files[INDEX] = index
    assets = {name: _asset(name, body) for name, body in files.items()}
    return Bundle(assets=assets, version=version)


def _suffix(name: str) -> str:
    return name[name.rfind(".") :] if "." in name else ""


def _asset(name: str, body: bytes) -> Asset:
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    return Asset(body=body, content_type=CONTENT_TYPES[_suffix(name)], etag=etag)


def _send(asset: Asset, cache_control: str, if_none_match: str | None) -> Response:
    headers = {"ETag": asset.etag, "Cache-Control": cache_control, **SECURITY_HEADERS}
    if if_none_match is not None and asset.etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.content_type, headers=headers)


IfNoneMatch = Annotated[str | None, Header()]


@router.get(UI_PATH)
def dashboard(if_none_match: IfNoneMatch = None) -> Response:
    """The dashboard's page."""
    return _send(load_bundle().assets[INDEX], REVALIDATE, if_none_match)


@router.get(UI_PATH + "/{path:path}")
def dashboard_asset(path: Annotated[str, Path()], if_none_match: IfNoneMatch = None) -> Response:
    """A script or style of the dashboard: under `v-<hash>/` cached for good, else revalidated.

    Raises NotFoundError.
    """
    if path in ("", INDEX):
        # The page's relative asset URLs resolve from /ui, not /ui/; a relative Location keeps a stage.
        return RedirectResponse("../ui", status_code=308)
    bundle = load_bundle()
    version, _, name = path.partition("/")
    current = version == VERSION_PREFIX + bundle.version
    if not name:
        version, name = "", path
    asset = bundle.assets.get(name)
    # Only the package's own files by exact name: nothing else on disk is reachable from here.
    if asset is None or name == INDEX or (version and not version.startswith(VERSION_PREFIX)):
        raise NotFoundError(f"no dashboard file {path!r}")
    # An older page may ask for an older version: answer today's file, without caching it for good.
    return _send(asset, IMMUTABLE if current else REVALIDATE, if_none_match)
