"""Workspace use cases: list (setting up `main` on first use), create, rename, copy, delete."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from stratus.models.workspaces import DEFAULT_WORKSPACE_NAME, WorkspaceRecord

if TYPE_CHECKING:
    from stratus.stores import Stores


def _new(tenant: str, display_name: str, stores: Stores, scenario_count: int = 0) -> WorkspaceRecord:
    now = stores.clock()
    return WorkspaceRecord(
        workspace_id=str(uuid.uuid4()),
        tenant=tenant,
        display_name=display_name,
        scenario_count=scenario_count,
        created_at=now,
        updated_at=now,
    )


def set_up(tenant: str, stores: Stores) -> None:
    """Give a tenant its `main` workspace on first use: one conditional write on the tenant's head, so
    of two first requests racing, one makes it and the other sees it."""
    if not stores.workspaces.has_head(tenant):
        stores.workspaces.set_up(_new(tenant, DEFAULT_WORKSPACE_NAME, stores))


def list_all(tenant: str, stores: Stores) -> list[WorkspaceRecord]:
    """Every workspace of the tenant, oldest (the default) first; never empty."""
    set_up(tenant, stores)
    return stores.workspaces.list_all(tenant)


def get(tenant: str, workspace_id: str, stores: Stores) -> WorkspaceRecord:
    """One workspace of the tenant. Raises NotFoundError."""
    return stores.workspaces.get(tenant, workspace_id)


def create(tenant: str, display_name: str, stores: Stores) -> WorkspaceRecord:
    """A new, empty workspace. Raises AlreadyExistsError (the name is taken)."""
    set_up(tenant, stores)
    record = _new(tenant, display_name, stores)
    stores.workspaces.add(record)
    return record


def rename(tenant: str, workspace_id: str, display_name: str, stores: Stores) -> WorkspaceRecord:
    """Change a workspace's display name; its id stays. Raises NotFoundError, AlreadyExistsError."""
    return stores.workspaces.rename(tenant, workspace_id, display_name)


def copy(tenant: str, workspace_id: str, display_name: str, stores: Stores) -> WorkspaceRecord:
    """A new workspace holding a copy of each scenario: new ids, CREATED, the same tag, algorithm,
    parameters and datasets. The datasets' bytes are shared (the copies name the same file and sample
    ids): nothing is copied in S3.

    Raises NotFoundError, AlreadyExistsError (the name is taken).
    """
    stores.workspaces.get(tenant, workspace_id)
    sources = stores.workspaces.scenarios(workspace_id)
    record = _new(tenant, display_name, stores, scenario_count=len(sources))
    copies = [
        source.model_copy(
            update={
                "scenario_id": str(uuid.uuid4()),
                "workspace_id": record.workspace_id,
                "execution_id": None,
                "run_count": 0,
                "outcome": None,
                "created_at": record.created_at,
                "updated_at": record.created_at,
            }
        )
        for source in sources
    ]
    # The scenarios first, then the workspace: it exists (is listed and readable) only once they all do.
    stores.workspaces.put_copies(copies)
    try:
        stores.workspaces.add(record)
    except Exception:
        stores.workspaces.purge_copies(record.workspace_id)
        raise
    return record


def delete(tenant: str, workspace_id: str, stores: Stores) -> None:
    """Delete a workspace and its scenarios (their executions are ordinary ones and stay); the tenant's
    last workspace is replaced by a fresh `main` in the same transaction. Raises NotFoundError."""
    record = stores.workspaces.get(tenant, workspace_id)
    stores.workspaces.remove(record, _new(tenant, DEFAULT_WORKSPACE_NAME, stores))
