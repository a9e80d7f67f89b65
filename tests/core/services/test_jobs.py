"""Job use cases shared by executions and trainings: plan once, accept in one transaction (record,
idempotency key and input holds), fail a job whose run did not start, and refuse what cannot run."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from stratus.errors import ConflictError, IllegalTransitionError, InvalidInputError, NotFoundError
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.executions import ExecutionCreate, ExecutionRecord, ExecutionStatus
from stratus.models.jobs import DevicePlan
from stratus.models.samples import SampleCreate
from stratus.services import algorithms, files, holds, jobs, launch, samples
from stratus.settings import Settings
from stratus.stores import StateMachineStore, Stores
from stratus.stores.base import Write

from gpu_worker.builtins import builtin_zip
from tests.conftest import MovableClock
from tests.gpu_worker.conftest import TENANT

THRESHOLD_DEFAULTS = {"operation": "threshold", "threshold": 0.5}


class FakeMachine(StateMachineStore):
    """A state machine that records the runs started, or fails to start them."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__(None, "arn:aws:states:us-east-1:123456789012:stateMachine:fake")
        self.error = error
        self.started: list[tuple[str, dict[str, Any]]] = []
        self.stopped: list[str] = []

    def start(self, name: str, payload: Mapping[str, Any]) -> None:
        if self.error is not None:
            raise self.error
        self.started.append((name, dict(payload)))

    def stop(self, name: str, cause: str) -> bool:
        self.stopped.append(name)
        return True


@pytest.fixture
def threshold_id(stores: Stores, settings: Settings) -> str:
    return algorithms.deploy(builtin_zip("threshold"), BUILTIN_OWNER, stores, settings).algorithm_id


@pytest.fixture
def input_id(stores: Stores, settings: Settings, hdf5_file: Callable[..., bytes]) -> str:
    return files.store_ready(hdf5_file(), TENANT, stores, settings).file_id


@pytest.fixture
def machine() -> FakeMachine:
    return FakeMachine()


def _request(algorithm_id: str, input_id: str, **fields: Any) -> ExecutionCreate:
    return ExecutionCreate(algorithm_id=algorithm_id, input_dataset_ids=[input_id], **fields)


def _execute(stores: Stores, machine: FakeMachine, request: ExecutionCreate, key: str | None = None) -> str:
    return launch.execute(request, TENANT, stores, machine, key)


def _records(stores: Stores) -> list[ExecutionRecord]:
    records, _ = stores.executions.list_recent(TENANT, 100, None)
    return records


def _holder(execution_id: str) -> str:
    return holds.holder_of("execution", execution_id)


def _pending(stores: Stores, algorithm_id: str, input_ids: list[str]) -> ExecutionRecord:
    """A PENDING record planned as the API plans it, not yet stored."""
    plan, _ = jobs.plan_job(algorithm_id, None, None, {}, None, TENANT, stores)
    now = stores.clock()
    return ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=TENANT,
        algorithm_id=algorithm_id,
        input_dataset_ids=input_ids,
        plan=plan,
        additional_parameters=plan.parameters,
        created_at=now,
        expires_at=int(now) + 86_400,
    )


def _spy_transactions(stores: Stores, monkeypatch: pytest.MonkeyPatch) -> list[list[Write]]:
    """Every transaction the file store runs (holds go through it), as its list of writes."""
    seen: list[list[Write]] = []
    transact = stores.files.transact

    def spy(writes: list[Write]) -> list[str] | None:
        seen.append(list(writes))
        return transact(writes)

    monkeypatch.setattr(stores.files, "transact", spy)
    return seen


# accept


