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


async def _samples_and_catalog(url: str, token: str, folder: Path) -> dict[str, object]:
    async with AsyncClient(url, token) as client:
        sample = await client.create_sample(
            [{"input": [folder / "image.h5"], "target": [folder / "mask.h5"]}], tags=["async"]
        )
        listed = [found.sample_id for found in await client.list_samples(tags=["async"])]
        await client.delete_sample(sample.sample_id)
        exported = await client.export_algorithm("threshold", folder)
        return {
            "listed": listed == [sample.sample_id],
            "gone": not await client.list_samples(tags=["async"]),
            "trainings": (await client.list_trainings()).items == [],
            "checkpoints": await client.list_checkpoints(tags=["async"]) == [],
            "export": exported.name == "threshold-1.zip" and exported.stat().st_size > 0,
        }


def test_async_client_manages_samples_and_exports_algorithms(
    local_stack: LocalStackProcess, async_token: str, tmp_path: Path
) -> None:
    write_volume(tmp_path / "image.h5", (4, 4))
    write_volume(tmp_path / "mask.h5", (4, 4), seed=1)

    checks = asyncio.run(_samples_and_catalog(local_stack.api_url, async_token, tmp_path))

    assert all(checks.values()), checks


@pytest.fixture
def async_token(local_stack: LocalStackProcess) -> str:
    """A tenant of this test's own, so the lists it reads hold only what it made."""
    return local_stack.token("client-async")
