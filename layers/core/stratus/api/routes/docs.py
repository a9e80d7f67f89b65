"""The API docs, offline: /docs (Swagger UI) and /redoc with their scripts and styles served from the
fastapi-offline package under /docs-assets (no CDN). The pages are ours, not fastapi-offline's app
factory: its pages are closures made per app, which FastAPI's callable cache keeps (and each app, its
stores and clients with them) for the life of the process.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
REDOC_URL = "/redoc"
OPENAPI_URL = "/openapi.json"
DOCS_ASSETS_URL = "/docs-assets"
TITLE = "Stratus"
REDOC_SCRIPT = "redoc.standalone.js"
# fastapi-offline's ReDoc bundle always loads the "API docs by Redocly" logo from cdn.redoc.ly: its
# script is served with that one reference made an inline (empty) image.
CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
INLINE_LOGO = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"
CACHE = "public, max-age=86400"


def _assets_dir() -> Path:
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def _asset(request: Request, name: str) -> str:
    # root_path: behind API Gateway the API may sit under a stage prefix.
    return f"{request.scope.get('root_path', '')}{DOCS_ASSETS_URL}/{name}"


@router.get(DOCS_URL)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the OpenAPI document."""
    return get_swagger_ui_html(
        openapi_url=f"{request.scope.get('root_path', '')}{OPENAPI_URL}",
        title=f"{TITLE} - Swagger UI",
        oauth2_redirect_url=OAUTH2_REDIRECT_URL,
        swagger_js_url=_asset(request, "swagger-ui-bundle.js"),
        swagger_css_url=_asset(request, "swagger-ui.css"),
        swagger_favicon_url=_asset(request, "favicon.png"),
    )


@router.get(OAUTH2_REDIRECT_URL)
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get(REDOC_URL)
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the OpenAPI document."""
    return get_redoc_html(
        openapi_url=f"{request.scope.get('root_path', '')}{OPENAPI_URL}",
        title=f"{TITLE} - ReDoc",
        redoc_js_url=_asset(request, REDOC_SCRIPT),
        redoc_favicon_url=_asset(request, "favicon.png"),
        with_google_fonts=False,
    )


@lru_cache(maxsize=1)
def redoc_script() -> bytes:
    """fastapi-offline's ReDoc bundle with the CDN logo replaced (read once per cold start)."""
    return (_assets_dir() / REDOC_SCRIPT).read_bytes().replace(CDN_LOGO, INLINE_LOGO)


@router.get(f"{DOCS_ASSETS_URL}/{REDOC_SCRIPT}")
def redoc_bundle() -> Response:
    """ReDoc's script without its CDN reference (answered before the static mount serves the rest)."""
    headers = {"Cache-Control": CACHE}
    return Response(redoc_script(), media_type="text/javascript; charset=utf-8", headers=headers)


def install(app: FastAPI) -> None:
    """The docs pages, then the mount of every other asset (routes match in order)."""
    app.include_router(router)
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=_assets_dir()), name="docs-assets")
