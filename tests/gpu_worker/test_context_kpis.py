"""KPIs through ExecutionContext over moto: throttled writes, riding along with progress, the final write,
set_state's numeric entries, precedence, and a record that ended."""

from __future__ import annotations

from pathlib import Path

import pytest
from stratus.models import Kpi
from stratus.models.algorithms import AlgorithmVersionRecord
from stratus.models.executions import ExecutionRecord, ExecutionStatus
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.context import MIN_WRITE_INTERVAL_S, ExecutionContext

from .conftest import new_execution


@pytest.fixture
def running(stores: Stores, scale_version: AlgorithmVersionRecord) -> ExecutionRecord:
    record = new_execution(stores, scale_version.algorithm_id, [])
    stores.executions.mark_started(record.execution_id)
    return stores.executions.mark_running(record.execution_id, {"resolved_execution_device": "cpu"})


@pytest.fixture
def context(running: ExecutionRecord, stores: Stores, settings: Settings, tmp_path: Path) -> ExecutionContext:
    return ExecutionContext(running, stores, settings, tmp_path / "package", "cpu")


def _stored(stores: Stores, context: ExecutionContext) -> dict[str, Kpi]:
    return stores.executions.get(context.execution_id).kpis


def test_report_kpi_writes_the_first_report_at_once(stores: Stores, context: ExecutionContext) -> None:
    context.report_kpi("throughput", 42.0, "items/s")

    assert _stored(stores, context) == {"throughput": Kpi(name="throughput", value=42.0, unit="items/s")}


def test_report_kpi_holds_reports_within_the_interval(
    stores: Stores, context: ExecutionContext, clock
) -> None:
    context.report_kpi("step", 0, None)
    clock.advance(MIN_WRITE_INTERVAL_S / 2)

    for step in range(1, 100):
        context.report_kpi("step", step, None)

    assert _stored(stores, context)["step"].value == 0.0


def test_report_kpi_writes_the_latest_once_the_interval_passed(
    stores: Stores, context: ExecutionContext, clock
) -> None:
    context.report_kpi("step", 0, None)
    context.report_kpi("step", 1, None)
    clock.advance(MIN_WRITE_INTERVAL_S)

    context.report_kpi("step", 2, None)

    assert _stored(stores, context)["step"].value == 2.0


def test_flush_writes_held_kpis(stores: Stores, context: ExecutionContext) -> None:
    context.report_kpi("step", 0, None)
    context.report_kpi("step", 1, None)

    context.flush()

    assert _stored(stores, context)["step"].value == 1.0


def test_progress_write_carries_held_kpis(stores: Stores, context: ExecutionContext, clock) -> None:
    context.report_kpi("step", 0, None)
    clock.advance(MIN_WRITE_INTERVAL_S / 2)
    context.report_kpi("step", 1, None)
    clock.advance(MIN_WRITE_INTERVAL_S / 2)

    context.set_progress(0.5)

    record = stores.executions.get(context.execution_id)
    assert (record.progress, record.kpis["step"].value) == (0.5, 1.0)


def test_finish_writes_the_final_kpis_with_completion(stores: Stores, context: ExecutionContext) -> None:
    context.report_kpi("step", 0, None)
    context.report_kpi("step", 1, None)

    finished = context.finish([])

    assert finished.status is ExecutionStatus.COMPLETED
    assert finished.kpis == {"step": Kpi(name="step", value=1.0)}


def test_set_state_numeric_entries_become_kpis(stores: Stores, context: ExecutionContext) -> None:
    context.set_state({"loss": 0.25, "epoch": 3, "done": True, "phase": "eval"})

    assert _stored(stores, context) == {
        "loss": Kpi(name="loss", value=0.25),
        "epoch": Kpi(name="epoch", value=3),
    }
    assert context.get_state()["phase"] == "eval"


def test_report_kpi_wins_over_set_state(stores: Stores, context: ExecutionContext) -> None:
    context.report_kpi("accuracy", 0.9, "ratio")

    context.set_state({"accuracy": 0.1})
    context.flush()

    assert _stored(stores, context)["accuracy"] == Kpi(name="accuracy", value=0.9, unit="ratio")


def test_set_state_entry_no_kpi_can_have_is_logged_once(stores: Stores, context: ExecutionContext) -> None:
    context.set_state({"val loss": 0.5, "loss": 0.25})
    context.set_state({"val loss": 0.4, "loss": 0.2})

    context.flush()

    record = stores.executions.get(context.execution_id)
    assert record.log.count("set_state entry 'val loss' is not reported as a KPI") == 1
    assert set(record.kpis) == {"loss"}


def test_report_kpi_rejects_a_bad_value(context: ExecutionContext) -> None:
    with pytest.raises(ValueError, match="KPI 'loss': the value must be a number, got str"):
        context.report_kpi("loss", "0.5", None)  # type: ignore[arg-type]


def test_kpis_held_when_the_record_ended_elsewhere_leave_it_as_it_ended(
    stores: Stores, context: ExecutionContext
) -> None:
    context.report_kpi("step", 0, None)
    context.report_kpi("step", 1, None)
    stores.executions.stop(context.execution_id, "Execution stopped.")

    context.flush()

    record = stores.executions.get(context.execution_id)
    assert record.status is ExecutionStatus.STOPPED
    assert record.kpis["step"].value == 0.0


def test_context_starts_from_the_records_kpis(
    stores: Stores, running: ExecutionRecord, settings: Settings, tmp_path: Path
) -> None:
    stores.executions.update_active(running.execution_id, {"kpis": {"seen": {"name": "seen", "value": 1.0}}})
    record = stores.executions.get(running.execution_id)
    context = ExecutionContext(record, stores, settings, tmp_path, "cpu")

    context.report_kpi("new", 2.0, None)

    assert set(_stored(stores, context)) == {"seen", "new"}
