"""Samples API (Compox's /sample routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from stratus.api.deps import CallerDep, CursorQuery, LimitQuery, StoresDep, TagsDep, set_next_cursor
from stratus.models.files import Deleted
from stratus.models.ids import SampleId
from stratus.models.samples import Sample, SampleCreate, SampleCreated
from stratus.services import samples as service

router = APIRouter(tags=["samples"])

SampleIdPath = Annotated[SampleId, Path()]


@router.post(
    "/sample",
    summary="Create a training sample from uploaded files",
    responses={
        404: {"description": "A file is unknown, expired or not READY"},
        422: {"description": "Bad files"},
    },
)
def create_sample(body: SampleCreate, caller: CallerDep, stores: StoresDep) -> SampleCreated:
    """Reference files (not copied) under roles such as input/target; they do not expire while it exists."""
    return SampleCreated(sample_id=service.create(body, caller.tenant, stores).sample_id)


@router.get("/sample/all", summary="List samples by tags, newest first")
def list_samples(
    caller: CallerDep,
    stores: StoresDep,
    response: Response,
    tags: TagsDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> list[Sample]:
    """Samples with every positive tag and no negative tag (`[]` when none); more pages via X-Next-Cursor."""
    records, next_cursor = stores.samples.list_recent(caller.tenant, limit, cursor, tags=tags)
    set_next_cursor(response, next_cursor)
    return [Sample.from_record(r) for r in records]


@router.get("/sample/{sample_id}", summary="A sample", responses={404: {"description": "Unknown sample"}})
def get_sample(sample_id: SampleIdPath, caller: CallerDep, stores: StoresDep) -> Sample:
    """The sample record."""
    return Sample.from_record(stores.samples.get(sample_id, caller.tenant))


@router.delete(
    "/sample/{sample_id}", summary="Delete a sample", responses={404: {"description": "Unknown sample"}}
)
def delete_sample(sample_id: SampleIdPath, caller: CallerDep, stores: StoresDep) -> Deleted:
    """Delete the sample; its files expire as usual once nothing else holds them."""
    service.delete(sample_id, caller.tenant, stores)
    return Deleted(detail="Sample deleted successfully")
