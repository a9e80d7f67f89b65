"""LogStore and the job store's log: lines numbered from 0 as items of their own, read from any line,
followed with next_line, while the record keeps only a bounded tail."""

from __future__ import annotations

import uuid

import pytest
from stratus import aws
from stratus.models.executions import ExecutionError, ExecutionRecord
from stratus.models.jobs import LogLine, LogPage
from stratus.settings import Settings
from stratus.stores import Stores
from stratus.stores.jobs import LOG_TAIL_BYTES, TRUNCATION_MARKER, bounded_log
from stratus.stores.logs import MAX_LINE_CHARS, LogStore, log_partition

from tests.conftest import MovableClock, job_plan

LIFETIME = 86_400


@pytest.fixture
def logs(settings: Settings, clock: MovableClock) -> LogStore:
    return LogStore(aws.table(settings.table_name), clock)


def _texts(page: LogPage) -> list[str]:
    return [line.text for line in page.lines]


def _numbers(page: LogPage) -> list[int]:
    return [line.line for line in page.lines]


def _running(stores: Stores, clock: MovableClock) -> ExecutionRecord:
    record = ExecutionRecord(
        execution_id=str(uuid.uuid4()),
        tenant="t1",
        algorithm_id="algorithm-1",
        input_dataset_ids=[],
        created_at=clock(),
        expires_at=int(clock()) + LIFETIME,
        plan=job_plan(),
    )
    stores.executions.create(record)
    stores.executions.mark_started(record.execution_id)
    return stores.executions.mark_running(record.execution_id, {"resolved_execution_device": "cpu"})


# LogStore on its own.


def test_read_returns_lines_numbered_from_zero(logs: LogStore) -> None:
    logs.put_chunk("execution", "e1", 0, ["one", "two"], 2**31)
    logs.put_chunk("execution", "e1", 2, ["three"], 2**31)

    page = logs.read("execution", "e1", 0, 100, 3)

    assert page == LogPage(
        lines=[LogLine(line=0, text="one"), LogLine(line=1, text="two"), LogLine(line=2, text="three")],
        next_line=3,
    )


@pytest.mark.parametrize("from_line", range(6))
def test_read_starts_at_any_line(logs: LogStore, from_line: int) -> None:
    logs.put_chunk("execution", "e1", 0, ["l0", "l1", "l2"], 2**31)
    logs.put_chunk("execution", "e1", 3, ["l3", "l4"], 2**31)
    logs.put_chunk("execution", "e1", 5, ["l5"], 2**31)

    page = logs.read("execution", "e1", from_line, 100, 6)

    assert _numbers(page) == list(range(from_line, 6))
    assert _texts(page) == [f"l{n}" for n in range(from_line, 6)]
    assert page.next_line == 6


def test_read_stops_at_the_limit_and_next_line_follows_on(logs: LogStore) -> None:
    for first in range(0, 10, 2):
        logs.put_chunk("execution", "e1", first, [f"l{first}", f"l{first + 1}"], 2**31)

    seen: list[int] = []
    from_line = 0
    while from_line < 10:
        page = logs.read("execution", "e1", from_line, 3, 10)
        assert len(page.lines) <= 3
        seen.extend(_numbers(page))
        from_line = page.next_line

    assert seen == list(range(10))


def test_read_ignores_lines_beyond_the_count_the_record_gives(logs: LogStore) -> None:
    logs.put_chunk("execution", "e1", 0, ["a", "b", "c"], 2**31)

    page = logs.read("execution", "e1", 0, 100, 2)

    assert (_texts(page), page.next_line) == (["a", "b"], 2)


@pytest.mark.parametrize(("from_line", "next_line"), [(2, 2), (5, 5)])
def test_read_at_or_past_the_end_is_empty_and_asks_again_from_there(
    logs: LogStore, from_line: int, next_line: int
) -> None:
    logs.put_chunk("execution", "e1", 0, ["a", "b"], 2**31)

    page = logs.read("execution", "e1", from_line, 100, 2)

    assert (page.lines, page.next_line) == ([], next_line)


