"""The local stack's state folder and recovery, on moto in-process: save a stack's table and bucket, restore
them into a fresh one, and end what could not survive the stop."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from stratus.local.bootstrap import LocalStack, bootstrap
from stratus.local.recovery import (
    BUILD_STOPPED_MESSAGE,
    CAMPAIGN_STOPPED_MESSAGE,
    STOPPED_ERROR,
    STOPPED_MESSAGE,
    recover,
)
from stratus.local.state import MANIFEST, StateError, StateFolder
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.campaign_runs import PlanCampaignRoundTask
from stratus.models.campaigns import CampaignCreate, CampaignStatus, TrialStatus
from stratus.models.environments import EnvironmentRecord, EnvironmentStatus
from stratus.models.executions import ExecutionRecord, ExecutionStatus
from stratus.models.workflow_runs import PlanRoundTask
from stratus.models.workflows import StepStatus, TaskType, WorkflowCreate, WorkflowStatus
from stratus.services import (
    algorithms,
    campaign_runs,
    campaigns,
    executions,
    files,
    holds,
    workflow_runs,
    workflows,
)
from stratus.settings import Settings
from stratus.stores import StateMachineStore, Stores

from gpu_worker.builtins import builtin_zip
from tests.conftest import TEMPLATE, TENANT, MovableClock, job_plan, make_hdf5

OTHER_STACK = "stratus-restored"


def _folder(root: Path, stack: LocalStack, clock: MovableClock) -> StateFolder:
    # The state of stack "stratus-local", read into whichever stack's table and bucket are given.
    return StateFolder(
        root,
        "stratus-local",
        boto3.client("dynamodb"),
        boto3.client("s3"),
        stack.table_name,
        stack.data_bucket,
        clock,
    )


@pytest.fixture
def fresh_stack(stack: LocalStack) -> LocalStack:
    """A second, empty stack beside ``stack``: where a restart restores to."""
    return bootstrap(TEMPLATE, stack_name=OTHER_STACK, data_only=True)


def _put_item(stack: LocalStack, **attributes: Any) -> None:
    boto3.client("dynamodb").put_item(TableName=stack.table_name, Item=attributes)


def _items(stack: LocalStack) -> list[dict[str, Any]]:
    return list(boto3.client("dynamodb").scan(TableName=stack.table_name)["Items"])


def test_restore_puts_back_every_item_with_its_types(
    stack: LocalStack, fresh_stack: LocalStack, tmp_path: Path, clock: MovableClock
) -> None:
    item = {
        "pk": {"S": "thing#1"},
        "sk": {"S": "thing"},
        "count": {"N": "3.5"},
        "raw": {"B": b"\x00\xff"},
        "names": {"SS": ["a", "b"]},
        "nested": {"M": {"list": {"L": [{"BOOL": True}, {"NULL": True}]}}},
    }
    _put_item(stack, **item)
    _folder(tmp_path, stack, clock).save()

    restored = _folder(tmp_path, fresh_stack, clock).restore()

    assert (restored.records, _items(fresh_stack)) == (1, [item])


def test_restore_leaves_expired_items_out(
    stack: LocalStack, fresh_stack: LocalStack, tmp_path: Path, clock: MovableClock
) -> None:
    _put_item(stack, pk={"S": "a"}, sk={"S": "a"}, expires_at={"N": str(int(clock()) + 60)})
    _put_item(stack, pk={"S": "b"}, sk={"S": "b"}, expires_at={"N": str(int(clock()) + 600)})
    _folder(tmp_path, stack, clock).save()
    clock.advance(120)

    _folder(tmp_path, fresh_stack, clock).restore()

    assert [i["pk"]["S"] for i in _items(fresh_stack)] == ["b"]


def test_restore_gives_objects_back_and_items_their_new_version_ids(
    stack: LocalStack, fresh_stack: LocalStack, tmp_path: Path, clock: MovableClock
) -> None:
    s3 = boto3.client("s3")
    put = s3.put_object(
        Bucket=stack.data_bucket,
        Key="uploads/f",
        Body=b"bytes",
        ContentType="application/x-hdf5",
        Tagging="a=b",
    )
    _put_item(stack, pk={"S": "file#f"}, sk={"S": "file"}, version_id={"S": put["VersionId"]})
    _folder(tmp_path, stack, clock).save()

    _folder(tmp_path, fresh_stack, clock).restore()

    (item,) = _items(fresh_stack)
    version_id = item["version_id"]["S"]
    got = s3.get_object(Bucket=fresh_stack.data_bucket, Key="uploads/f", VersionId=version_id)
    tags = s3.get_object_tagging(Bucket=fresh_stack.data_bucket, Key="uploads/f", VersionId=version_id)
    assert version_id != put["VersionId"]
    assert (got["Body"].read(), got["ContentType"], tags["TagSet"]) == (
        b"bytes",
        "application/x-hdf5",
        [{"Key": "a", "Value": "b"}],
    )


def test_restore_keeps_the_current_version_current(
    stack: LocalStack, fresh_stack: LocalStack, tmp_path: Path, clock: MovableClock
) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=stack.data_bucket, Key="k", Body=b"old")
    s3.put_object(Bucket=stack.data_bucket, Key="k", Body=b"new")
    s3.put_object(Bucket=stack.data_bucket, Key="gone", Body=b"x")
    s3.delete_object(Bucket=stack.data_bucket, Key="gone")
    _folder(tmp_path, stack, clock).save()

    restored = _folder(tmp_path, fresh_stack, clock).restore()

    assert restored.objects == 3
    assert s3.get_object(Bucket=fresh_stack.data_bucket, Key="k")["Body"].read() == b"new"
    listed = s3.list_objects_v2(Bucket=fresh_stack.data_bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["k"]


def test_save_writes_only_when_something_changed(
    stack: LocalStack, tmp_path: Path, clock: MovableClock
) -> None:
    folder = _folder(tmp_path, stack, clock)
    _put_item(stack, pk={"S": "a"}, sk={"S": "a"})
    first = folder.save()

    unchanged = folder.save()
    _put_item(stack, pk={"S": "b"}, sk={"S": "b"})
    changed = folder.save()

    assert (first, unchanged, changed) == (True, False, True)


def test_save_after_a_restore_downloads_nothing_again(
    stack: LocalStack, fresh_stack: LocalStack, tmp_path: Path, clock: MovableClock
) -> None:
    boto3.client("s3").put_object(Bucket=stack.data_bucket, Key="k", Body=b"bytes")
    _folder(tmp_path, stack, clock).save()
    folder = _folder(tmp_path, fresh_stack, clock)
    folder.restore()

    assert folder.save() is False


def test_clear_removes_only_the_state_files(stack: LocalStack, tmp_path: Path, clock: MovableClock) -> None:
    boto3.client("s3").put_object(Bucket=stack.data_bucket, Key="k", Body=b"bytes")
    folder = _folder(tmp_path, stack, clock)
    folder.save()
    (tmp_path / "notes.txt").write_text("mine")

    folder.clear()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_restore_refuses_another_stacks_state(
    stack: LocalStack, fresh_stack: LocalStack, tmp_path: Path, clock: MovableClock
) -> None:
    _folder(tmp_path, stack, clock).save()
    other = StateFolder(
        tmp_path,
        OTHER_STACK,
        boto3.client("dynamodb"),
        boto3.client("s3"),
        fresh_stack.table_name,
        fresh_stack.data_bucket,
    )

    with pytest.raises(StateError, match="holds stack 'stratus-local'"):
        other.restore()


def test_restore_of_an_empty_folder_restores_nothing(
    stack: LocalStack, tmp_path: Path, clock: MovableClock
) -> None:
    restored = _folder(tmp_path / "new", stack, clock).restore()

    assert (restored.objects, restored.records, (tmp_path / "new" / MANIFEST).exists()) == (0, 0, False)


# --- recovery ---------------------------------------------------------------------------------------


def _started_execution(stores: Stores, clock: MovableClock) -> str:
    """A STARTED execution holding a running slot, accepted as the API accepts one."""
    record = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=TENANT,
        algorithm_id="algorithm-1",
        input_dataset_ids=[],
        plan=job_plan(),
        created_at=clock(),
        expires_at=int(clock()) + 86_400,
    )
    holder = holds.holder_of("execution", record.execution_id)
    writes = [stores.executions.create_write(record), stores.quotas.admit_write(TENANT, holder)]
    assert stores.executions.transact(writes) is None
    executions.mark_started(record.execution_id, stores)
    return record.execution_id


def test_recover_fails_a_live_execution_with_the_stop_as_its_error(
    stack: LocalStack, stores: Stores, clock: MovableClock
) -> None:
    execution_id = _started_execution(stores, clock)

    recovered = recover(_items(stack), stores)

    record = stores.executions.get(execution_id)
    assert recovered.executions == 1
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None
    assert (record.error.type, record.error.message) == (STOPPED_ERROR, STOPPED_MESSAGE)


def test_recover_frees_the_tenants_job_slots(stack: LocalStack, stores: Stores, clock: MovableClock) -> None:
    _started_execution(stores, clock)

    recover(_items(stack), stores)

    usage = stores.quotas.usage(TENANT)
    assert (usage.queued, usage.running, usage.waiting) == (set(), set(), {})


def test_recover_leaves_ended_jobs_as_they_are(
    stack: LocalStack, stores: Stores, clock: MovableClock
) -> None:
    execution_id = _started_execution(stores, clock)
    stores.executions.stop(execution_id, "stopped by the test")

    recovered = recover(_items(stack), stores)

    assert recovered.jobs == 0
    assert stores.executions.get(execution_id).status is ExecutionStatus.STOPPED


def _running_workflow(stores: Stores, settings: Settings) -> str:
    """A one-step workflow RUNNING with run <id>-1, its step's execution started by a plan round."""
    threshold = algorithms.deploy(builtin_zip("threshold"), BUILTIN_OWNER, stores, settings).algorithm_id
    input_id = files.store_upload(make_hdf5(), TENANT, stores, settings).file_id
    step = {
        "id": "only",
        "task_type": "execution",
        "config": {"algorithm_id": threshold, "input_dataset_ids": [input_id]},
    }
    request = WorkflowCreate.model_validate({"name": "one", "steps": [step]})
    workflow_id = workflows.create(request, TENANT, stores, machines=None, start=False)  # type: ignore[arg-type]
    stores.workflows.transition(
        workflow_id,
        WorkflowStatus.RUNNING,
        {"runner": f"{workflow_id}-1", "runner_active": True, "run_count": 1},
    )
    task = PlanRoundTask(
        action="plan_workflow_round",
        workflow_id=workflow_id,
        run=f"{workflow_id}-1",
        machines={TaskType.EXECUTION: "arn:aws:states:us-east-1:123456789012:stateMachine:execution"},
    )
    workflow_runs.plan_round(task, stores)
    return workflow_id


