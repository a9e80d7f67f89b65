"""Checkpoints API (Compox's /checkpoint routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from stratus.api.deps import CallerDep, CursorQuery, LimitQuery, StoresDep, TagsDep, set_next_cursor
from stratus.models.checkpoints import Checkpoint
from stratus.models.files import Deleted
from stratus.models.ids import CheckpointId

router = APIRouter(tags=["checkpoints"])

CheckpointIdPath = Annotated[CheckpointId, Path()]


@router.get("/checkpoint/all", summary="List checkpoints by tags, newest first")
def list_checkpoints(
    caller: CallerDep,
    stores: StoresDep,
    response: Response,
    tags: TagsDep,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> list[Checkpoint]:
    """Checkpoints with every positive tag and no negative tag (`[]` when none)."""
    records, next_cursor = stores.checkpoints.list_recent(caller.tenant, limit, cursor, tags=tags)
    set_next_cursor(response, next_cursor)
    return [Checkpoint.from_record(r) for r in records]


@router.get(
    "/checkpoint/{checkpoint_id}",
    summary="A checkpoint's metadata",
    responses={404: {"description": "Unknown"}},
)
def get_checkpoint(checkpoint_id: CheckpointIdPath, caller: CallerDep, stores: StoresDep) -> Checkpoint:
    """Metadata only: export the algorithm with `checkpoint_id` for the trained package."""
    return Checkpoint.from_record(stores.checkpoints.get(checkpoint_id, caller.tenant))


@router.delete(
    "/checkpoint/{checkpoint_id}", summary="Delete a checkpoint", responses={404: {"description": "Unknown"}}
)
def delete_checkpoint(checkpoint_id: CheckpointIdPath, caller: CallerDep, stores: StoresDep) -> Deleted:
    """Delete the record; assets stay (content-addressed, possibly shared)."""
    stores.checkpoints.delete(checkpoint_id, caller.tenant)
    return Deleted(detail="Checkpoint deleted successfully")
