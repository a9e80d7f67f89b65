"""Campaigns API (IvoryOS's campaigns and configuration tables, seed 002, in our style): parameter sweeps
and Bayesian optimisation of an algorithm's KPIs, each trial an ordinary execution."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from stratus import campaigns as engine
from stratus.api.deps import CallerDep, CampaignMachinesDep, CursorQuery, LimitQuery, StoresDep
from stratus.models.campaigns import (
    Campaign,
    CampaignCreate,
    CampaignCreated,
    CampaignPage,
    CampaignStatus,
    CampaignSummary,
    Trial,
    TrialPage,
)
from stratus.models.ids import CampaignId
from stratus.services import campaigns

router = APIRouter(tags=["campaigns"])

CampaignIdPath = Annotated[CampaignId, Path()]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "Unknown or expired campaign (or its algorithm, an input, the warm start's campaign)"
    },
    409: {"description": "Not allowed in the campaign's status, or an input is not READY"},
    422: {"description": "An invalid search space, table, objective or parameter; the message names it"},
}


def _answer(campaign_id: str, caller: CallerDep, stores: StoresDep) -> Campaign:
    return campaigns.answer(*campaigns.get(campaign_id, caller.tenant, stores))


@router.post(
    "/campaigns",
    summary="Start a campaign",
    status_code=201,
    responses={k: ERRORS[k] for k in (404, 409, 422)},
)
def create_campaign(
    body: CampaignCreate, caller: CallerDep, stores: StoresDep, machines: CampaignMachinesDep
) -> CampaignCreated:
    """Check the algorithm, inputs and search (against the algorithm's parameters), read the warm start,
    and start the campaign: it runs `budget` trials (at most the grid's or table's size), `batch_size`
    at a time."""
    record = campaigns.create(body, caller.tenant, stores, machines)
    return CampaignCreated(
        campaign_id=record.campaign_id, status=record.status, planned_trials=record.planned_trials
    )


@router.get("/campaigns", summary="List campaigns, newest first")
def list_campaigns(
    caller: CallerDep,
    stores: StoresDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    status: CampaignStatus | None = None,
) -> CampaignPage:
    """One page of the caller's campaigns (without their trials), optionally of one status."""
    records, next_cursor = stores.campaigns.list_recent(caller.tenant, limit, cursor, status)
    return CampaignPage(items=[CampaignSummary.from_record(r) for r in records], next_cursor=next_cursor)


# Declared before /campaigns/{campaign_id}, which would otherwise take "optimizers" for an id.
@router.get("/campaigns/optimizers", summary="The optimizers and their options' schemas")
def list_optimizers() -> dict[str, Any]:
    """Each kind and Bayesian optimizer: what it does, whether it takes several objectives, and the JSON
    schema of its `optimizer_options` (seed: optimizer_schema)."""
    return engine.optimizer_schemas()


@router.get("/campaigns/{campaign_id}", summary="A campaign, its trials and the best so far")
def get_campaign(campaign_id: CampaignIdPath, caller: CallerDep, stores: StoresDep) -> Campaign:
    """The campaign, its counts, every trial (parameters, status, execution, KPIs) and the best trial
    (or the Pareto front of several objectives)."""
    return _answer(campaign_id, caller, stores)


@router.get("/campaigns/{campaign_id}/trials", summary="A campaign's trials", responses={404: ERRORS[404]})
def list_trials(campaign_id: CampaignIdPath, caller: CallerDep, stores: StoresDep) -> TrialPage:
    """Every trial, in order."""
    _, trials = campaigns.get(campaign_id, caller.tenant, stores)
    return TrialPage(items=[Trial.from_record(t) for t in trials])


@router.get(
    "/campaigns/{campaign_id}/plot",
    summary="The campaign's latest plot (PNG)",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "Objective per trial and the best so far"},
        404: {"description": "Unknown campaign, or no result yet (code no_plot)"},
    },
)
def get_plot(campaign_id: CampaignIdPath, caller: CallerDep, stores: StoresDep) -> Response:
    """One objective: its value per trial with the best-so-far line; two: the trials and the Pareto
    front. Drawn again after each round with new results."""
    png = campaigns.plot(campaign_id, caller.tenant, stores)
    return Response(content=png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get(
    "/campaigns/{campaign_id}/history.csv",
    summary="Every trial as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, 404: ERRORS[404]},
)
def get_history(campaign_id: CampaignIdPath, caller: CallerDep, stores: StoresDep) -> Response:
    """One row per trial: number, status, parameters, KPIs, execution, error; a later campaign's
    `existing_data.csv` reads it back as a warm start."""
    text = campaigns.history(campaign_id, caller.tenant, stores)
    disposition = f'attachment; filename="campaign-{campaign_id}.csv"'
    return Response(content=text, media_type="text/csv", headers={"Content-Disposition": disposition})


@router.post(
    "/campaigns/{campaign_id}/pause",
    summary="Pause a RUNNING campaign",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def pause_campaign(campaign_id: CampaignIdPath, caller: CallerDep, stores: StoresDep) -> Campaign:
    """RUNNING → PAUSED: no new trial starts; running trials finish."""
    campaigns.pause(campaign_id, caller.tenant, stores)
    return _answer(campaign_id, caller, stores)


@router.post(
    "/campaigns/{campaign_id}/resume",
    summary="Resume a PAUSED campaign",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def resume_campaign(
    campaign_id: CampaignIdPath, caller: CallerDep, stores: StoresDep, machines: CampaignMachinesDep
) -> Campaign:
    """PAUSED → RUNNING: the trials that ran meanwhile are collected, and new ones start."""
    campaigns.resume(campaign_id, caller.tenant, stores, machines)
    return _answer(campaign_id, caller, stores)


@router.post(
    "/campaigns/{campaign_id}/cancel",
    summary="Cancel a campaign",
    responses={404: ERRORS[404], 409: ERRORS[409]},
)
def cancel_campaign(
    campaign_id: CampaignIdPath, caller: CallerDep, stores: StoresDep, machines: CampaignMachinesDep
) -> Campaign:
    """RUNNING or PAUSED → CANCELLED: running trials' executions are stopped (their trials STOPPED)."""
    campaigns.cancel(campaign_id, caller.tenant, stores, machines)
    return _answer(campaign_id, caller, stores)


@router.delete(
    "/campaigns/{campaign_id}",
    summary="Cancel and delete a campaign",
    status_code=204,
    responses={404: ERRORS[404]},
)
def delete_campaign(
    campaign_id: CampaignIdPath, caller: CallerDep, stores: StoresDep, machines: CampaignMachinesDep
) -> Response:
    """Cancel it if it is live, then delete it, its trials and its plot; the trials' executions stay
    until they expire."""
    campaigns.delete(campaign_id, caller.tenant, stores, machines)
    return Response(status_code=204)
