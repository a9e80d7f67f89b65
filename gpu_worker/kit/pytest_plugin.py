"""pytest plugin (`pytest -p gpu_worker.kit.pytest_plugin`): Compox's modules importable in authors' tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from gpu_worker.kit import compox

if TYPE_CHECKING:
    from _pytest.config import Config


def pytest_configure(config: Config) -> None:  # noqa: ARG001 (pytest's hook signature)
    """Install the `compox` modules before test modules are collected (and imported)."""
    try:
        compox.install()
    except compox.RealCompoxError as exc:
        raise pytest.UsageError(str(exc)) from exc
