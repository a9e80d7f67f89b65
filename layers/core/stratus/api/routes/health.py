"""Liveness, and with `checks=true` readiness: whether the table, the bucket, the state machines and the
built-in algorithms are there (one cheap call each, so plain liveness probes stay free of AWS)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from stratus.api.deps import SettingsDep, StoresDep
from stratus.models.monitoring import Health
from stratus.services import monitoring

router = APIRouter(tags=["health"])
# Answered when a component check failed: the service is up but cannot do its work.
UNAVAILABLE = 503


@router.get(
    "/health",
    response_model_exclude_none=True,
    responses={UNAVAILABLE: {"model": Health, "description": "A component check failed (with checks)"}},
)
def health(
    settings: SettingsDep,
    stores: StoresDep,
    response: Response,
    checks: Annotated[
        bool, Query(description="Also check the table, bucket, state machines and built-ins")
    ] = False,
) -> Health:
    """Is the API up (and, with checks, can it reach what it needs)?"""
    if not checks:
        return Health(status="ok")
    configured = None not in (
        settings.execution_state_machine_arn,
        settings.training_state_machine_arn,
        settings.workflow_state_machine_arn,
        settings.campaign_state_machine_arn,
    )
    answer = monitoring.health(stores, configured)
    if answer.status != "ok":
        response.status_code = UNAVAILABLE
    return answer
