"""ExecutionStore: conditional creates and transitions, final statuses, bounded log, stops, expiry."""

from __future__ import annotations

import threading
import uuid

import pytest
from stratus.errors import AlreadyExistsError, ConflictError, IllegalTransitionError, NotFoundError
from stratus.models.executions import ExecutionError, ExecutionRecord, ExecutionStatus
from stratus.stores import Stores
from stratus.stores.jobs import LOG_TAIL_BYTES as MAX_LOG_BYTES
from stratus.stores.jobs import TRUNCATION_MARKER, bounded_log

from tests.conftest import job_plan

LIFETIME = 86_400
STOPPED = "Execution stopped."


def _record(clock_now: float, tenant: str = "t1") -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant=tenant,
        algorithm_id="algorithm-1",
        input_dataset_ids=["file-1"],
        additional_parameters={"factor": 2.0},
        session_token="session-1",
        created_at=clock_now,
        expires_at=int(clock_now) + LIFETIME,
        plan=job_plan(),
    )


def _running(stores: Stores, clock) -> ExecutionRecord:
    record = _record(clock())
    stores.executions.create(record)
    stores.executions.mark_started(record.execution_id)
    return stores.executions.mark_running(record.execution_id, {"resolved_execution_device": "cpu"})


def test_create_then_get_round_trips(stores: Stores, clock) -> None:
    record = _record(clock())

    stores.executions.create(record)

    assert stores.executions.get(record.execution_id, "t1") == record


