"""Compox package folders zipped for a deploy."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from stratus_client.errors import InvalidInputError

# Build and editor leftovers that never belong in a deployed package.
SKIPPED_PARTS = {"__pycache__", ".git", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


def _is_packaged(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return path.is_file() and not any(p in SKIPPED_PARTS or p.startswith(".") for p in parts)


def zip_package(source: Path) -> bytes:
    """A package folder as zip bytes (paths relative to the folder), or a .zip file's bytes as they are.
    Raises InvalidInputError when it is neither, or has no pyproject.toml."""
    if source.is_file() and source.suffix == ".zip":
        return source.read_bytes()
    if not source.is_dir():
        raise InvalidInputError(f"{source} is not a package folder or a .zip file")
    if not (source / "pyproject.toml").is_file():
        raise InvalidInputError(f"{source} has no pyproject.toml: not a Compox package folder")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            if _is_packaged(path, source):
                archive.write(path, path.relative_to(source).as_posix())
    return buffer.getvalue()
