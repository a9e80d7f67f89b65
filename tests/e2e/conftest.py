"""The end-to-end tests' clients of the shared local stack (tests/conftest.py's `local_stack`)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from stratus.local.process import LocalStackProcess


@pytest.fixture(scope="session")
def auth_headers(local_stack: LocalStackProcess) -> dict[str, str]:
    """Headers of tenant ``local``: an ID token of the stack's user pool (valid an hour)."""
    return local_stack.headers("local")


@pytest.fixture
def api(local_stack: LocalStackProcess, auth_headers: dict[str, str]) -> Iterator[httpx.Client]:
    """A client of the stack's API, signed in as tenant ``local``."""
    with httpx.Client(
        base_url=local_stack.api_url, timeout=60, follow_redirects=True, headers=auth_headers
    ) as client:
        yield client
