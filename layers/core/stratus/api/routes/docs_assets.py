"""ReDoc's script without its one CDN reference: the bundle fastapi-offline ships always loads the
"API docs by Redocly" logo from cdn.redoc.ly, so /redoc would reach the internet on every load. This
route answers that one asset (ahead of fastapi-offline's static mount, which serves the others) with
the logo made an inline image.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import FastAPI, Response
from fastapi.routing import APIRoute

REDOC_SCRIPT = "redoc.standalone.js"
CDN_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
# An empty SVG: the attribution link keeps its text, and the page loads nothing from elsewhere.
INLINE_LOGO = b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"
CACHE = "public, max-age=86400"


@lru_cache(maxsize=1)
def redoc_script() -> bytes:
    """fastapi-offline's ReDoc bundle with the CDN logo replaced (read once per cold start)."""
    script = resources.files("fastapi_offline").joinpath("static", REDOC_SCRIPT).read_bytes()
    return script.replace(CDN_LOGO, INLINE_LOGO)


def serve_redoc_script(app: FastAPI, static_url: str) -> None:
    """Answer `<static_url>/redoc.standalone.js` ourselves: first in the routes, before the mount."""
    route = APIRoute(f"{static_url}/{REDOC_SCRIPT}", _redoc, methods=["GET"], include_in_schema=False)
    app.router.routes.insert(0, route)


def _redoc() -> Response:
    headers = {"Cache-Control": CACHE}
    return Response(redoc_script(), media_type="text/javascript; charset=utf-8", headers=headers)
