"""create_app: the API refuses to start without what it needs."""

from __future__ import annotations

import pytest
from stratus.api import create_app
from stratus.settings import Settings
from stratus.stores import Stores


def test_create_app_refuses_to_start_without_a_cursor_secret(settings: Settings, stores: Stores) -> None:
    unsigned = settings.model_copy(update={"cursor_secret": None})

    with pytest.raises(RuntimeError, match="CURSOR_SECRET"):
        create_app(unsigned, stores)
