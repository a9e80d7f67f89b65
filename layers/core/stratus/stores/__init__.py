"""DynamoDB and S3 access, one store per record kind."""

from stratus.stores.algorithms import AlgorithmStore
from stratus.stores.bundle import Stores, build_stores
from stratus.stores.campaigns import CampaignStore
from stratus.stores.checkpoints import CheckpointStore
from stratus.stores.environments import BuildQueue, EnvironmentStore
from stratus.stores.executions import ExecutionStore
from stratus.stores.files import FileStore
from stratus.stores.idempotency import IdempotencyStore
from stratus.stores.objects import ObjectStore, RangedReader
from stratus.stores.samples import SampleStore
from stratus.stores.state_machines import StateMachineStore
from stratus.stores.tokens import TokenStore
from stratus.stores.trainings import TrainingStore
from stratus.stores.webhooks import WebhookSender, WebhookStore
from stratus.stores.workflows import WorkflowStore
from stratus.stores.workspaces import WorkspaceStore

__all__ = [
    "AlgorithmStore",
    "BuildQueue",
    "CampaignStore",
    "CheckpointStore",
    "EnvironmentStore",
    "ExecutionStore",
    "FileStore",
    "IdempotencyStore",
    "ObjectStore",
    "RangedReader",
    "SampleStore",
    "StateMachineStore",
    "TokenStore",
    "Stores",
    "TrainingStore",
    "WorkflowStore",
    "WorkspaceStore",
    "WebhookSender",
    "WebhookStore",
    "build_stores",
]
