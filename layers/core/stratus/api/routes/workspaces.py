"""Workspaces API (seed 004's sessions and scenarios, in our style): named folders of scenarios, each run
on demand as an ordinary execution."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from stratus.api.deps import CallerDep, ExecutionMachineDep, StoresDep
from stratus.models.ids import ScenarioId, WorkspaceId
from stratus.models.workspaces import (
    Scenario,
    ScenarioCreate,
    ScenarioList,
    ScenarioRecord,
    ScenarioState,
    Workspace,
    WorkspaceCreate,
    WorkspaceList,
    WorkspaceRecord,
    WorkspaceUpdate,
)
from stratus.services import scenarios, workspaces

router = APIRouter(tags=["workspaces"])

WORKSPACES = "/workspaces"
SCENARIO = "/workspaces/{workspace_id}/scenarios/{scenario_id}"
WorkspaceIdPath = Annotated[WorkspaceId, Path()]
ScenarioIdPath = Annotated[ScenarioId, Path()]
ERRORS = {
    404: {"description": "Unknown workspace or scenario (or another tenant's)"},
    409: {"description": "The name (or tag) is taken, or the scenario's status does not allow it"},
    422: {"description": "A missing or empty name or tag, or invalid parameters"},
}


def _workspace(workspace_id: WorkspaceIdPath, caller: CallerDep, stores: StoresDep) -> WorkspaceRecord:
    return workspaces.get(caller.tenant, workspace_id, stores)


def _scenario(
    workspace_id: WorkspaceIdPath, scenario_id: ScenarioIdPath, caller: CallerDep, stores: StoresDep
) -> tuple[WorkspaceRecord, ScenarioRecord]:
    return stores.workspaces.workspace_and_scenario(caller.tenant, workspace_id, scenario_id)


WorkspaceDep = Annotated[WorkspaceRecord, Depends(_workspace)]
ScenarioDep = Annotated[tuple[WorkspaceRecord, ScenarioRecord], Depends(_scenario)]


def _listing(tenant: str, stores: StoresDep) -> WorkspaceList:
    records = workspaces.list_all(tenant, stores)
    return WorkspaceList(
        workspaces=[Workspace.from_record(r) for r in records], default=records[0].workspace_id
    )


def _view(record: ScenarioRecord, stores: StoresDep) -> Scenario:
    return Scenario.from_record(record, scenarios.state_of(record, stores))


@router.get(WORKSPACES, summary="List workspaces and the default one")
def list_workspaces(caller: CallerDep, stores: StoresDep) -> WorkspaceList:
    """Every workspace, oldest first; a tenant's first call makes its `main`, so there is always one."""
    return _listing(caller.tenant, stores)


@router.post(WORKSPACES, summary="Create a workspace", status_code=201, responses={409: ERRORS[409]})
def create_workspace(body: WorkspaceCreate, caller: CallerDep, stores: StoresDep) -> Workspace:
    """A new, empty workspace; display names are unique per tenant (409 `already_exists`)."""
    return Workspace.from_record(workspaces.create(caller.tenant, body.display_name, stores))


