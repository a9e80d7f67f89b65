"""The EMF metrics jobs emit from the steps tasks (started, completed, failed, duration by kind), read as
Powertools documents: the handler's flush printed to stdout, captured with capsys."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from stratus.models.executions import ExecutionRecord
from stratus.observability import metrics
from stratus.stores import Stores

from tests.conftest import MovableClock, job_plan

TENANT = "local"


@pytest.fixture
def namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The namespace the template's Globals give every function (POWERTOOLS_METRICS_NAMESPACE)."""
    monkeypatch.setattr(metrics, "namespace", "StratusTest")
    yield
    metrics.clear_metrics()


def _execution(stores: Stores) -> str:
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
    return record.execution_id


def _emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = capsys.readouterr().out.splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"_aws"')]


def _metric_names(blob: dict[str, Any]) -> set[str]:
    return {m["Name"] for directive in blob["_aws"]["CloudWatchMetrics"] for m in directive["Metrics"]}


@pytest.mark.usefixtures("namespace")
def test_mark_started_emits_started_with_the_kind(
    function_handler: Callable[[str], Callable[..., Any]],
    load_event: Callable[..., dict[str, Any]],
    lambda_context: Any,
    stores: Stores,
    capsys: pytest.CaptureFixture[str],
) -> None:
    execution_id = _execution(stores)

    function_handler("steps")(
        load_event("stepfunctions/mark_started", execution_id=execution_id), lambda_context
    )

    (blob,) = _emitted(capsys)
    assert (_metric_names(blob), blob["kind"], blob["started"]) == ({"started"}, "execution", [1.0])
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "StratusTest"


@pytest.mark.usefixtures("namespace")
def test_finalize_emits_completed_and_the_duration(
    function_handler: Callable[[str], Callable[..., Any]],
    load_event: Callable[..., dict[str, Any]],
    lambda_context: Any,
    stores: Stores,
    clock: MovableClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    execution_id = _execution(stores)
    stores.executions.mark_started(execution_id)
    stores.executions.mark_running(execution_id)
    clock.advance(42)
    stores.executions.finish(execution_id, [])

    function_handler("steps")(load_event("stepfunctions/finalize", execution_id=execution_id), lambda_context)

    (blob,) = _emitted(capsys)
    assert _metric_names(blob) == {"completed", "duration"}
    assert (blob["kind"], blob["completed"], blob["duration"]) == ("execution", [1.0], [42.0])


@pytest.mark.usefixtures("namespace")
def test_mark_failed_emits_failed(
    function_handler: Callable[[str], Callable[..., Any]],
    load_event: Callable[..., dict[str, Any]],
    lambda_context: Any,
    stores: Stores,
    capsys: pytest.CaptureFixture[str],
) -> None:
    execution_id = _execution(stores)

    function_handler("steps")(
        load_event("stepfunctions/mark_failed", execution_id=execution_id), lambda_context
    )

    (blob,) = _emitted(capsys)
    assert (_metric_names(blob), blob["kind"], blob["failed"]) == ({"failed"}, "execution", [1.0])
