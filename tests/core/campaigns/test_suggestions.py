"""suggest for grids and tables: every point once over rounds, rows in order, budgets, retries."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from stratus.campaigns import Observation, OptimizerSpec, planned_trials, suggest
from stratus.errors import InvalidInputError

GRID = {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "y"]}, "c": {"values": [True, False]}}


def spec(kind: str, budget: int = 100, **fields: Any) -> OptimizerSpec:
    return OptimizerSpec.model_validate(
        {"kind": kind, "objectives": [{"name": "loss"}], "budget": budget, "seed": 3, **fields}
    )


def run_rounds(optimizer: OptimizerSpec, batch: int, fail_every: int = 0) -> list[dict[str, Any]]:
    """Ask batch after batch, as the campaign's state machine does, until nothing is left."""
    observations: list[Observation] = []
    while batch_params := suggest(optimizer, observations, batch):
        for params in batch_params:
            failed = fail_every and len(observations) % fail_every == 0
            observations.append(
                Observation(parameters=params, status="FAILED")
                if failed
                else Observation(parameters=params, values=[1.0], status="COMPLETED")
            )
    return [observation.parameters for observation in observations]


def test_suggest_grid_covers_the_whole_grid_exactly_once_over_rounds() -> None:
    grid = spec("grid", search_space=GRID)

    tried = run_rounds(grid, batch=5, fail_every=3)

    expected = [
        dict(zip("abc", point, strict=True))
        for point in itertools.product(*(GRID[k]["values"] for k in "abc"))
    ]
    assert tried == expected


def test_suggest_grid_stops_at_the_budget() -> None:
    grid = spec("grid", budget=4, search_space=GRID)

    assert len(run_rounds(grid, batch=3)) == planned_trials(grid) == 4


def test_suggest_grid_skips_points_tried_whatever_their_order_and_extra_parameters() -> None:
    grid = spec("grid", search_space={"a": {"values": [1, 2, 3]}})
    # A stored trial may come back with the algorithm's defaults beside it, and a float for an int.
    tried = [
        Observation(parameters={"a": 3.0, "other": "default"}, status="RUNNING"),
        Observation(parameters={"a": 1}, status="PENDING"),
    ]

    assert suggest(grid, tried, 5) == [{"a": 2}]


def test_suggest_grid_ignores_warm_start_observations() -> None:
    grid = spec("grid", search_space={"a": {"values": [1, 2]}})
    warm = [Observation(parameters={"a": 1}, values=[0.5], status="COMPLETED", warm_start=True)]

    assert suggest(grid, warm, 5) == [{"a": 1}, {"a": 2}]


def test_suggest_table_runs_rows_in_order_repeats_included() -> None:
    rows = [{"n": 3}, {"n": 1, "mode": "fast"}, {"n": 3}, {}]
    table = spec("table", rows=rows)

    assert run_rounds(table, batch=3) == rows


def test_suggest_table_asks_nothing_once_the_budget_is_spent() -> None:
    table = spec("table", budget=1, rows=[{"n": 1}, {"n": 2}])
    done = [Observation(parameters={"n": 1}, values=[1.0], status="COMPLETED")]

    assert suggest(table, done, 4) == []


def test_suggest_refuses_a_spec_that_does_not_fit_its_kind() -> None:
    with pytest.raises(InvalidInputError, match="a grid campaign takes"):
        suggest(spec("grid", search_space={"a": {"low": 0, "high": 1}}), [], 1)
