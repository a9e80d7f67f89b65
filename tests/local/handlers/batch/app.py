"""A tiny SQS batch handler for the queue poller's tests: fails the records whose body asks for it."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Report "fail" records, and "fail-first" ones on their first receive, as batch item failures."""
    failed = [
        record["messageId"]
        for record in event["Records"]
        if record["body"] == "fail"
        or (record["body"] == "fail-first" and record["attributes"]["ApproximateReceiveCount"] == "1")
    ]
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
