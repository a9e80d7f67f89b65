"""Pinned moto patches for Batch under Step Functions: `batch:submitJob.sync` works, waits for the job's
end without polling and terminates the job when the execution stops, and jobs really run the worker
(`python -m gpu_worker <command>`) as a process of their own, ending SUCCEEDED or FAILED by exit code."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name
from moto.batch.models import Job
from moto.batch.utils import JobStatus
from moto.batch_simple.models import BatchSimpleBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

from stratus.local import workers

PATCHED_MARK = "__stratus_patch__"
# How often a running worker is checked for TerminateJob (moto only flags the job).
TERMINATE_POLL_S = 0.05
# A waiting .sync task looks at its job at least this often, and notices a stopped execution as soon.
SYNC_RECHECK_S = 0.5
# AWS's statusReason for a job whose container exited non-zero.
EXITED_REASON = "Essential container in task exited"


def apply_batch_patches() -> None:
    """Patch moto's Step Functions Batch integration and simple Batch backend; safe to call twice."""
    if not getattr(StateTaskServiceBatch._normalise_parameters, PATCHED_MARK, False):
        StateTaskServiceBatch._normalise_parameters = normalise_parameters  # type: ignore[method-assign]
        StateTaskServiceBatch._normalise_response = normalise_response  # type: ignore[method-assign]
    if not getattr(StateTaskServiceBatch._build_sync_resolver, PATCHED_MARK, False):
        StateTaskServiceBatch._build_sync_resolver = _waiting_for_job_ends(  # type: ignore[method-assign]
            StateTaskServiceBatch._build_sync_resolver
        )
    if not getattr(BatchSimpleBackend._mark_job_as_finished, PATCHED_MARK, False):
        BatchSimpleBackend._mark_job_as_finished = _running_worker(  # type: ignore[method-assign]
            BatchSimpleBackend._mark_job_as_finished
        )


# --- patch 6: batch:submitJob(.sync) parameters and responses in Batch's own casing --------------------
# ASL names Batch fields in PascalCase (JobName, ContainerOverrides.Command); the Batch API (and boto3)
# uses camelCase (jobName, containerOverrides.command), and .sync reads the answer back as JobId. moto
# 5.2.5 took LocalStack's interpreter with StateTaskService._normalise_parameters/_normalise_response
# left empty (https://github.com/getmoto/moto/issues/10076), so SubmitJob fails with KeyError 'JobName'.
# These restore LocalStack's versions: convert along the operation's botocore shapes.