def test_read_of_a_job_without_lines_is_empty(logs: LogStore) -> None:
    assert logs.read("execution", "nothing-yet", 0, 100, 0) == LogPage(lines=[], next_line=0)


def test_put_chunk_twice_is_harmless(logs: LogStore) -> None:
    logs.put_chunk("execution", "e1", 0, ["a", "b"], 2**31)
    logs.put_chunk("execution", "e1", 0, ["a", "b"], 2**31)

    assert _texts(logs.read("execution", "e1", 0, 100, 2)) == ["a", "b"]


def test_put_chunk_cuts_a_line_over_the_limit(logs: LogStore) -> None:
    logs.put_chunk("execution", "e1", 0, ["x" * (MAX_LINE_CHARS + 10), "short"], 2**31)

    page = logs.read("execution", "e1", 0, 100, 2)

    assert [len(text) for text in _texts(page)] == [MAX_LINE_CHARS, 5]


def test_logs_of_jobs_and_kinds_are_apart(logs: LogStore) -> None:
    logs.put_chunk("execution", "j1", 0, ["execution j1"], 2**31)
    logs.put_chunk("training", "j1", 0, ["training j1"], 2**31)
    logs.put_chunk("execution", "j2", 0, ["execution j2"], 2**31)

    assert _texts(logs.read("execution", "j1", 0, 100, 1)) == ["execution j1"]
    assert _texts(logs.read("training", "j1", 0, 100, 1)) == ["training j1"]
    assert log_partition("execution", "j1") != log_partition("training", "j1")


def test_put_chunk_stores_the_expiry(logs: LogStore, settings: Settings) -> None:
    logs.put_chunk("execution", "e1", 0, ["a"], 1234)

    items = aws.table(settings.table_name).scan()["Items"]
    (item,) = [i for i in items if i["pk"] == log_partition("execution", "e1")]
    assert int(item["expires_at"]) == 1234


# The job store's log: the record's count and tail, the lines as LogStore items.


def test_append_log_numbers_lines_by_the_records_count(stores: Stores, clock: MovableClock) -> None:
    running = _running(stores, clock)

    stores.executions.append_log(running.execution_id, ["a", "b"])
    record = stores.executions.append_log(running.execution_id, ["c"])

    page = stores.executions.read_log(record, 0, 100)
    assert record.log_lines == 3
    assert [(line.line, line.text) for line in page.lines] == [(0, "a"), (1, "b"), (2, "c")]
    assert page.next_line == 3


def test_read_log_from_any_line(stores: Stores, clock: MovableClock) -> None:
    running = _running(stores, clock)
    stores.executions.append_log(running.execution_id, ["a", "b", "c"])
    record = stores.executions.append_log(running.execution_id, ["d", "e"])

    page = stores.executions.read_log(record, 2, 2)

    assert [(line.line, line.text) for line in page.lines] == [(2, "c"), (3, "d")]
    assert page.next_line == 4


def test_read_log_follows_a_growing_log_with_next_line(stores: Stores, clock: MovableClock) -> None:
    running = _running(stores, clock)
    record = stores.executions.append_log(running.execution_id, ["a"])
    first = stores.executions.read_log(record, 0, 100)

    nothing_new = stores.executions.read_log(record, first.next_line, 100)
    record = stores.executions.append_log(running.execution_id, ["b", "c"])
    more = stores.executions.read_log(record, nothing_new.next_line, 100)

    assert (_texts(first), first.next_line) == (["a"], 1)
    assert (nothing_new.lines, nothing_new.next_line) == ([], 1)
    assert (_texts(more), more.next_line) == (["b", "c"], 3)


