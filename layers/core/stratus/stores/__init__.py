"""DynamoDB and S3 access, one store per record kind."""

from stratus.stores.algorithms import AlgorithmStore
from stratus.stores.bundle import Stores, build_stores
from stratus.stores.executions import ExecutionStore
from stratus.stores.files import FileStore
from stratus.stores.objects import ObjectStore, RangedReader

__all__ = [
    "AlgorithmStore",
    "ExecutionStore",
    "FileStore",
    "ObjectStore",
    "RangedReader",
    "Stores",
    "build_stores",
]