@lru_cache
def _operation_model(service: str, action: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    for name in model.operation_names:
        if xform_name(name) == action:
            return model.operation_model(name)
    raise KeyError(f"{service} has no operation {action}")


def _operation(task: StateTaskService, boto_service_name: str | None, service_action_name: str | None) -> Any:
    return _operation_model(
        task._get_boto_service_name(boto_service_name), task._get_boto_service_action(service_action_name)
    )


def normalise_parameters(
    self: StateTaskService,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """ASL's parameters in the API's casing (any service task; stepfunctions.py uses it too)."""
    operation = _operation(self, boto_service_name, service_action_name)
    if operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def normalise_response(
    self: StateTaskService,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """The API's answer in ASL's casing (any service task)."""
    operation = _operation(self, boto_service_name, service_action_name)
    if operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


setattr(normalise_parameters, PATCHED_MARK, True)
setattr(normalise_response, PATCHED_MARK, True)


# --- patch 7: a Batch job runs the worker as a process of its own ---------------------------------------
# With {"batch": {"use_docker": False}} moto marks every job SUCCEEDED inside SubmitJob. This runs the
# job's command as `python -m gpu_worker <command...>` would (the image's entrypoint), forked from a warm
# worker server (stratus.local.workers), with the job definition's environment, the overrides and this
# process's AWS settings (the server's AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_S3); keeps its output as the
# job's CloudWatch log stream, and ends the job by exit code. The job reads RUNNING meanwhile, so `.sync`
# really waits.


def _running_worker(original: Callable[..., None]) -> Callable[..., None]:
    @wraps(original)
    def mark_job_as_finished(self: BatchSimpleBackend, include_start_attempt: bool, job: Job) -> None:
        command = _command(job)
        if not include_start_attempt or not command:
            # An array job's parent, or a job with nothing to run: moto's own behaviour.
            original(self, include_start_attempt, job)
            return
        self.backend._jobs[job.job_id] = job
        job.job_started_at = datetime.now()
        job.log_stream_name = job._stream_name
        job._start_attempt()
        job.status = JobStatus.RUNNING  # as DescribeJobs and ListJobs show a job whose container runs
        threading.Thread(
            target=_run_worker,
            args=(job, command, _environment(job)),
            name=f"batch-{job.job_id}",
            daemon=True,
        ).start()

    setattr(mark_job_as_finished, PATCHED_MARK, True)
    return mark_job_as_finished


def _command(job: Job) -> list[str]:
    if job.job_definition.container_properties is None:
        return []
    return job._add_parameters_to_command(job._get_container_property("command", []))


def _environment(job: Job) -> dict[str, str]:
    """The container's variables as Batch sets them: the definition's, then the overrides'."""
    properties = job.job_definition.container_properties or {}
    variables = {
        **{item["name"]: str(item["value"]) for item in properties.get("environment", [])},
        **{item["name"]: str(item["value"]) for item in job.container_overrides.get("environment", [])},
        "AWS_BATCH_JOB_ID": job.job_id,
        "AWS_DEFAULT_REGION": job.backend.region_name,
        "AWS_REGION": job.backend.region_name,
    }
    return {**os.environ, **variables}


def _run_worker(job: Job, command: list[str], environment: dict[str, str]) -> None:
    exit_code: int | None = None
    with tempfile.TemporaryDirectory(prefix="stratus-job-") as folder:
        output = Path(folder) / "output.log"
        try:
            process = workers.start_job(command, environment, output)
            while process.exitcode is None:
                if job.stop:
                    process.terminate()  # TerminateJob: SIGTERM, as ECS stops a container
                process.join(TERMINATE_POLL_S)
            # A container killed by signal N exits with 128 + N, as Docker reports it (137 for SIGKILL).
            exit_code = process.exitcode if process.exitcode >= 0 else 128 - process.exitcode
        finally:
            _keep_logs(job, output.read_bytes().splitlines() if output.exists() else [])
            job.exit_code = exit_code
            if job.latest_attempt is not None:
                # DescribeJobs shows attempts[].container.exitCode on AWS; moto's describe() leaves it out.
                job.latest_attempt["container"]["exitCode"] = exit_code
            if exit_code != 0 and job.job_stopped_reason is None:
                job.job_stopped_reason = EXITED_REASON
            job._mark_stopped(success=exit_code == 0 and not job.stop)
            _job_ends.announce()  # after _mark_stopped: a woken .sync task sees the job ended


def _keep_logs(job: Job, lines: list[bytes]) -> None:
    now = int(time.time() * 1000)
    events = [
        {"timestamp": now, "message": line.decode(errors="replace").rstrip("\n")}
        for line in lines
        if line.strip()
    ]
    logs = job._log_backend
    logs.ensure_log_group(job._log_group)
    logs.ensure_log_stream(job._log_group, job._stream_name)
    if events:
        logs.put_log_events(job._log_group, job._stream_name, events)


# --- patch 14: .sync waits for the job's end, and a stopped execution terminates its job --------------
# moto's .sync calls DescribeJobs every 0.5 s (_DELAY_SECONDS_SYNC_CONDITION_CHECK), which puts up to half
# a second on every local execution. Jobs end in this process (patch 7), so the resolver waits for an
# announced job end instead and looks again at once. On AWS, stopping an execution whose .sync task
# waits on a Batch job terminates the job (which is why the role needs batch:TerminateJob); moto just
# stops waiting, so the resolver does it.


class _JobEnds:
    """A counter of finished jobs that waiting threads can sleep on."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._count = 0

    def count(self) -> int:
        with self._changed:
            return self._count

    def announce(self) -> None:
        with self._changed:
            self._count += 1
            self._changed.notify_all()

    def wait_after(self, seen: int, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._count != seen, timeout)


_job_ends = _JobEnds()


def _waiting_for_job_ends(
    original: Callable[..., Callable[[], Any] | None],
) -> Callable[..., Callable[[], Any] | None]:
    @wraps(original)
    def build_sync_resolver(
        self: StateTaskServiceBatch, env: Environment, resource_runtime_part: Any, *args: Any, **kwargs: Any
    ) -> Callable[[], Any] | None:
        job_id = env.stack[-1]["JobId"]  # SubmitJob's answer, which the original resolver pops
        resolve = original(self, env, resource_runtime_part, *args, **kwargs)
        if resolve is None:
            return None

        def resolve_when_ended() -> Any:
            while env.is_running():
                seen = _job_ends.count()
                outcome = resolve()
                if outcome is not None:
                    return outcome
                _job_ends.wait_after(seen, SYNC_RECHECK_S)
            _terminate(resource_runtime_part.region, job_id)
            return None

        return resolve_when_ended

    setattr(build_sync_resolver, PATCHED_MARK, True)
    return build_sync_resolver


def _terminate(region: str, job_id: str) -> None:
    """TerminateJob, unless the job already ended (where AWS's TerminateJob changes nothing either)."""
    client: Any = boto_client_for(service="batch", region=region, state_credentials=None)
    jobs = client.describe_jobs(jobs=[job_id])["jobs"]
    if jobs and jobs[0]["status"] not in ("SUCCEEDED", "FAILED"):
        client.terminate_job(jobId=job_id, reason="The Step Functions execution was stopped.")
