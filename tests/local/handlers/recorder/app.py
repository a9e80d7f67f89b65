"""A tiny Lambda handler for the shim's tests: records S3 events, reports what it saw, fails on request."""

from __future__ import annotations

import json
from typing import Any

from stratus import aws
from stratus.settings import get_settings


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Echo settings and context; write each S3 event under seen/ in the data bucket."""
    settings = get_settings()
    if event.get("fail"):
        raise ValueError("asked to fail")
    if "Records" in event:
        key = f"seen/{context.aws_request_id}.json"
        aws.s3_client().put_object(Bucket=settings.data_bucket, Key=key, Body=json.dumps(event).encode())
    return {
        "table_name": settings.table_name,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
