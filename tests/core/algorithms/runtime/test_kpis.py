"""KPIs in the runtime: make_kpi's checks, set_state's KPIs, the book's precedence and cap, and
BaseRunner.report_kpi against an in-memory context."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
from stratus.algorithms.runtime import BaseRunner, KpiBook, make_kpi, state_kpis
from stratus.models import Kpi
from stratus.models.jobs import MAX_KPIS

from ..conftest import MemoryContext


class KpiRunner(BaseRunner):
    """Reports what ``args["kpis"]`` lists as (name, value, unit) during inference."""

    def preprocess(self, input_data: dict[str, Any], args: dict[str, Any] | None = None) -> Any:
        return None

    def inference(self, data: Any, args: dict[str, Any] | None = None) -> Any:
        for name, value, unit in (args or {})["kpis"]:
            self.report_kpi(name, value, unit)
        return data

    def postprocess(self, data: Any, args: dict[str, Any] | None = None) -> list[str]:
        return []


def _runner(context: MemoryContext) -> BaseRunner:
    runner = KpiRunner.__new__(KpiRunner)
    runner.attach(context)
    runner.initialize("cpu")
    runner.load()
    return runner


def test_make_kpi_accepts_numpy_numbers_as_floats() -> None:
    kpi = make_kpi("dice", np.float32(0.5), "ratio")

    assert kpi == Kpi(name="dice", value=0.5, unit="ratio")
    assert type(kpi.value) is float


@pytest.mark.parametrize(
    ("name", "value", "unit", "problem"),
    [
        ("val loss", 1.0, None, "KPI name 'val loss' is not valid"),
        ("", 1.0, None, "KPI name '' is not valid"),
        ("x" * 65, 1.0, None, "is not valid"),
        (".hidden", 1.0, None, "KPI name '.hidden' is not valid"),
        (3, 1.0, None, "KPI name 3 is not valid"),
        ("loss", math.nan, None, "KPI 'loss': the value nan is not allowed"),
        ("loss", math.inf, None, "KPI 'loss': the value inf is not allowed"),
        ("loss", True, None, "KPI 'loss': the value must be a number, got bool"),
        ("loss", np.bool_(True), None, "KPI 'loss': the value must be a number"),
        ("loss", "0.5", None, "KPI 'loss': the value must be a number, got str"),
        ("loss", 10**400, None, "KPI 'loss': the value is too large"),
        ("loss", 1e200, None, "KPI 'loss': the value 1e+200 is not allowed"),
        ("loss", 1.0, "u" * 33, "KPI 'loss': the unit must be a string"),
        ("loss", 1.0, 5, "KPI 'loss': the unit must be a string"),
    ],
)
def test_make_kpi_rejects_bad_kpis_naming_them(name: Any, value: Any, unit: Any, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        make_kpi(name, value, unit)


def test_make_kpi_rounds_values_below_what_the_table_stores_to_zero() -> None:
    assert make_kpi("tiny", 1e-200).value == 0.0


def test_state_kpis_takes_numeric_entries_only() -> None:
    state = {"loss": np.float64(0.25), "epoch": 3, "done": True, "phase": "eval", "nested": {"x": 1}}

    kpis, unusable = state_kpis(state)

    assert kpis == {"loss": Kpi(name="loss", value=0.25), "epoch": Kpi(name="epoch", value=3.0)}
    assert unusable == {}


def test_state_kpis_names_numeric_entries_that_make_no_kpi() -> None:
    kpis, unusable = state_kpis({"val loss": 0.5, "grad": math.nan, "ok": 1})

    assert list(kpis) == ["ok"]
    assert list(unusable) == ["val loss", "grad"]
    assert unusable["grad"] == "KPI 'grad': the value nan is not allowed (Input should be a finite number)"


def test_kpi_book_reported_value_wins_over_set_state() -> None:
    book = KpiBook()
    book.report(Kpi(name="accuracy", value=0.9, unit="ratio"))

    book.note_state({"accuracy": Kpi(name="accuracy", value=0.1), "loss": Kpi(name="loss", value=2.0)})

    assert book.merged() == {
        "accuracy": Kpi(name="accuracy", value=0.9, unit="ratio"),
        "loss": Kpi(name="loss", value=2.0),
    }


def test_kpi_book_later_report_replaces_earlier() -> None:
    book = KpiBook()
    book.report(Kpi(name="loss", value=2.0))

    book.report(Kpi(name="loss", value=1.0, unit="nats"))

    assert book.merged() == {"loss": Kpi(name="loss", value=1.0, unit="nats")}


def test_kpi_book_keeps_state_kpis_a_later_state_lacks() -> None:
    book = KpiBook()
    book.note_state({"loss": Kpi(name="loss", value=2.0)})

    book.note_state({"epoch": Kpi(name="epoch", value=1.0)})

    assert set(book.merged()) == {"loss", "epoch"}


def test_kpi_book_state_replaces_the_initial_kpis_of_the_record() -> None:
    book = KpiBook({"loss": Kpi(name="loss", value=2.0), "seen": Kpi(name="seen", value=1.0)})

    book.note_state({"loss": Kpi(name="loss", value=1.0)})

    assert book.merged() == {"loss": Kpi(name="loss", value=1.0), "seen": Kpi(name="seen", value=1.0)}


def test_kpi_book_refuses_a_report_beyond_the_cap() -> None:
    book = KpiBook()
    for index in range(MAX_KPIS):
        book.report(Kpi(name=f"k{index}", value=index))

    with pytest.raises(ValueError, match=f"KPI 'one_more': a job reports at most {MAX_KPIS} KPIs"):
        book.report(Kpi(name="one_more", value=1.0))


def test_kpi_book_leaves_out_state_kpis_beyond_the_cap() -> None:
    book = KpiBook()
    book.report(Kpi(name="reported", value=1.0))

    book.note_state({f"s{index}": Kpi(name=f"s{index}", value=index) for index in range(MAX_KPIS)})

    merged = book.merged()
    assert len(merged) == MAX_KPIS
    assert "reported" in merged


def test_report_kpi_reaches_the_context(memory_context: MemoryContext) -> None:
    runner = _runner(memory_context)

    runner.run({"input_dataset_ids": []}, {"kpis": [("throughput", np.float32(42), "items/s")]})

    assert memory_context.kpis == {"throughput": (42.0, "items/s")}


def test_report_kpi_raises_value_error_naming_the_kpi(memory_context: MemoryContext) -> None:
    runner = _runner(memory_context)

    with pytest.raises(ValueError, match="KPI 'loss': the value nan is not allowed"):
        runner.run({"input_dataset_ids": []}, {"kpis": [("loss", math.nan, None)]})
    assert memory_context.kpis == {}


def test_report_kpi_refuses_more_names_than_the_cap(memory_context: MemoryContext) -> None:
    runner = _runner(memory_context)
    kpis = [(f"k{index}", index, None) for index in range(MAX_KPIS + 1)]

    with pytest.raises(ValueError, match=f"KPI 'k{MAX_KPIS}': a task reports at most {MAX_KPIS} KPIs"):
        runner.run({"input_dataset_ids": []}, {"kpis": kpis})
    assert len(memory_context.kpis) == MAX_KPIS


def test_report_kpi_of_a_reported_name_is_no_new_kpi_at_the_cap(memory_context: MemoryContext) -> None:
    runner = _runner(memory_context)
    kpis = [(f"k{index}", index, None) for index in range(MAX_KPIS)] + [("k0", -1.0, None)]

    runner.run({"input_dataset_ids": []}, {"kpis": kpis})

    assert memory_context.kpis["k0"] == (-1.0, None)
