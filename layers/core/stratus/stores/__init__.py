"""DynamoDB and S3 access, one store per record kind."""

from stratus.stores.algorithms import AlgorithmStore
from stratus.stores.bundle import Stores, build_stores
from stratus.stores.executions import ExecutionStore
from stratus.stores.files import FileStore
from stratus.stores.idempotency import IdempotencyStore
from stratus.stores.objects import ObjectStore, RangedReader
from stratus.stores.state_machines import StateMachineStore

__all__ = [
    "AlgorithmStore",
    "ExecutionStore",
    "FileStore",
    "IdempotencyStore",
    "ObjectStore",
    "RangedReader",
    "StateMachineStore",
    "Stores",
    "build_stores",
]
