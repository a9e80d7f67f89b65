"""boto3 clients and resources: one place for retries, checksums and per-process caching.

Endpoints come from the standard SDK configuration: on AWS the defaults, in the local stack
AWS_ENDPOINT_URL (moto) and AWS_ENDPOINT_URL_S3 (moto's S3 in a process of its own).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_s3.client import S3Client

# Standard retry mode with a short connect timeout: Lambda has 30 s behind API Gateway, never wait long.
# Checksums only where an API requires them: CRC32 over every body costs ~1 ms per MB on both ends, and
# TLS already guards the transfer.
CONFIG = Config(
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=2,
    read_timeout=30,
    max_pool_connections=32,
    s3={"addressing_style": "path"},
    signature_version="s3v4",
)


@lru_cache
def session() -> boto3.Session:
    """This process's boto3 session (a private one: boto3's default session is not thread-safe)."""
    return boto3.Session()


@lru_cache
def client(service: str) -> Any:
    """Return a cached boto3 client for ``service``."""
    # boto3's stubs type each service name as a literal; this one place takes any.
    return session().client(service, config=CONFIG)  # type: ignore[call-overload]


@lru_cache
def resource(service: str) -> Any:
    """Return a cached boto3 resource for ``service``."""
    return session().resource(service, config=CONFIG)  # type: ignore[call-overload]


@lru_cache
def table(name: str) -> Table:
    """Return the cached DynamoDB table resource ``name`` (making one builds its class: ~5 ms)."""
    table: Table = resource("dynamodb").Table(name)
    return table


def s3_client() -> S3Client:
    """Return the S3 client."""
    s3: S3Client = client("s3")
    return s3


def clear_caches() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    client.cache_clear()
    resource.cache_clear()
    table.cache_clear()
    session.cache_clear()
