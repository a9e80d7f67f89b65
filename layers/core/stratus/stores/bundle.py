"""Stores: every store a request, event or job needs, wired to one table, bucket and clock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from stratus import aws
from stratus.clock import system_clock
from stratus.stores.algorithms import AlgorithmStore
from stratus.stores.campaigns import CampaignStore
from stratus.stores.checkpoints import CheckpointStore
from stratus.stores.environments import EnvironmentStore
from stratus.stores.executions import ExecutionStore
from stratus.stores.files import FileStore
from stratus.stores.idempotency import IdempotencyStore
from stratus.stores.objects import ObjectStore
from stratus.stores.quotas import QuotaStore
from stratus.stores.samples import SampleStore
from stratus.stores.tokens import TokenStore
from stratus.stores.trainings import TrainingStore
from stratus.stores.webhooks import WebhookSender, WebhookStore
from stratus.stores.workflows import WorkflowStore
from stratus.stores.workspaces import WorkspaceStore

if TYPE_CHECKING:
    from stratus.clock import Clock
    from stratus.settings import Settings


@dataclass(frozen=True)
class Stores:
    """Every store, sharing one table, one bucket and one clock."""

    files: FileStore
    algorithms: AlgorithmStore
    executions: ExecutionStore
    trainings: TrainingStore
    samples: SampleStore
    checkpoints: CheckpointStore
    environments: EnvironmentStore
    idempotency: IdempotencyStore
    tokens: TokenStore
    quotas: QuotaStore
    workflows: WorkflowStore
    campaigns: CampaignStore
    workspaces: WorkspaceStore
    objects: ObjectStore
    webhooks: WebhookStore
    webhook_sender: WebhookSender
    clock: Clock


def build_stores(settings: Settings, clock: Clock = system_clock) -> Stores:
    """Wire the stores to the table and bucket named in ``settings``."""
    table = aws.table(settings.table_name)
    s3 = aws.s3_client()
    # Only the API pages lists (signed cursors); the other functions and the worker run without a secret.
    secret = settings.cursor_secret.get_secret_value().encode() if settings.cursor_secret else None
    return Stores(
        files=FileStore(table, clock, secret),
        algorithms=AlgorithmStore(table, clock),
        executions=ExecutionStore(table, clock, secret),
        trainings=TrainingStore(table, clock, secret),
        samples=SampleStore(table, clock, secret),
        checkpoints=CheckpointStore(table, clock, secret),
        environments=EnvironmentStore(table, clock),
        idempotency=IdempotencyStore(table, clock),
        quotas=QuotaStore(table, clock, settings.max_queued_jobs, settings.max_running_jobs),
        tokens=TokenStore(table, clock, secret),
        workflows=WorkflowStore(table, clock, secret),
        campaigns=CampaignStore(table, clock, secret),
        workspaces=WorkspaceStore(table, clock),
        objects=ObjectStore(s3, settings.data_bucket),
        webhooks=WebhookStore(table, clock),
        webhook_sender=WebhookSender(aws.client("sqs"), settings.webhook_queue_url),
        clock=clock,
    )
