"""The HTTP API: create_app and its routers."""

from stratus.api.app import create_app

__all__ = ["create_app"]