def test_accept_stores_record_key_and_holds_in_one_transaction(
    stores: Stores,
    machine: FakeMachine,
    threshold_id: str,
    input_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transactions = _spy_transactions(stores, monkeypatch)

    execution_id = _execute(stores, machine, _request(threshold_id, input_id), key="key-1")

    (writes,) = transactions
    # The record, the key, the tenant's queued place, the input's hold.
    assert [next(iter(w)) for w in writes] == ["Put", "Put", "Update", "Update"]
    assert stores.quotas.members(TENANT)[0] == {_holder(execution_id)}
    assert stores.executions.get(execution_id).status is ExecutionStatus.PENDING
    assert stores.idempotency.get(TENANT, "key-1").resource_id == execution_id
    assert stores.files.get(input_id).held_by == {_holder(execution_id)}
    assert machine.started == [(execution_id, {"execution_id": execution_id, "device": "cpu"})]


def test_accept_without_a_key_stores_record_and_holds(
    stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str
) -> None:
    execution_id = _execute(stores, machine, _request(threshold_id, input_id))

    assert [r.execution_id for r in _records(stores)] == [execution_id]
    assert stores.files.get(input_id).held_by == {_holder(execution_id)}


def test_accept_stores_nothing_when_an_input_went_away(
    stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str
) -> None:
    inputs = files.get_ready_many([input_id], TENANT, stores)
    record = _pending(stores, threshold_id, [input_id])
    files.delete_file(input_id, TENANT, stores)  # between the read and the transaction

    with pytest.raises(NotFoundError):
        jobs.accept(record, stores.executions, inputs, machine, {}, stores, ("key-gone", "hash"))

    assert _records(stores) == []
    with pytest.raises(NotFoundError):
        stores.idempotency.get(TENANT, "key-gone")
    assert machine.started == []


def test_accept_reads_again_an_input_changed_since_it_was_read(
    stores: Stores,
    machine: FakeMachine,
    threshold_id: str,
    input_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stale = files.get_ready_many([input_id], TENANT, stores)
    # A sample pins the file meanwhile: its expiry moves past any job's hold, so the stale guess is wrong.
    pinned = samples.create(SampleCreate(files=[{"input": [input_id]}]), TENANT, stores)
    record = _pending(stores, threshold_id, [input_id])
    transactions = _spy_transactions(stores, monkeypatch)

    second = jobs.accept(record, stores.executions, stale, machine, {}, stores)

    assert second == record.execution_id
    assert len(transactions) == 2  # the stale guess failed the first; the second read again
    assert stores.executions.get(second).status is ExecutionStatus.PENDING
    assert stores.files.get(input_id).held_by == {
        holds.holder_of("sample", pinned.sample_id),
        _holder(second),
    }


def test_retry_with_the_same_key_returns_the_first_id_and_stores_nothing_new(
    stores: Stores,
    machine: FakeMachine,
    threshold_id: str,
    input_id: str,
    clock: MovableClock,
) -> None:
    request = _request(threshold_id, input_id)
    first = _execute(stores, machine, request, key="retry-1")
    clock.advance(30)

    again = _execute(stores, machine, _request(threshold_id, input_id), key="retry-1")

    assert again == first
    assert [r.execution_id for r in _records(stores)] == [first]
    assert stores.files.get(input_id).held_by == {_holder(first)}
    assert [name for name, _ in machine.started] == [first]


def test_same_key_with_another_body_is_a_conflict(
    stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str
) -> None:
    first = _execute(stores, machine, _request(threshold_id, input_id), key="retry-2")
    other = _request(threshold_id, input_id, additional_parameters={"threshold": 0.9})

    with pytest.raises(ConflictError):
        _execute(stores, machine, other, key="retry-2")

    assert [r.execution_id for r in _records(stores)] == [first]
    assert stores.files.get(input_id).held_by == {_holder(first)}
    assert stores.idempotency.get(TENANT, "retry-2").resource_id == first


def test_other_keys_make_other_executions(
    stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str
) -> None:
    first = _execute(stores, machine, _request(threshold_id, input_id), key="a")
    second = _execute(stores, machine, _request(threshold_id, input_id), key="b")

    assert first != second
    assert stores.files.get(input_id).held_by == {_holder(first), _holder(second)}


def test_a_run_that_does_not_start_ends_failed_and_releases_the_inputs(
    stores: Stores, threshold_id: str, input_id: str
) -> None:
    machine = FakeMachine(error=RuntimeError("Step Functions is down"))

    with pytest.raises(RuntimeError, match="Step Functions is down"):
        _execute(stores, machine, _request(threshold_id, input_id))

    (record,) = _records(stores)
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None and record.error.type == "RuntimeError"
    assert "state machine run did not start" in record.error.message
    assert stores.files.get(input_id).held_by == frozenset()


def test_fail_unstarted_leaves_a_stopped_job_stopped(
    stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str
) -> None:
    execution_id = _execute(stores, machine, _request(threshold_id, input_id))
    stores.executions.stop(execution_id, "Execution stopped.")

    jobs.fail_unstarted(execution_id, stores.executions, [input_id], RuntimeError("late"), stores)

    assert stores.executions.get(execution_id).status is ExecutionStatus.STOPPED
    assert stores.files.get(input_id).held_by == frozenset()


# plan_job


def test_plan_job_fills_parameter_defaults(stores: Stores, threshold_id: str) -> None:
    plan, _ = jobs.plan_job(threshold_id, None, None, {}, None, TENANT, stores)

    assert plan.parameters == THRESHOLD_DEFAULTS
    assert (plan.algorithm_id, plan.algorithm_name, plan.algorithm_minor) == (threshold_id, "threshold", 0)
    assert plan.device == DevicePlan(kind="cpu")
    assert plan.code_key and plan.checkpoint_id is None


def test_plan_job_keeps_given_parameters_and_fills_the_rest(stores: Stores, threshold_id: str) -> None:
    plan, _ = jobs.plan_job(threshold_id, None, None, {"threshold": 0.9}, None, TENANT, stores)

    assert plan.parameters == {"operation": "threshold", "threshold": 0.9}


def test_plan_job_runs_a_gpu_default_on_cuda(stores: Stores, settings: Settings) -> None:
    denoise = algorithms.deploy(builtin_zip("gaussian_denoise"), BUILTIN_OWNER, stores, settings)
    denoise_id = denoise.algorithm_id

    plan, _ = jobs.plan_job(denoise_id, None, None, {}, None, TENANT, stores)

    assert plan.device.kind == "cuda"


@pytest.mark.parametrize("parameters", [{"threshold": "high"}, {"no_such": 1}])
def test_plan_job_rejects_bad_parameters(
    stores: Stores, threshold_id: str, parameters: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInputError):
        jobs.plan_job(threshold_id, None, None, parameters, None, TENANT, stores)


def test_record_shows_the_parameters_used(
    stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str
) -> None:
    request = _request(threshold_id, input_id, additional_parameters={"threshold": 0.25})

    execution_id = _execute(stores, machine, request)

    record = stores.executions.get(execution_id)
    used = {"operation": "threshold", "threshold": 0.25}
    assert record.additional_parameters == used
    assert record.plan.parameters == used
    assert record.algorithm_minor_version == str(record.plan.algorithm_minor)


@pytest.mark.parametrize("device", ["mps", "MPS", "mps:0"])
def test_an_mps_override_is_invalid_input_and_stores_nothing(
    stores: Stores,
    machine: FakeMachine,
    threshold_id: str,
    input_id: str,
    device: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transactions = _spy_transactions(stores, monkeypatch)
    request = _request(threshold_id, input_id, execution_device_override=device)

    with pytest.raises(InvalidInputError, match="mps") as raised:
        _execute(stores, machine, request, key="mps-key")

    assert raised.value.code == "invalid_input"
    assert transactions == []
    assert _records(stores) == []
    assert stores.files.get(input_id).held_by == frozenset()
    with pytest.raises(NotFoundError):
        stores.idempotency.get(TENANT, "mps-key")
    assert machine.started == []


def test_accepts_of_one_input_in_the_same_second_do_not_fail_each_other(
    stores: Stores,
    machine: FakeMachine,
    threshold_id: str,
    input_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both read the file before either holds it, as racing requests do.
    reads = [files.get_ready_many([input_id], TENANT, stores) for _ in range(2)]
    records = [_pending(stores, threshold_id, [input_id]) for _ in range(2)]
    transactions = _spy_transactions(stores, monkeypatch)

    accepted = [
        jobs.accept(r, stores.executions, read, machine, {}, stores)
        for r, read in zip(records, reads, strict=True)
    ]

    assert accepted == [r.execution_id for r in records]
    assert len(transactions) == 2  # one each: the second's guess still held
    assert stores.files.get(input_id).held_by == {_holder(a) for a in accepted}


# stop: the STOPPED write and the worker's final write race; exactly one wins, and the answer, the record
# and the run agree on which.


def _running(stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str) -> str:
    execution_id = _execute(stores, machine, _request(threshold_id, input_id))
    stores.executions.mark_started(execution_id)
    stores.executions.mark_running(execution_id, {"resolved_execution_device": "cpu"})
    return execution_id


def _worker_finishes_after(
    stores: Stores, method: str, execution_id: str, monkeypatch: pytest.MonkeyPatch
) -> list[str]:
    """Make the worker's COMPLETED write land right after the API's ``method`` write; returns what the
    worker's write came to."""
    outcome: list[str] = []
    original = getattr(stores.executions, method)

    def then_finish(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        try:
            stores.executions.finish(execution_id, [])
            outcome.append("completed")
        except IllegalTransitionError:
            outcome.append("refused")
        return result

    monkeypatch.setattr(stores.executions, method, then_finish)
    return outcome


def test_stop_that_loses_to_completion_is_refused_and_leaves_the_run_alone(
    stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = _running(stores, machine, threshold_id, input_id)
    worker = _worker_finishes_after(stores, "request_stop", execution_id, monkeypatch)

    with pytest.raises(IllegalTransitionError, match="ended COMPLETED"):
        launch.stop(execution_id, TENANT, stores, machine)

    assert worker == ["completed"]
    assert stores.executions.get(execution_id).status is ExecutionStatus.COMPLETED
    assert machine.stopped == []


def test_stop_that_wins_ends_the_record_and_the_run(
    stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id = _running(stores, machine, threshold_id, input_id)
    worker = _worker_finishes_after(stores, "stop", execution_id, monkeypatch)

    record = launch.stop(execution_id, TENANT, stores, machine)

    assert worker == ["refused"]
    assert record.status is ExecutionStatus.STOPPED
    assert stores.executions.get(execution_id).status is ExecutionStatus.STOPPED
    assert machine.stopped == [execution_id]
    assert stores.files.get(input_id).held_by == frozenset()


def test_stop_after_completion_is_refused_and_leaves_the_run_alone(
    stores: Stores, machine: FakeMachine, threshold_id: str, input_id: str
) -> None:
    execution_id = _running(stores, machine, threshold_id, input_id)
    stores.executions.finish(execution_id, [])

    with pytest.raises(IllegalTransitionError):
        launch.stop(execution_id, TENANT, stores, machine)

    assert machine.stopped == []
