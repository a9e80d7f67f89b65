"""Request dependencies: settings, stores, the caller, and loaded resources."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Query, Request, Response

from stratus import aws
from stratus.errors import UnauthorizedError
from stratus.models.executions import ExecutionRecord
from stratus.models.files import FileRecord
from stratus.models.ids import ExecutionId, FileId
from stratus.models.jobs import JobRecord
from stratus.models.records import TagFilter
from stratus.services import jobs
from stratus.services.campaigns import Machines as CampaignMachines
from stratus.services.workflows import Machines
from stratus.settings import Settings
from stratus.stores import BuildQueue, StateMachineStore, Stores

if TYPE_CHECKING:
    from stratus.stores.jobs import JobStore

J = TypeVar("J", bound=JobRecord)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant whose records a request may see."""

    tenant: str


# The cheap dependencies are async so FastAPI runs them inline: a sync one costs a thread-pool hop.
async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _stores(request: Request) -> Stores:
    stores: Stores = request.app.state.stores
    return stores


async def _caller(request: Request) -> Caller:
    # API Gateway's Lambda authorizer (or the local stack's stand-in for it) verified the credential
    # and put the caller in the request context; the tenant comes from nowhere else.
    event: dict[str, Any] = request.scope.get("aws.event") or {}
    identity = event.get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
    tenant = identity.get("tenant")
    if not tenant:
        raise UnauthorizedError("send a credential: Authorization: Bearer <token>")
    return Caller(tenant=str(tenant))


SettingsDep = Annotated[Settings, Depends(_settings)]
StoresDep = Annotated[Stores, Depends(_stores)]
CallerDep = Annotated[Caller, Depends(_caller)]
# Every router of the API takes this, so no route can forget its caller (FastAPI resolves it once).
AUTHENTICATED = [Depends(_caller)]
# A list route's page: at most 100 items, continued with the previous page's opaque next_cursor.
LimitQuery = Annotated[int, Query(ge=1, le=100, description="Items per page")]
CursorQuery = Annotated[str | None, Query(max_length=2048, description="The previous page's next_cursor")]
IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Retries with the same key and body return the first request's job",
    ),
]
PreferHeader = Annotated[
    str | None,
    Header(
        alias="Prefer",
        max_length=200,
        description="`wait=N` (RFC 7240; N at most 25): answer with the final record when the job ends "
        "within N seconds, else as without it",
    ),
]
# API Gateway's HTTP API gives up on a request after 30 s: a wait stays well under it.
MAX_WAIT_S = 25


def wait_seconds(prefer: str | None) -> int | None:
    """The seconds a `Prefer: wait=N` header asks for (at most MAX_WAIT_S), or None. Preferences this API
    does not know, or a malformed wait, are ignored, as RFC 7240 says."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait" and value.strip().isdigit():
            return min(int(value.strip()), MAX_WAIT_S) or None
    return None


def ended_within(wait: int | None, job_id: str, store: JobStore[J], response: Response) -> J | None:
    """The job's final record when it ends within ``wait`` seconds (the answer then says
    Preference-Applied), else None: what `Prefer: wait=N` asks of execute and train."""
    ended = jobs.wait_for_end(job_id, store, wait) if wait else None
    if ended is not None:
        response.headers["Preference-Applied"] = f"wait={wait}"
    return ended


LogFromQuery = Annotated[int, Query(ge=0, description="The first line to return (lines count from 0)")]
LogLimitQuery = Annotated[int, Query(ge=1, le=5000, description="Lines per page")]
TagsQuery = Annotated[list[str], Query(max_length=64)]
# Compox's lists are plain arrays; the next page's cursor rides in this header.
NEXT_CURSOR_HEADER = "X-Next-Cursor"


def set_next_cursor(response: Response, next_cursor: str | None) -> None:
    """Put the next page's cursor (if there is one) in the header Compox-style plain lists use."""
    if next_cursor:
        response.headers[NEXT_CURSOR_HEADER] = next_cursor


