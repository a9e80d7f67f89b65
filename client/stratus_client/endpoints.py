"""The API as data: one function per route, building the request and how to read its answer. The sync
and async clients send these, so each route's path, query and answer shape is written once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from stratus_client.models import (
    Algorithm,
    AlgorithmDeployed,
    Campaign,
    CampaignCreated,
    CampaignPage,
    Checkpoint,
    Deleted,
    Execution,
    ExecutionPage,
    FileInfo,
    FilePage,
    LogPage,
    Sample,
    Scenario,
    ScenarioList,
    ScenarioState,
    Token,
    Training,
    TrainingPage,
    Trial,
    TrialPage,
    Upload,
    Workflow,
    WorkflowPage,
    Workspace,
    WorkspaceList,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
# The API waits at most 25 s for a job to end when asked (`Prefer: wait=N`).
MAX_PREFER_WAIT_S = 25


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and the reader of its (successful) answer."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Seconds to allow for the answer beyond the client's default (a Prefer: wait request).
    extra_timeout_s: float = 0.0


def _model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: cls.model_validate(response.json())


def _models(cls: type[M]) -> Callable[[httpx.Response], list[M]]:
    adapter = TypeAdapter(list[cls])  # type: ignore[valid-type]
    return lambda response: adapter.validate_python(response.json())


def _field(name: str) -> Callable[[httpx.Response], str]:
    return lambda response: str(response.json()[name])


def _bytes(response: httpx.Response) -> bytes:
    return response.content


def _query(**values: Any) -> dict[str, Any]:
    """Query parameters without the ones left out (None, empty lists)."""
    return {k: v for k, v in values.items() if v is not None and v != []}


# Files
def upload_direct(content: bytes, name: str | None = None) -> Call[str]:
    headers = {"content-type": "application/octet-stream"}
    params = _query(name=name)
    return Call("POST", "/files", _field("file_id"), content=content, headers=headers, params=params)


def start_upload(size: int, part_size: int | None, name: str | None = None) -> Call[Upload]:
    body = _query(size=size, part_size=part_size, name=name)
    return Call("POST", "/files/uploads", _model(Upload), json=body)


def complete_upload(file_id: str, etags: Mapping[int, str]) -> Call[FileInfo]:
    parts = [{"part_number": number, "etag": etag} for number, etag in sorted(etags.items())]
    return Call("POST", f"/files/uploads/{file_id}/complete", _model(FileInfo), json={"parts": parts})


def file_status(file_id: str) -> Call[FileInfo]:
    return Call("GET", f"/files/{file_id}/status", _model(FileInfo))


def list_files(limit: int = 50, cursor: str | None = None, status: str | None = None) -> Call[FilePage]:
    return Call("GET", "/files", _model(FilePage), params=_query(limit=limit, cursor=cursor, status=status))


def delete_file(file_id: str) -> Call[Deleted]:
    return Call("DELETE", f"/files/{file_id}", _model(Deleted))


# Algorithms
def list_algorithms() -> Call[list[Algorithm]]:
    return Call("GET", "/algorithm/all", _models(Algorithm))


def get_algorithm_by_id(algorithm_id: str) -> Call[Algorithm]:
    return Call("GET", f"/algorithm/{algorithm_id}", _model(Algorithm))


def get_algorithm(name: str, major: int) -> Call[Algorithm]:
    return Call("GET", f"/algorithm/{name}/{major}", _model(Algorithm))


def deploy_algorithm(package_zip: bytes) -> Call[AlgorithmDeployed]:
    headers = {"content-type": "application/zip"}
    return Call("POST", "/algorithms", _model(AlgorithmDeployed), content=package_zip, headers=headers)


def export_algorithm(
    name: str, major: int, minor: int | None = None, checkpoint_id: str | None = None
) -> Call[bytes]:
    params = _query(algorithm_minor_version=minor, checkpoint_id=checkpoint_id)
    return Call("GET", f"/algorithm/{name}/{major}/export", _bytes, params=params)


def delete_algorithm(algorithm_id: str, minor: int | None = None) -> Call[Deleted]:
    params = _query(algorithm_minor_version=minor)
    return Call("DELETE", f"/deploy/algorithm/{algorithm_id}", _model(Deleted), params=params)


# Executions and trainings
def _job_start(
    path: str, body: Mapping[str, Any], id_field: str, record: type[M], key: str | None, wait: int
) -> Call[str | M]:
    """A job start: its id, or its final record when `Prefer: wait` saw it end."""
    headers = {"Idempotency-Key": key} if key else {}
    if wait:
        headers["Prefer"] = f"wait={min(wait, MAX_PREFER_WAIT_S)}"

    def read(response: httpx.Response) -> str | M:
        answer = response.json()
        return record.model_validate(answer) if "status" in answer else str(answer[id_field])

    return Call(
        "POST", path, read, json=dict(body), headers=headers, extra_timeout_s=min(wait, MAX_PREFER_WAIT_S)
    )


def execute(body: Mapping[str, Any], key: str | None = None, wait: int = 0) -> Call[str | Execution]:
    return _job_start("/execute-algorithm", body, "execution_id", Execution, key, wait)


def get_execution(execution_id: str) -> Call[Execution]:
    return Call("GET", f"/executions/{execution_id}", _model(Execution))


def list_executions(
    limit: int = 50, cursor: str | None = None, status: str | None = None, algorithm_id: str | None = None
) -> Call[ExecutionPage]:
    params = _query(limit=limit, cursor=cursor, status=status, algorithm_id=algorithm_id)
    return Call("GET", "/executions", _model(ExecutionPage), params=params)


def stop_execution(execution_id: str) -> Call[Deleted]:
    return Call("POST", f"/executions/{execution_id}/stop", _model(Deleted))


def execution_logs(execution_id: str, from_line: int = 0, limit: int = 1000) -> Call[LogPage]:
    params = {"from_line": from_line, "limit": limit}
    return Call("GET", f"/executions/{execution_id}/logs", _model(LogPage), params=params)


def train(body: Mapping[str, Any], key: str | None = None, wait: int = 0) -> Call[str | Training]:
    return _job_start("/train-algorithm", body, "training_id", Training, key, wait)


def get_training(training_id: str) -> Call[Training]:
    return Call("GET", f"/training/{training_id}", _model(Training))


def list_trainings(
    limit: int = 50, cursor: str | None = None, status: str | None = None, tags: Sequence[str] = ()
) -> Call[TrainingPage]:
    params = _query(limit=limit, cursor=cursor, status=status, positive_tags=list(tags))
    return Call("GET", "/training", _model(TrainingPage), params=params)


def stop_training(training_id: str) -> Call[Deleted]:
    return Call("POST", f"/training/{training_id}/stop", _model(Deleted))


def extend_training(training_id: str, body: Mapping[str, Any]) -> Call[str]:
    return Call("POST", f"/training/{training_id}/extend", _field("training_id"), json=dict(body))


def training_logs(training_id: str, from_line: int = 0, limit: int = 1000) -> Call[LogPage]:
    params = {"from_line": from_line, "limit": limit}
    return Call("GET", f"/training/{training_id}/logs", _model(LogPage), params=params)


# Checkpoints and samples
def get_checkpoint(checkpoint_id: str) -> Call[Checkpoint]:
    return Call("GET", f"/checkpoint/{checkpoint_id}", _model(Checkpoint))


def list_checkpoints(tags: Sequence[str] = (), limit: int = 100) -> Call[list[Checkpoint]]:
    params = _query(positive_tags=list(tags), limit=limit)
    return Call("GET", "/checkpoint/all", _models(Checkpoint), params=params)


def delete_checkpoint(checkpoint_id: str) -> Call[Deleted]:
    return Call("DELETE", f"/checkpoint/{checkpoint_id}", _model(Deleted))


def create_sample(files: Sequence[Mapping[str, Sequence[str]]], tags: Sequence[str] = ()) -> Call[str]:
    body = {
        "files": [{role: list(ids) for role, ids in entry.items()} for entry in files],
        "tags": list(tags),
    }
    return Call("POST", "/sample", _field("sample_id"), json=body)


def get_sample(sample_id: str) -> Call[Sample]:
    return Call("GET", f"/sample/{sample_id}", _model(Sample))


def list_samples(tags: Sequence[str] = (), limit: int = 100) -> Call[list[Sample]]:
    return Call("GET", "/sample/all", _models(Sample), params=_query(positive_tags=list(tags), limit=limit))


def delete_sample(sample_id: str) -> Call[Deleted]:
    return Call("DELETE", f"/sample/{sample_id}", _model(Deleted))


# Workflows
def create_workflow(body: Mapping[str, Any], start: bool = True) -> Call[Workflow]:
    params = {"start": str(start).lower()}
    return Call("POST", "/workflows", _model(Workflow), params=params, json=dict(body))


def get_workflow(workflow_id: str) -> Call[Workflow]:
    return Call("GET", f"/workflows/{workflow_id}", _model(Workflow))


def list_workflows(
    limit: int = 50, cursor: str | None = None, status: str | None = None
) -> Call[WorkflowPage]:
    params = _query(limit=limit, cursor=cursor, status=status)
    return Call("GET", "/workflows", _model(WorkflowPage), params=params)


def workflow_action(workflow_id: str, action: str) -> Call[Workflow]:
    """start, pause, resume or cancel."""
    return Call("POST", f"/workflows/{workflow_id}/{action}", _model(Workflow))


def retry_workflow_step(workflow_id: str, step_id: str) -> Call[Workflow]:
    return Call("POST", f"/workflows/{workflow_id}/steps/{step_id}/retry", _model(Workflow))


def delete_workflow(workflow_id: str) -> Call[None]:
    return Call("DELETE", f"/workflows/{workflow_id}", lambda _response: None)


# Tokens
def create_token(name: str, expires_in_days: int | None = None) -> Call[Token]:
    return Call("POST", "/tokens", _model(Token), json=_query(name=name, expires_in_days=expires_in_days))


def list_tokens(limit: int = 100) -> Call[list[Token]]:
    return Call("GET", "/tokens", _models(Token), params={"limit": limit})


def revoke_token(token_id: str) -> Call[Deleted]:
    return Call("DELETE", f"/tokens/{token_id}", _model(Deleted))


# Workspaces and scenarios
def list_workspaces() -> Call[WorkspaceList]:
    return Call("GET", "/workspaces", _model(WorkspaceList))


def create_workspace(display_name: str) -> Call[Workspace]:
    return Call("POST", "/workspaces", _model(Workspace), json={"display_name": display_name})


def rename_workspace(workspace_id: str, display_name: str) -> Call[Workspace]:
    body = {"display_name": display_name}
    return Call("PATCH", f"/workspaces/{workspace_id}", _model(Workspace), json=body)


def copy_workspace(workspace_id: str, display_name: str) -> Call[Workspace]:
    body = {"display_name": display_name}
    return Call("POST", f"/workspaces/{workspace_id}/copy", _model(Workspace), json=body)


def delete_workspace(workspace_id: str) -> Call[WorkspaceList]:
    return Call("DELETE", f"/workspaces/{workspace_id}", _model(WorkspaceList))


def list_scenarios(workspace_id: str) -> Call[ScenarioList]:
    return Call("GET", f"/workspaces/{workspace_id}/scenarios", _model(ScenarioList))


def create_scenario(
    workspace_id: str,
    tag: str,
    algorithm_id: str,
    dataset_ids: Sequence[str],
    parameters: Mapping[str, Any] | None = None,
) -> Call[Scenario]:
    body = {
        "tag": tag,
        "algorithm_id": algorithm_id,
        "dataset_ids": list(dataset_ids),
        "parameters": dict(parameters or {}),
    }
    return Call("POST", f"/workspaces/{workspace_id}/scenarios", _model(Scenario), json=body)


def get_scenario(workspace_id: str, scenario_id: str) -> Call[Scenario]:
    return Call("GET", f"/workspaces/{workspace_id}/scenarios/{scenario_id}", _model(Scenario))


def scenario_status(workspace_id: str, scenario_id: str) -> Call[ScenarioState]:
    path = f"/workspaces/{workspace_id}/scenarios/{scenario_id}/status"
    return Call("GET", path, _model(ScenarioState))


def scenario_action(workspace_id: str, scenario_id: str, action: str) -> Call[Scenario]:
    """run or reset a scenario."""
    return Call("POST", f"/workspaces/{workspace_id}/scenarios/{scenario_id}/{action}", _model(Scenario))


def delete_scenario(workspace_id: str, scenario_id: str) -> Call[None]:
    path = f"/workspaces/{workspace_id}/scenarios/{scenario_id}"
    return Call("DELETE", path, lambda _response: None)


# Campaigns
def create_campaign(body: Mapping[str, Any]) -> Call[CampaignCreated]:
    return Call("POST", "/campaigns", _model(CampaignCreated), json=dict(body))


def get_campaign(campaign_id: str) -> Call[Campaign]:
    return Call("GET", f"/campaigns/{campaign_id}", _model(Campaign))


def list_campaigns(
    limit: int = 50, cursor: str | None = None, status: str | None = None
) -> Call[CampaignPage]:
    params = _query(limit=limit, cursor=cursor, status=status)
    return Call("GET", "/campaigns", _model(CampaignPage), params=params)


def campaign_trials(campaign_id: str) -> Call[list[Trial]]:
    return Call("GET", f"/campaigns/{campaign_id}/trials", lambda r: TrialPage.model_validate(r.json()).items)


def campaign_action(campaign_id: str, action: str) -> Call[Campaign]:
    """pause, resume or cancel."""
    return Call("POST", f"/campaigns/{campaign_id}/{action}", _model(Campaign))


def delete_campaign(campaign_id: str) -> Call[None]:
    return Call("DELETE", f"/campaigns/{campaign_id}", lambda _response: None)


def campaign_plot(campaign_id: str) -> Call[bytes]:
    return Call("GET", f"/campaigns/{campaign_id}/plot", _bytes)


def campaign_history(campaign_id: str) -> Call[str]:
    return Call("GET", f"/campaigns/{campaign_id}/history.csv", lambda response: response.text)


def campaign_optimizers() -> Call[dict[str, Any]]:
    return Call("GET", "/campaigns/optimizers", lambda response: dict(response.json()))