def test_append_log_against_a_stale_record_numbers_after_the_other_writer(
    stores: Stores, clock: MovableClock
) -> None:
    running = _running(stores, clock)
    stores.executions.append_log(running.execution_id, ["theirs"])

    record = stores.executions.append_log(running.execution_id, ["mine"], known=running)

    page = stores.executions.read_log(record, 0, 100)
    assert [(line.line, line.text) for line in page.lines] == [(0, "theirs"), (1, "mine")]


def test_record_tail_is_bounded_while_every_line_is_kept(stores: Stores, clock: MovableClock) -> None:
    running = _running(stores, clock)
    lines = [f"{n:04d} " + "x" * 1000 for n in range(60)]

    for start in range(0, 60, 10):
        record = stores.executions.append_log(running.execution_id, lines[start : start + 10])

    page = stores.executions.read_log(record, 0, 1000)
    assert len(record.log.encode()) <= LOG_TAIL_BYTES
    assert record.log.startswith(TRUNCATION_MARKER)
    assert record.log.endswith(lines[-1] + "\n")
    assert lines[0] not in record.log
    assert record.log_lines == 60
    assert _texts(page) == lines


def test_final_writes_put_their_lines_in_the_log(stores: Stores, clock: MovableClock) -> None:
    finished = _running(stores, clock)
    failed = _running(stores, clock)
    stopped = _running(stores, clock)

    finished = stores.executions.finish(finished.execution_id, [], ["INFO done"])
    failed = stores.executions.fail(
        failed.execution_id, ExecutionError(type="RuntimeError", message="boom"), "Traceback: boom"
    )
    stopped = stores.executions.stop(stopped.execution_id, "Execution stopped.")

    assert _texts(stores.executions.read_log(finished, 0, 10)) == ["INFO done"]
    assert _texts(stores.executions.read_log(failed, 0, 10)) == ["Traceback: boom"]
    assert _texts(stores.executions.read_log(stopped, 0, 10)) == ["Execution stopped."]


def test_appends_after_the_end_are_kept(stores: Stores, clock: MovableClock) -> None:
    running = _running(stores, clock)
    stores.executions.finish(running.execution_id, [], ["INFO done"])

    record = stores.executions.append_log(running.execution_id, ["INFO late flush"])

    assert _texts(stores.executions.read_log(record, 0, 10)) == ["INFO done", "INFO late flush"]


def test_log_items_expire_with_the_record(stores: Stores, clock: MovableClock, settings: Settings) -> None:
    running = _running(stores, clock)
    stores.executions.append_log(running.execution_id, ["a"])

    items = aws.table(settings.table_name).scan()["Items"]
    (item,) = [i for i in items if i["pk"] == log_partition("execution", running.execution_id)]
    assert int(item["expires_at"]) == running.expires_at


def test_log_items_stay_out_of_listings(stores: Stores, clock: MovableClock) -> None:
    running = _running(stores, clock)
    stores.executions.append_log(running.execution_id, ["a", "b"])

    records, _ = stores.executions.list_recent("t1", 10, None)

    assert [r.execution_id for r in records] == [running.execution_id]


# The tail itself.


def test_bounded_log_keeps_one_marker() -> None:
    assert bounded_log(TRUNCATION_MARKER + "a\n", ["b"]) == TRUNCATION_MARKER + "a\nb\n"


def test_bounded_log_keeps_the_end_of_one_line_over_the_limit() -> None:
    log = bounded_log("", ["x" * 100], limit=len(TRUNCATION_MARKER) + 10)

    assert log == TRUNCATION_MARKER + "x" * 9 + "\n"


def test_bounded_log_counts_bytes_not_characters() -> None:
    log = bounded_log("", ["é" * 100] * 10, limit=len(TRUNCATION_MARKER) + 450)

    assert len(log.encode()) <= len(TRUNCATION_MARKER) + 450
    assert log.startswith(TRUNCATION_MARKER) and log.endswith("é" * 100 + "\n")
