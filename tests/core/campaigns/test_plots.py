"""render_plot: a PNG of the right size for one, two and three objectives; None before any result."""

from __future__ import annotations

import io
from typing import Any

import pytest
from matplotlib.image import imread
from stratus.campaigns import Observation, OptimizerSpec, render_plot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def spec(count: int) -> OptimizerSpec:
    objectives: list[dict[str, Any]] = [{"name": f"f{i}", "direction": "minimize"} for i in range(count)]
    objectives[-1]["direction"] = "maximize"
    return OptimizerSpec.model_validate(
        {
            "kind": "random",
            "search_space": {"x": {"low": 0, "high": 1}},
            "objectives": objectives,
            "budget": 20,
        }
    )


def trials(count: int) -> list[Observation]:
    observations = [
        Observation(
            parameters={"x": i / 10}, values=[(i - 4) ** 2 + j for j in range(count)], status="COMPLETED"
        )
        for i in range(10)
    ]
    return [*observations, Observation(parameters={"x": 0.0}, status="FAILED")]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_render_plot_draws_an_800_by_500_png(count: int) -> None:
    png = render_plot(spec(count), trials(count))

    assert png is not None and png.startswith(PNG_MAGIC)
    assert imread(io.BytesIO(png), format="png").shape[:2] == (500, 800)


def test_render_plot_is_none_before_any_result() -> None:
    pending = [
        Observation(parameters={"x": 0.5}, status="RUNNING"),
        Observation(parameters={"x": 1}, status="FAILED"),
    ]

    assert render_plot(spec(1), pending) is None


def test_render_plot_leaves_out_warm_start_observations() -> None:
    warm = [Observation(parameters={"x": 0.5}, values=[1.0], status="COMPLETED", warm_start=True)]

    assert render_plot(spec(1), warm) is None
