"""The FastAPI app the `api` Lambda (through Mangum) and the local uvicorn both serve."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from stratus.api.deps import AUTHENTICATED
from stratus.api.errors import install_error_handlers
from stratus.api.routes import (
    algorithms,
    campaigns,
    checkpoints,
    docs,
    executions,
    files,
    health,
    monitoring,
    samples,
    tokens,
    trainings,
    ui,
    webhooks,
    workflows,
    workspaces,
)
from stratus.settings import Settings, get_settings
from stratus.stores import Stores, build_stores

API_PREFIX = "/api/v0"
# The routes anyone may call (template.yaml gives each an event with Authorizer NONE): health, docs and
# the dashboard's page and assets (they hold no data; the page calls the API with the user's token).
PUBLIC_PATHS = frozenset(
    {"/health", docs.OPENAPI_URL, docs.DOCS_URL, docs.OAUTH2_REDIRECT_URL, docs.REDOC_URL}
    | {f"{docs.DOCS_ASSETS_URL}/{{proxy+}}", ui.UI_PATH, f"{ui.UI_PATH}/{{proxy+}}"}
)
# API Gateway's greedy path variable: a public path ending in it covers everything below its prefix.
GREEDY = "{proxy+}"
BEARER_DESCRIPTION = "An ID token of the user pool (or OIDC issuer), or an API token (POST /api/v0/tokens)"
UNAUTHORIZED_RESPONSE = {
    "description": "No credential, or one that is invalid, expired or revoked",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def create_app(settings: Settings | None = None, stores: Stores | None = None) -> FastAPI:
    """Build the app; clients and stores are created once here and reused by every request."""
    settings = settings or get_settings()
    if settings.cursor_secret is None:
        # A deployment error: refused at the cold start, not at the first list.
        raise RuntimeError("CURSOR_SECRET is not set: the API signs its page cursors with it")
    app = FastAPI(
        title=docs.TITLE,
        version="0.1.0",
        description="Serverless compute for scientific algorithms on HDF5 data, Compox-compatible.",
        docs_url=None,  # served offline by routes.docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.stores = stores or build_stores(settings)
    install_error_handlers(app)
    docs.install(app)
    app.include_router(health.router)
    app.include_router(ui.router)
    routers = (files, algorithms, executions, samples, trainings, checkpoints, tokens, workflows, monitoring)
    for router in routers:
        app.include_router(router.router, prefix=API_PREFIX, dependencies=AUTHENTICATED)
    app.include_router(webhooks.router, prefix=API_PREFIX, dependencies=AUTHENTICATED)
    app.include_router(campaigns.router, prefix=API_PREFIX, dependencies=AUTHENTICATED)
    app.include_router(workspaces.router, prefix=API_PREFIX, dependencies=AUTHENTICATED)
    _document_security(app)
    return app


def is_public(path: str) -> bool:
    """Whether anyone may call ``path`` (template.yaml routes it with Authorizer NONE)."""
    return path in PUBLIC_PATHS or any(
        path.startswith(public.removesuffix(GREEDY)) for public in PUBLIC_PATHS if public.endswith(GREEDY)
    )


def _document_security(app: FastAPI) -> None:
    """Say in the OpenAPI document that every route but the public ones takes a bearer token (and
    answers 401 without one), so /docs offers "Authorize" and clients know."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = build()
        schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearer"] = {"type": "http", "scheme": "bearer", "description": BEARER_DESCRIPTION}
        for path, item in document["paths"].items():
            if path in PUBLIC_PATHS:
                continue
            for operation in item.values():
                operation["security"] = [{"bearer": []}]
                operation["responses"]["401"] = UNAUTHORIZED_RESPONSE
        return document

    app.openapi = openapi  # type: ignore[method-assign]
