"""The shim's Batch patches: Step Functions' submitJob.sync works, and jobs run the worker for real."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.batch_simple.models import BatchSimpleBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)
from stratus.local.batch import PATCHED_MARK
from stratus.local.bootstrap import LocalStack, bootstrap
from stratus.local.shim import apply_patches

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
TIMEOUT_S = 30


@pytest.fixture
def deployed(aws: None) -> LocalStack:
    return bootstrap(TEMPLATE)


def _queue_and_definition() -> tuple[str, str]:
    batch = boto3.client("batch")
    queue = batch.describe_job_queues()["jobQueues"][0]["jobQueueArn"]
    definition = batch.describe_job_definitions()["jobDefinitions"][0]["jobDefinitionArn"]
    return queue, definition


def _job(job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = boto3.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]
    return job


def _submit(command: list[str]) -> str:
    queue, definition = _queue_and_definition()
    response = boto3.client("batch").submit_job(
        jobName="shim-test", jobQueue=queue, jobDefinition=definition, containerOverrides={"command": command}
    )
    return str(response["jobId"])


def _finished(job_id: str) -> Callable[[], bool]:
    return lambda: _job(job_id)["status"] in ("SUCCEEDED", "FAILED")


def test_apply_patches_patches_batch() -> None:
    apply_patches()

    assert getattr(StateTaskServiceBatch._normalise_parameters, PATCHED_MARK, False)
    assert getattr(BatchSimpleBackend._mark_job_as_finished, PATCHED_MARK, False)


def test_submit_job_sync_runs_the_job_and_returns_its_description(
    deployed: LocalStack, poll: Callable[..., None]
) -> None:
    queue, definition = _queue_and_definition()
    asl = {
        "StartAt": "RunJob",
        "States": {
            "RunJob": {
                "Type": "Task",
                "Resource": "arn:aws:states:::batch:submitJob.sync",
                "Parameters": {
                    "JobName.$": "$.name",
                    "JobQueue": queue,
                    "JobDefinition": definition,
                    "ContainerOverrides": {"Command": ["--help"]},
                },
                "End": True,
            }
        },
    }
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="submit-job-sync", definition=json.dumps(asl), roleArn="arn:aws:iam::123456789012:role/sfn"
    )

    arn = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], name="run-1", input=json.dumps({"name": "run-1"})
    )["executionArn"]

    poll(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", TIMEOUT_S)
    description = sfn.describe_execution(executionArn=arn)
    assert description["status"] == "SUCCEEDED", description
    output = json.loads(description["output"])
    assert (output["JobName"], output["Status"]) == ("run-1", "SUCCEEDED")


def test_job_runs_the_worker_and_keeps_its_output(deployed: LocalStack, poll: Callable[..., None]) -> None:
    job_id = _submit(["--help"])

    poll(_finished(job_id), TIMEOUT_S)

    job = _job(job_id)
    events = boto3.client("logs").get_log_events(
        logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"]
    )["events"]
    assert (job["status"], job["attempts"][-1]["container"]["exitCode"]) == ("SUCCEEDED", 0)
    assert any("run-execution" in event["message"] for event in events)


def test_job_fails_when_the_worker_exits_non_zero(deployed: LocalStack, poll: Callable[..., None]) -> None:
    job_id = _submit(["no-such-command"])

    poll(_finished(job_id), TIMEOUT_S)

    job = _job(job_id)
    assert (job["status"], job["attempts"][-1]["container"]["exitCode"]) == ("FAILED", 2)
    assert job["statusReason"] == "Essential container in task exited"
