"""The `steps` Lambda handler with the execution state machine's task inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError
from stratus.models.executions import ExecutionStatus
from stratus.stores import Stores

from tests.gpu_worker.conftest import new_execution


def test_handler_marks_started(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context, stores: Stores
) -> None:
    record = new_execution(stores, "algorithm-1", [])

    result = function_handler("steps")(
        load_event("stepfunctions/mark_started", execution_id=record.execution_id), lambda_context
    )

    assert result == {"execution_id": record.execution_id, "status": "STARTED"}


def test_handler_finalize_fails_an_unfinished_record(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context, stores: Stores
) -> None:
    record = new_execution(stores, "algorithm-1", [])

    result = function_handler("steps")(
        load_event("stepfunctions/finalize", execution_id=record.execution_id), lambda_context
    )

    assert result["status"] == "FAILED"


def test_handler_mark_failed_keeps_the_cause(
    function_handler, load_event: Callable[..., dict[str, Any]], lambda_context, stores: Stores
) -> None:
    record = new_execution(stores, "algorithm-1", [])

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