@router.patch(
    WORKSPACES + "/{workspace_id}",
    summary="Rename a workspace",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def rename_workspace(
    workspace_id: WorkspaceIdPath, body: WorkspaceUpdate, caller: CallerDep, stores: StoresDep
) -> Workspace:
    """A new display name; the id stays."""
    return Workspace.from_record(workspaces.rename(caller.tenant, workspace_id, body.display_name, stores))


@router.post(
    WORKSPACES + "/{workspace_id}/copy",
    summary="Copy a workspace",
    status_code=201,
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def copy_workspace(
    workspace_id: WorkspaceIdPath, body: WorkspaceCreate, caller: CallerDep, stores: StoresDep
) -> Workspace:
    """A new workspace with a CREATED copy of every scenario (new ids); the data is shared, not copied."""
    return Workspace.from_record(workspaces.copy(caller.tenant, workspace_id, body.display_name, stores))


@router.delete(
    WORKSPACES + "/{workspace_id}",
    summary="Delete a workspace and its scenarios",
    responses={404: ERRORS[404]},
)
def delete_workspace(workspace_id: WorkspaceIdPath, caller: CallerDep, stores: StoresDep) -> WorkspaceList:
    """Delete it and its scenarios (their executions stay); deleting the last one makes a fresh `main`.
    Answers the workspaces left."""
    workspaces.delete(caller.tenant, workspace_id, stores)
    return _listing(caller.tenant, stores)


@router.get(
    WORKSPACES + "/{workspace_id}/scenarios",
    summary="List a workspace's scenarios",
    responses={404: ERRORS[404]},
)
def list_scenarios(workspace: WorkspaceDep, stores: StoresDep) -> ScenarioList:
    """Every scenario of the workspace, in creation order, with its execution's status."""
    records = stores.workspaces.scenarios(workspace.workspace_id)
    states = scenarios.states_of(records, stores) if records else []
    return ScenarioList(scenarios=[Scenario.from_record(r, s) for r, s in zip(records, states, strict=True)])


@router.get(
    WORKSPACES + "/{workspace_id}/processing",
    summary="The scenarios whose executions run",
    responses={404: ERRORS[404]},
)
def processing_scenarios(workspace: WorkspaceDep, stores: StoresDep) -> ScenarioList:
    """The scenarios whose execution has not ended (PENDING, STARTED or RUNNING)."""
    records = stores.workspaces.scenarios(workspace.workspace_id)
    states = scenarios.states_of(records, stores) if records else []
    live = [
        Scenario.from_record(r, s)
        for r, s in zip(records, states, strict=True)
        if s is not None and s.status.value in scenarios.LIVE_STATUSES
    ]
    return ScenarioList(scenarios=live)


@router.post(
    WORKSPACES + "/{workspace_id}/scenarios",
    summary="Create a scenario",
    status_code=201,
    responses={k: ERRORS[k] for k in (404, 409, 422)},
)
def create_scenario(body: ScenarioCreate, workspace: WorkspaceDep, stores: StoresDep) -> Scenario:
    """A CREATED scenario: its algorithm (404), parameters (422) and datasets (404, 409 when not READY)
    are checked now, as an execution's would be; the tag is unique in the workspace (409)."""
    return _view(scenarios.create(workspace, body, stores), stores)


@router.get(SCENARIO, summary="A scenario with its result and KPIs", responses={404: ERRORS[404]})
def get_scenario(scenario: ScenarioDep, stores: StoresDep) -> Scenario:
    """The scenario, its execution's status and progress, and once COMPLETED its result and KPIs."""
    return _view(scenario[1], stores)


@router.get(SCENARIO + "/status", summary="A scenario's status and progress", responses={404: ERRORS[404]})
def scenario_status(scenario: ScenarioDep, stores: StoresDep) -> ScenarioState:
    """The lightweight poll: `id`, `tag`, `status`, `progress` (one batched read and one read)."""
    record = scenario[1]
    return ScenarioState.of(record, scenarios.state_of(record, stores))


@router.post(
    SCENARIO + "/run",
    summary="Run a CREATED scenario",
    status_code=202,
    responses={k: ERRORS[k] for k in (404, 409, 422)},
)
def run_scenario(scenario: ScenarioDep, stores: StoresDep, machine: ExecutionMachineDep) -> Scenario:
    """Start its execution, exactly as /execute-algorithm would (PENDING: seed 004's QUEUED); 409 unless
    CREATED."""
    record, state = scenarios.run(*scenario, stores, machine)
    return Scenario.from_record(record, state)


@router.post(
    SCENARIO + "/reset",
    summary="Reset a scenario to CREATED",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def reset_scenario(scenario: ScenarioDep, stores: StoresDep) -> Scenario:
    """Back to CREATED with the result cleared, once its execution ended (409 before); a no-op when
    CREATED."""
    return _view(scenarios.reset(scenario[1], stores), stores)


@router.delete(SCENARIO, summary="Delete a scenario", status_code=204, responses={404: ERRORS[404]})
def delete_scenario(scenario: ScenarioDep, stores: StoresDep) -> Response:
    """Delete it at any time; its execution, if one runs, is an ordinary one and goes on."""
    scenarios.delete(*scenario, stores)
    return Response(status_code=204)
