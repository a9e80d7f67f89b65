"""The async SDK against a real local stack: a multipart upload with parts in flight together, a run."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from stratus_client import AsyncClient, NotFoundError

from tests.client.helpers import write_volume

if TYPE_CHECKING:
    from pathlib import Path

    from stratus.local.process import LocalStackProcess

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024


async def _round_trip(url: str, token: str, folder: Path) -> tuple[str, bytes, str]:
    async with AsyncClient(url, token) as client:
        info = await client.upload(folder / "large.h5", part_size=5 * MIB)
        copy = await client.download(info.file_id, folder / "copy.h5")
        execution = await client.run("threshold:1", [info.file_id], {"operation": "normalize"})
        return info.status, copy.read_bytes(), execution.status


def test_async_client_uploads_parts_downloads_and_runs(
    local_stack: LocalStackProcess, token: str, tmp_path: Path
) -> None:
    write_volume(tmp_path / "large.h5", (3 * MIB,))

    status, copied, run_status = asyncio.run(_round_trip(local_stack.api_url, token, tmp_path))

    assert (status, run_status) == ("READY", "COMPLETED")
    assert copied == (tmp_path / "large.h5").read_bytes()


async def _missing(url: str, token: str) -> None:
    async with AsyncClient(url, token) as client:
        await client.get_workflow("00000000-0000-4000-8000-000000000000")


def test_async_client_raises_typed_errors(local_stack: LocalStackProcess, token: str) -> None:
    with pytest.raises(NotFoundError):
        asyncio.run(_missing(local_stack.api_url, token))
