"""The `branin` built-in in this process: the Branin-Hoo value as KPI and output, its parameter schema,
and a delay that a stop ends."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from stratus.algorithms import load_runner, parse_pyproject, unload_runner, validate_parameters
from stratus.algorithms.runtime import StopRequested
from stratus.errors import InvalidInputError

from gpu_worker.builtins import BUILTINS
from tests.core.algorithms.conftest import MemoryContext

PACKAGE = BUILTINS / "branin"
MINIMUM = 0.397887


def _run(context: MemoryContext, **parameters: Any) -> list[str]:
    context.add_file(anything=np.arange(3))
    values = validate_parameters(_schema(), parameters)
    runner = load_runner(PACKAGE, context, "cpu")
    try:
        return runner.run({"input_dataset_ids": list(context.files)}, values)
    finally:
        unload_runner(runner)


def _schema() -> Any:
    return parse_pyproject((PACKAGE / "pyproject.toml").read_bytes()).tool.compox.additional_parameters


@pytest.mark.parametrize(("x", "y"), [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)])
def test_branin_reports_the_minimum_at_each_global_minimiser(x: float, y: float, tmp_path: Path) -> None:
    context = MemoryContext(scratch=tmp_path)

    _run(context, x=x, y=y)

    value, unit = context.kpis["branin"]
    assert value == pytest.approx(MINIMUM, abs=1e-5)
    assert unit is None


def test_branin_defaults_to_the_origin(tmp_path: Path) -> None:
    context = MemoryContext(scratch=tmp_path)

    (output_id,) = _run(context)

    # a(y - b x² + c x - r)² + s(1 - t)cos(x) + s at (0, 0): 36 + 10(1 - 1/(8π)) + 10.
    expected = 36 + 10 * (1 - 1 / (8 * math.pi)) + 10
    assert context.kpis["branin"][0] == pytest.approx(expected)
    assert context.read_output(output_id, "data").tolist() == [context.kpis["branin"][0]]


@pytest.mark.parametrize(
    "parameters", [{"x": -5.5}, {"x": 10.5}, {"y": -1.0}, {"y": 15.5}, {"delay_s": 61.0}, {"x": "1"}]
)
def test_branin_schema_refuses_values_outside_the_domain(parameters: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        validate_parameters(_schema(), parameters)


def test_branin_delay_ends_at_a_stop_request(tmp_path: Path) -> None:
    context = MemoryContext(scratch=tmp_path, stop_requested=True)

    with pytest.raises(StopRequested):
        _run(context, delay_s=60.0)

    assert context.kpis == {}
    assert context.outputs == []
