"""The client's end-to-end tests: the shared local stack (tests/conftest.py), a tenant of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stratus.local.process import LocalStackProcess
from stratus_client import Client

TENANT = "client-tests"


@pytest.fixture(scope="session")
def token(local_stack: LocalStackProcess) -> str:
    """An ID token of the stack's user pool for the tests' tenant (valid an hour)."""
    return local_stack.token(TENANT)


@pytest.fixture
def client(local_stack: LocalStackProcess, token: str) -> Iterator[Client]:
    with Client(local_stack.api_url, token) as sdk:
        yield sdk


@pytest.fixture
def cli_env(local_stack: LocalStackProcess, token: str, tmp_path: Path) -> dict[str, str]:
    """The environment a user's shell has after `make dev`, with a config folder of its own."""
    return {
        "STRATUS_URL": local_stack.api_url,
        "STRATUS_TOKEN": token,
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
    }
