"""Patch 19: an SQS event source mapping polls as Lambda's does, not inside SendMessage."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from moto.awslambda.models import LambdaBackend
from stratus.local.queues import QueuePoller, apply_queue_patches
from stratus.local.shim import CODE_PATH_TAG, apply_patches, forget_handlers

HANDLER_DIR = Path(__file__).resolve().parent / "handlers" / "batch"
ROLE_POLICY = {"Version": "2012-10-17", "Statement": []}


def _zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "")
    return archive.getvalue()


@pytest.fixture
def queues(aws: None) -> tuple[str, str]:
    """A queue (visibility 0, 2 receives, then its dead-letter queue) mapped to the batch handler."""
    apply_patches()
    forget_handlers()
    sqs = boto3.client("sqs")
    dead = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 2})
    queue = sqs.create_queue(
        QueueName="work", Attributes={"VisibilityTimeout": "0", "RedrivePolicy": redrive}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    role = boto3.client("iam").create_role(RoleName="batch", AssumeRolePolicyDocument=json.dumps(ROLE_POLICY))
    lambda_client = boto3.client("lambda")
    function = lambda_client.create_function(
        FunctionName="batch",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        Tags={CODE_PATH_TAG: str(HANDLER_DIR)},
    )
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn,
        FunctionName=function["FunctionArn"],
        BatchSize=5,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    return queue, dead


def _bodies(queue_url: str) -> list[str]:
    answer = boto3.client("sqs").receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return sorted(m["Body"] for m in answer.get("Messages", []))


def _count(queue_url: str) -> int:
    # Without receiving: a receive counts towards the redrive policy.
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)[
        "Attributes"
    ]
    return sum(int(attributes[name]) for name in names)


def _send(queue_url: str, *bodies: str) -> None:
    for body in bodies:
        boto3.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)


def test_apply_queue_patches_is_idempotent() -> None:
    apply_queue_patches()
    patched = LambdaBackend.create_event_source_mapping

    apply_queue_patches()

    assert LambdaBackend.create_event_source_mapping is patched


def test_send_message_does_not_invoke_the_function(queues: tuple[str, str]) -> None:
    queue, _ = queues

    _send(queue, "ok")

    assert _bodies(queue) == ["ok"]


def test_poll_once_deletes_a_batch_that_succeeded(queues: tuple[str, str]) -> None:
    queue, _ = queues
    _send(queue, "ok", "ok")

    ran = QueuePoller().poll_once()

    assert ran == 1
    assert _bodies(queue) == []


def test_poll_once_keeps_only_the_failed_items(queues: tuple[str, str]) -> None:
    queue, _ = queues
    _send(queue, "ok", "fail")

    QueuePoller().poll_once()

    assert _bodies(queue) == ["fail"]


def test_the_function_sees_the_receive_count(queues: tuple[str, str]) -> None:
    queue, _ = queues
    _send(queue, "fail-first")
    poller = QueuePoller()

    poller.poll_once()
    poller.poll_once()

    assert _bodies(queue) == []


def test_a_message_failing_every_receive_moves_to_the_dead_letter_queue(queues: tuple[str, str]) -> None:
    queue, dead = queues
    _send(queue, "fail")
    poller = QueuePoller()

    for _ in range(3):
        poller.poll_once()

    assert _bodies(queue) == []
    assert _bodies(dead) == ["fail"]


def test_poller_thread_runs_batches_in_the_background(
    queues: tuple[str, str], poll: Callable[..., None]
) -> None:
    queue, dead = queues
    # As deployed: with the fixture's visibility timeout of 0 the thread's next receive could take the
    # message again before its delete, and a second receive dead-letters it.
    boto3.client("sqs").set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "30"})
    poller = QueuePoller()
    poller.start()
    try:
        _send(queue, "ok")

        poll(lambda: _count(queue) == 0, 10)
    finally:
        poller.stop()
    assert _count(dead) == 0
