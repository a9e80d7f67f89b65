"""The FastAPI app the `api` Lambda (through Mangum) and the local uvicorn both serve."""

from __future__ import annotations

from fastapi import FastAPI

from stratus.api.errors import install_error_handlers
from stratus.api.routes import algorithms, checkpoints, executions, files, health, samples, trainings
from stratus.settings import Settings, get_settings
from stratus.stores import Stores, build_stores

API_PREFIX = "/api/v0"


def create_app(settings: Settings | None = None, stores: Stores | None = None) -> FastAPI:
    """Build the app; clients and stores are created once here and reused by every request."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Stratus",
        version="0.1.0",
        description="Serverless compute for scientific algorithms on HDF5 data, Compox-compatible.",
    )
    app.state.settings = settings
    app.state.stores = stores or build_stores(settings)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(files.router, prefix=API_PREFIX)
    app.include_router(algorithms.router, prefix=API_PREFIX)
    app.include_router(executions.router, prefix=API_PREFIX)
    app.include_router(samples.router, prefix=API_PREFIX)
    app.include_router(trainings.router, prefix=API_PREFIX)
    app.include_router(checkpoints.router, prefix=API_PREFIX)
    return app
