"""Webhooks API: the tenant's signing secret (read, rotate) and each job's deliveries (list, resend)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from stratus.api.deps import CallerDep, ExecutionDep, StoresDep
from stratus.models.ids import TrainingId, WorkflowId
from stratus.models.webhooks import WebhookDelivery, WebhookDeliveryPage, WebhookSecret
from stratus.services import webhooks as service

router = APIRouter(tags=["webhooks"])

TrainingIdPath = Annotated[TrainingId, Path()]
WorkflowIdPath = Annotated[WorkflowId, Path()]
DeliveryIdPath = Annotated[
    str, Path(pattern=r"^msg_[0-9a-f]{32}$", description="The delivery's webhook-id header")
]
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown or expired job or delivery (or another tenant's)"},
    409: {"description": "The secret was rotated at the same time; read it again"},
}


@router.get("/webhooks/secret", summary="Your tenant's webhook signing secret")
def get_secret(caller: CallerDep, stores: StoresDep) -> WebhookSecret:
    """The `whsec_…` secret every delivery is signed with (made on first use)."""
    return WebhookSecret.from_record(service.secret_of(caller.tenant, stores), stores.clock())


@router.post(
    "/webhooks/secret/rotate", summary="Replace your tenant's webhook secret", responses={409: ERRORS[409]}
)
def rotate_secret(caller: CallerDep, stores: StoresDep) -> WebhookSecret:
    """A new secret; for a day deliveries carry a second signature by the previous one."""
    return WebhookSecret.from_record(service.rotate_secret(caller.tenant, stores), stores.clock())


@router.get(
    "/executions/{execution_id}/webhook-deliveries",
    summary="An execution's webhook deliveries and every attempt",
    responses={404: ERRORS[404]},
)
def execution_deliveries(execution: ExecutionDep, stores: StoresDep) -> WebhookDeliveryPage:
    """Each event sent for the execution, newest first, with each attempt's answer."""
    records = stores.webhooks.list_deliveries("execution", execution.execution_id)
    return WebhookDeliveryPage(items=[WebhookDelivery.from_record(r) for r in records])


@router.post(
    "/executions/{execution_id}/webhook-deliveries/{delivery_id}/resend",
    status_code=202,
    summary="Send an execution's webhook event again",
    responses={404: ERRORS[404]},
)
def resend_execution_delivery(
    execution: ExecutionDep, delivery_id: DeliveryIdPath, caller: CallerDep, stores: StoresDep
) -> WebhookDelivery:
    """Queue the event again, unchanged (same webhook-id and body); its attempts are added to it."""
    record = service.resend("execution", execution.execution_id, delivery_id, caller.tenant, stores)
    return WebhookDelivery.from_record(record)


@router.get(
    "/training/{training_id}/webhook-deliveries",
    summary="A training's webhook deliveries and every attempt",
    responses={404: ERRORS[404]},
)
def training_deliveries(
    training_id: TrainingIdPath, caller: CallerDep, stores: StoresDep
) -> WebhookDeliveryPage:
    """Each event sent for the training, newest first, with each attempt's answer."""
    record = stores.trainings.get(training_id, caller.tenant)
    records = stores.webhooks.list_deliveries("training", record.training_id)
    return WebhookDeliveryPage(items=[WebhookDelivery.from_record(r) for r in records])


@router.post(
    "/training/{training_id}/webhook-deliveries/{delivery_id}/resend",
    status_code=202,
    summary="Send a training's webhook event again",
    responses={404: ERRORS[404]},
)
def resend_training_delivery(
    training_id: TrainingIdPath, delivery_id: DeliveryIdPath, caller: CallerDep, stores: StoresDep
) -> WebhookDelivery:
    """Queue the event again, unchanged (same webhook-id and body); its attempts are added to it."""
    record = stores.trainings.get(training_id, caller.tenant)
    delivery = service.resend("training", record.training_id, delivery_id, caller.tenant, stores)
    return WebhookDelivery.from_record(delivery)


@router.get(
    "/workflows/{workflow_id}/webhook-deliveries",
    summary="A workflow's webhook deliveries and every attempt",
    responses={404: ERRORS[404]},
)
def workflow_deliveries(
    workflow_id: WorkflowIdPath, caller: CallerDep, stores: StoresDep
) -> WebhookDeliveryPage:
    """Each event sent for the workflow, newest first, with each attempt's answer."""
    record = stores.workflows.get(workflow_id, caller.tenant)
    records = stores.webhooks.list_deliveries("workflow", record.workflow_id)
    return WebhookDeliveryPage(items=[WebhookDelivery.from_record(r) for r in records])


@router.post(
    "/workflows/{workflow_id}/webhook-deliveries/{delivery_id}/resend",
    status_code=202,
    summary="Send a workflow's webhook event again",
    responses={404: ERRORS[404]},
)
def resend_workflow_delivery(
    workflow_id: WorkflowIdPath, delivery_id: DeliveryIdPath, caller: CallerDep, stores: StoresDep
) -> WebhookDelivery:
    """Queue the event again, unchanged (same webhook-id and body); its attempts are added to it."""
    record = stores.workflows.get(workflow_id, caller.tenant)
    delivery = service.resend("workflow", record.workflow_id, delivery_id, caller.tenant, stores)
    return WebhookDelivery.from_record(delivery)
