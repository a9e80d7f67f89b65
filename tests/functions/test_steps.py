"""The `steps` Lambda handler with the execution state machine's task inputs (one union with the
training machine's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from stratus.errors import NotFoundError
from stratus.models.executions import ExecutionRecord, ExecutionStatus
from stratus.stores import Stores

from tests.conftest import job_plan
from tests.gpu_worker.conftest import TENANT


def new_execution(stores: Stores) -> ExecutionRecord:
    """A stored PENDING execution; the steps read only the record, so the plan is a dummy."""
    now = stores.clock()
    record = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=TENANT,
        algorithm_id="algorithm-1",
        input_dataset_ids=[],
        created_at=now,
        expires_at=int(now) + 86_400,
        plan=job_plan(),
    )
    stores.executions.create(record)
    return record


def test_handler_marks_started(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context, stores: Stores
) -> None:
    record = new_execution(stores)

    result = function_handler("steps")(
        load_event("stepfunctions/mark_started", execution_id=record.execution_id), lambda_context
    )

    assert result == {
        "execution_id": record.execution_id,
        "status": "STARTED",
        "scheduling": {"share": "local", "priority": 5000},
    }


def test_handler_finalize_fails_an_unfinished_record(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context, stores: Stores
) -> None:
    record = new_execution(stores)

    result = function_handler("steps")(
        load_event("stepfunctions/finalize", execution_id=record.execution_id), lambda_context
    )

    assert result["status"] == "FAILED"


def test_handler_mark_failed_keeps_the_cause(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context, stores: Stores
) -> None:
    record = new_execution(stores)

    result = function_handler("steps")(
        load_event("stepfunctions/mark_failed", execution_id=record.execution_id), lambda_context
    )

    failed = stores.executions.get(record.execution_id)
    assert result["status"] == "FAILED"
    assert failed.status is ExecutionStatus.FAILED
    assert failed.error is not None and "exit code 137" in failed.error.message


def test_handler_rejects_an_unknown_action(function_handler, lambda_context, stores: Stores) -> None:
    with pytest.raises(ValidationError):
        function_handler("steps")({"action": "launch", "execution_id": "x"}, lambda_context)


def test_handler_rejects_an_execution_action_with_a_training_id(function_handler, lambda_context) -> None:
    with pytest.raises(ValidationError):
        function_handler("steps")({"action": "finalize", "training_id": "x"}, lambda_context)


def test_handler_routes_a_training_action_to_the_trainings(
    function_handler, lambda_context, stores: Stores
) -> None:
    event = {"action": "finalize_training", "training_id": "00000000-0000-4000-8000-000000000000"}

    with pytest.raises(NotFoundError, match="training"):
        function_handler("steps")(event, lambda_context)