def test_create_rejects_duplicate_id(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.executions.create(record)

    with pytest.raises(AlreadyExistsError):
        stores.executions.create(record)


def test_get_treats_expired_execution_as_absent(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.executions.create(record)

    clock.advance(LIFETIME)

    with pytest.raises(NotFoundError):
        stores.executions.get(record.execution_id)


def test_get_hides_other_tenants_execution(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.executions.create(record)

    with pytest.raises(NotFoundError):
        stores.executions.get(record.execution_id, "someone-else")


def test_mark_started_then_running_records_time_and_device(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.executions.create(record)

    stores.executions.mark_started(record.execution_id)
    running = stores.executions.mark_running(record.execution_id, {"resolved_execution_device": "cuda"})

    assert running.status is ExecutionStatus.RUNNING
    assert running.time_started == clock()
    assert running.resolved_execution_device == "cuda"


def test_mark_running_rejects_pending_execution(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.executions.create(record)

    with pytest.raises(IllegalTransitionError):
        stores.executions.mark_running(record.execution_id, {"resolved_execution_device": "cpu"})


def test_finish_records_outputs_and_full_progress(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    done = stores.executions.finish(running.execution_id, ["out-1", "out-2"])

    assert done.status is ExecutionStatus.COMPLETED
    assert done.output_dataset_ids == ["out-1", "out-2"]
    assert done.progress == 1.0
    assert done.time_completed == clock()


def test_mark_running_rejects_completed_execution(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    stores.executions.finish(running.execution_id, [])

    with pytest.raises(IllegalTransitionError):
        stores.executions.mark_running(running.execution_id, {"resolved_execution_device": "cpu"})


def test_transition_of_expired_execution_is_not_found(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    clock.advance(LIFETIME)

    with pytest.raises(NotFoundError):
        stores.executions.finish(running.execution_id, [])


def test_set_progress_updates_active_execution(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    updated = stores.executions.set_progress(running.execution_id, 0.4)

    assert updated.progress == 0.4


def test_set_progress_rejects_finished_execution(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    stores.executions.stop(running.execution_id, STOPPED)

    with pytest.raises(IllegalTransitionError):
        stores.executions.set_progress(running.execution_id, 0.5)


def test_set_progress_rejects_pending_execution(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.executions.create(record)

    with pytest.raises(IllegalTransitionError):
        stores.executions.set_progress(record.execution_id, 0.5)


def test_fail_records_error_and_appends_traceback(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    stores.executions.append_log(running.execution_id, ["INFO working"])

    failed = stores.executions.fail(
        running.execution_id, ExecutionError(type="RuntimeError", message="boom"), "Traceback: boom"
    )

    assert failed.status is ExecutionStatus.FAILED
    assert failed.error == ExecutionError(type="RuntimeError", message="boom")
    assert failed.log == "INFO working\nTraceback: boom\n"
    assert failed.output_dataset_ids == []


def test_fail_rejects_completed_execution(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    stores.executions.finish(running.execution_id, ["out-1"])

    with pytest.raises(IllegalTransitionError):
        stores.executions.fail(running.execution_id, ExecutionError(type="E", message="late"))


def test_stop_ends_pending_execution(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.executions.create(record)

    stopped = stores.executions.stop(record.execution_id, STOPPED)

    assert stopped.status is ExecutionStatus.STOPPED
    assert STOPPED in stopped.log


def test_finish_and_stop_racing_end_in_exactly_one_final_status(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def attempt(name: str, write) -> None:
        barrier.wait()
        try:
            write()
            outcomes[name] = "won"
        except ConflictError:
            outcomes[name] = "lost"

    threads = [
        threading.Thread(
            target=attempt, args=("finish", lambda: stores.executions.finish(running.execution_id, []))
        ),
        threading.Thread(
            target=attempt, args=("stop", lambda: stores.executions.stop(running.execution_id, STOPPED))
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes.values()) == ["lost", "won"]
    final = stores.executions.get(running.execution_id)
    winner = ExecutionStatus.COMPLETED if outcomes["finish"] == "won" else ExecutionStatus.STOPPED
    assert final.status is winner


def test_request_stop_sets_the_flag(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    stores.executions.request_stop(running.execution_id, "t1")

    assert stores.executions.is_stop_requested(running.execution_id)


def test_is_stop_requested_is_false_without_request(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    assert not stores.executions.is_stop_requested(running.execution_id)


def test_request_stop_rejects_completed_execution(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    stores.executions.finish(running.execution_id, [])

    with pytest.raises(IllegalTransitionError):
        stores.executions.request_stop(running.execution_id)


def test_request_stop_hides_other_tenants_execution(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    with pytest.raises(NotFoundError):
        stores.executions.request_stop(running.execution_id, "someone-else")


def test_append_log_keeps_item_under_the_bound(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    line = "x" * 1000

    for _ in range(40):
        record = stores.executions.append_log(running.execution_id, [line] * 10)

    assert len(record.log.encode()) <= MAX_LOG_BYTES
    assert record.log.startswith(TRUNCATION_MARKER)
    assert record.log.endswith(line + "\n")


def test_bounded_log_drops_oldest_whole_lines() -> None:
    log = bounded_log("", ["a" * 80, "second", "third"], limit=len(TRUNCATION_MARKER) + 12)

    assert log == TRUNCATION_MARKER + "third\n"


def test_bounded_log_keeps_everything_under_the_limit() -> None:
    assert bounded_log("a\n", ["b"]) == "a\nb\n"


def test_list_recent_pages_newest_first(stores: Stores, clock) -> None:
    first = _record(clock())
    stores.executions.create(first)
    clock.advance(1)
    second = _record(clock())
    stores.executions.create(second)

    page, cursor = stores.executions.list_recent("t1", 1, None)
    rest, _ = stores.executions.list_recent("t1", 1, cursor)

    assert [r.execution_id for r in page + rest] == [second.execution_id, first.execution_id]


def test_append_log_against_a_stale_record_keeps_every_line(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    stores.executions.append_log(running.execution_id, ["INFO from another writer"])

    record = stores.executions.append_log(running.execution_id, ["INFO mine"], known=running)

    assert record.log == "INFO from another writer\nINFO mine\n"
    assert record.log_version == running.log_version + 2


def test_append_log_against_the_current_record_appends(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    first = stores.executions.append_log(running.execution_id, ["INFO one"], known=running)
    second = stores.executions.append_log(running.execution_id, ["INFO two"], known=first)

    assert second.log == "INFO one\nINFO two\n"


def test_finish_with_lines_writes_them_with_the_status(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    record = stores.executions.finish(running.execution_id, ["file-9"], ["INFO done"], known=running)

    assert (record.status, record.output_dataset_ids) == (ExecutionStatus.COMPLETED, ["file-9"])
    assert record.log == "INFO done\n" and record.progress == 1.0


def test_finish_with_lines_rejects_stopped_execution(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    stores.executions.stop(running.execution_id, STOPPED)

    with pytest.raises(IllegalTransitionError):
        stores.executions.finish(running.execution_id, ["file-9"], ["INFO done"], known=running)


def test_mark_running_records_its_time_and_values(stores: Stores, clock) -> None:
    record = _record(clock())
    stores.executions.create(record)
    stores.executions.mark_started(record.execution_id)
    clock.advance(5)

    running = stores.executions.mark_running(record.execution_id, {"resolved_execution_device": "cuda:1"})

    assert running.time_running == clock()
    assert running.time_started == clock() - 5
    assert running.resolved_execution_device == "cuda:1"


def test_set_progress_records_values_with_the_progress(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    updated = stores.executions.set_progress(running.execution_id, 0.25, {"output_dataset_ids": ["out-1"]})

    assert (updated.progress, updated.output_dataset_ids) == (0.25, ["out-1"])


def test_fail_clears_outputs_written_before(stores: Stores, clock) -> None:
    running = _running(stores, clock)
    stores.executions.set_progress(running.execution_id, 0.5, {"output_dataset_ids": ["out-1"]})

    failed = stores.executions.fail(running.execution_id, ExecutionError(type="RuntimeError", message="boom"))

    assert failed.output_dataset_ids == []
    assert stores.executions.get(running.execution_id).output_dataset_ids == []


def test_list_recent_filters_by_status_and_algorithm(stores: Stores, clock) -> None:
    pending = _record(clock())
    stores.executions.create(pending)
    other = _record(clock()).model_copy(update={"algorithm_id": "algorithm-2"})
    stores.executions.create(other)
    running = _running(stores, clock)

    by_status, _ = stores.executions.list_recent("t1", 10, None, ExecutionStatus.RUNNING)
    by_algorithm, _ = stores.executions.list_recent("t1", 10, None, match={"algorithm_id": "algorithm-2"})
    both, _ = stores.executions.list_recent(
        "t1", 10, None, ExecutionStatus.PENDING, match={"algorithm_id": "algorithm-1"}
    )
    unfiltered, _ = stores.executions.list_recent("t1", 10, None, match={"algorithm_id": None})

    assert [r.execution_id for r in by_status] == [running.execution_id]
    assert [r.execution_id for r in by_algorithm] == [other.execution_id]
    assert [r.execution_id for r in both] == [pending.execution_id]
    assert len(unfiltered) == 3


def test_log_lines_count_every_line_while_the_tail_is_bounded(stores: Stores, clock) -> None:
    running = _running(stores, clock)

    for _ in range(40):
        record = stores.executions.append_log(running.execution_id, ["x" * 1000] * 10)

    assert record.log_lines == 400
    assert len(record.log.encode()) <= MAX_LOG_BYTES
