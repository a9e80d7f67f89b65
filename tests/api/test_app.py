"""create_app: the API refuses to start without what it needs."""

from __future__ import annotations

import gc
import weakref

import pytest
from fastapi.testclient import TestClient
from stratus.api import create_app
from stratus.settings import Settings
from stratus.stores import Stores


def test_create_app_refuses_to_start_without_a_cursor_secret(settings: Settings, stores: Stores) -> None:
    unsigned = settings.model_copy(update={"cursor_secret": None})

    with pytest.raises(RuntimeError, match="CURSOR_SECRET"):
        create_app(unsigned, stores)


def test_an_app_is_freed_once_dropped(settings: Settings, stores: Stores) -> None:
    # Nothing process-wide keeps an app (and its stores and clients): a test suite makes thousands.
    app = create_app(settings, stores)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 200
    dropped = weakref.ref(app)

    del app, client
    gc.collect()

    assert dropped() is None