def test_recover_fails_a_running_workflow_its_running_step_and_its_job(
    stack: LocalStack, stores: Stores, settings: Settings
) -> None:
    workflow_id = _running_workflow(stores, settings)

    recovered = recover(_items(stack), stores)

    record, steps = workflows.get(workflow_id, TENANT, stores)
    (step,) = steps
    assert (recovered.workflows, recovered.executions) == (1, 1)
    assert record.status is WorkflowStatus.FAILED and STOPPED_MESSAGE in record.errors[-1]
    assert (step.status, step.error_message) == (StepStatus.FAILED, STOPPED_MESSAGE)
    assert stores.executions.get(step.task_id or "").status is ExecutionStatus.FAILED


def _pass_machine(sfn: Any, name: str) -> StateMachineStore:
    """A state machine that starts and does nothing: runs are started, never driven."""
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/test"
    )["stateMachineArn"]
    return StateMachineStore(sfn, arn)


def test_recover_pauses_a_running_campaign_and_fails_its_running_trials_jobs(
    stack: LocalStack, stores: Stores, settings: Settings
) -> None:
    branin = algorithms.deploy(builtin_zip("branin"), BUILTIN_OWNER, stores, settings).algorithm_id
    input_id = files.store_upload(make_hdf5(), TENANT, stores, settings).file_id
    body = {
        "algorithm_id": branin,
        "input_dataset_ids": [input_id],
        "kind": "grid",
        "search_space": {"x": {"values": [0.0, 1.0]}, "y": {"values": [2.0]}},
        "objectives": [{"name": "branin"}],
        "budget": 2,
        "batch_size": 2,
    }
    sfn = boto3.client("stepfunctions")
    names = ("campaign", "execution", "workflow", "training")
    machines = campaigns.Machines(*(_pass_machine(sfn, name) for name in names))
    campaign_id = campaigns.create(CampaignCreate.model_validate(body), TENANT, stores, machines).campaign_id
    task = PlanCampaignRoundTask(
        action="plan_campaign_round",
        campaign_id=campaign_id,
        run=stores.campaigns.get(campaign_id).runner or "",
        execution_machine=machines.execution._arn,  # noqa: SLF001  # the ARNs the ASL passes
        workflow_machine=machines.workflow._arn,  # noqa: SLF001
        training_machine=machines.training._arn,  # noqa: SLF001
    )
    campaign_runs.plan_round(task, stores, machines.trials)

    recovered = recover(_items(stack), stores)

    record, trials = campaigns.get(campaign_id, TENANT, stores)
    assert (recovered.campaigns, recovered.executions) == (1, 2)
    assert (record.status, record.runner_active) == (CampaignStatus.PAUSED, False)
    assert record.errors[-1] == CAMPAIGN_STOPPED_MESSAGE
    assert [t.status for t in trials] == [TrialStatus.RUNNING] * 2  # a resume's first round collects them
    assert {stores.executions.get(t.execution_id or "").status for t in trials} == {ExecutionStatus.FAILED}


def test_recover_fails_an_environment_build_that_was_running(
    stack: LocalStack, stores: Stores, clock: MovableClock
) -> None:
    building = EnvironmentRecord(
        digest="d" * 64,
        requirements=["numpy"],
        python_tag="cp311-linux_x86_64",
        status=EnvironmentStatus.BUILDING,
        created_at=clock(),
        build_started_at=clock(),
        updated_at=clock(),
    )
    stores.environments.create(building)

    recovered = recover(_items(stack), stores)

    found = stores.environments.find(building.digest)
    assert recovered.environments == 1
    assert found is not None and (found.status, found.error) == (
        EnvironmentStatus.FAILED,
        BUILD_STOPPED_MESSAGE,
    )