async def _tags(positive_tags: TagsQuery = [], negative_tags: TagsQuery = []) -> TagFilter:  # noqa: B006
    # FastAPI copies a default per request; Compox's rule: every positive tag, no negative tag.
    return TagFilter(positive=positive_tags, negative=negative_tags)


TagsDep = Annotated[TagFilter, Depends(_tags)]
# Ids in paths are the types bodies use (models.ids): a malformed one is a 422 wherever it is sent.
FileIdPath = Annotated[FileId, Path()]


def _file(file_id: FileIdPath, caller: CallerDep, stores: StoresDep) -> FileRecord:
    return stores.files.get(file_id, caller.tenant)


FileDep = Annotated[FileRecord, Depends(_file)]


ExecutionIdPath = Annotated[ExecutionId, Path()]


def _execution(execution_id: ExecutionIdPath, caller: CallerDep, stores: StoresDep) -> ExecutionRecord:
    return stores.executions.get(execution_id, caller.tenant)


async def _execution_machine(settings: SettingsDep) -> StateMachineStore:
    if settings.execution_state_machine_arn is None:
        # A deployment error, not the client's: answered as a 500 and logged.
        raise RuntimeError("EXECUTION_STATE_MACHINE_ARN is not set")
    return StateMachineStore(aws.client("stepfunctions"), settings.execution_state_machine_arn)


async def _training_machine(settings: SettingsDep) -> StateMachineStore:
    if settings.training_state_machine_arn is None:
        # A deployment error, not the client's: answered as a 500 and logged.
        raise RuntimeError("TRAINING_STATE_MACHINE_ARN is not set")
    return StateMachineStore(aws.client("stepfunctions"), settings.training_state_machine_arn)


async def _workflow_machines(settings: SettingsDep) -> Machines:
    arns = {
        "WORKFLOW_STATE_MACHINE_ARN": settings.workflow_state_machine_arn,
        "EXECUTION_STATE_MACHINE_ARN": settings.execution_state_machine_arn,
        "TRAINING_STATE_MACHINE_ARN": settings.training_state_machine_arn,
    }
    unset = [name for name, arn in arns.items() if arn is None]
    if unset:
        # A deployment error, not the client's: answered as a 500 and logged.
        raise RuntimeError(f"{', '.join(unset)} not set")
    sfn = aws.client("stepfunctions")
    workflow, execution, training = (StateMachineStore(sfn, str(arn)) for arn in arns.values())
    return Machines(workflow=workflow, execution=execution, training=training)


async def _campaign_machines(
    settings: SettingsDep, trials: Annotated[Machines, Depends(_workflow_machines)]
) -> CampaignMachines:
    if settings.campaign_state_machine_arn is None:
        # A deployment error, not the client's: answered as a 500 and logged.
        raise RuntimeError("CAMPAIGN_STATE_MACHINE_ARN not set")
    campaign = StateMachineStore(aws.client("stepfunctions"), settings.campaign_state_machine_arn)
    return CampaignMachines(
        campaign=campaign, execution=trials.execution, workflow=trials.workflow, training=trials.training
    )


async def _build_queue(settings: SettingsDep) -> BuildQueue | None:
    # None where the stack builds no environments (tests of other things); a deploy that needs a build
    # then fails as a deployment error (services/environments.py).
    queue, definition = settings.environment_build_job_queue, settings.environment_build_job_definition
    if queue is None or definition is None:
        return None
    return BuildQueue(aws.client("batch"), queue, definition)


ExecutionDep = Annotated[ExecutionRecord, Depends(_execution)]
ExecutionMachineDep = Annotated[StateMachineStore, Depends(_execution_machine)]
TrainingMachineDep = Annotated[StateMachineStore, Depends(_training_machine)]
WorkflowMachinesDep = Annotated[Machines, Depends(_workflow_machines)]
CampaignMachinesDep = Annotated[CampaignMachines, Depends(_campaign_machines)]
BuildQueueDep = Annotated[BuildQueue | None, Depends(_build_queue)]
