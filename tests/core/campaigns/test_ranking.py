"""best: the best observation of one objective, the Pareto front of several (directions honoured)."""

from __future__ import annotations

from typing import Any

from stratus.campaigns import Observation, OptimizerSpec, best


def spec(*objectives: dict[str, Any]) -> OptimizerSpec:
    return OptimizerSpec.model_validate(
        {
            "kind": "random",
            "search_space": {"x": {"low": 0, "high": 1}},
            "objectives": objectives,
            "budget": 9,
        }
    )


def done(*values: float, warm_start: bool = False) -> Observation:
    return Observation(parameters={"x": 0.5}, values=list(values), status="COMPLETED", warm_start=warm_start)


def test_best_of_one_objective_takes_the_first_of_tied_bests() -> None:
    observations = [done(3.0), done(1.0), Observation(parameters={"x": 0.1}, status="FAILED"), done(1.0)]

    assert best(spec({"name": "loss"}), observations) == [1]


def test_best_of_a_maximize_objective_takes_the_largest() -> None:
    observations = [done(3.0), done(7.0), done(5.0)]

    assert best(spec({"name": "score", "direction": "maximize"}), observations) == [1]


def test_best_ignores_warm_start_and_unfinished_observations() -> None:
    observations = [
        done(-100.0, warm_start=True),
        Observation(parameters={"x": 0.2}, status="RUNNING"),
        done(2.0),
    ]

    assert best(spec({"name": "loss"}), observations) == [2]


def test_best_is_empty_before_any_result() -> None:
    assert best(spec({"name": "loss"}), [Observation(parameters={"x": 0.2}, status="PENDING")]) == []


def test_best_of_two_objectives_is_the_pareto_front_with_directions() -> None:
    # minimise cost, maximise quality: (1, 1) (2, 3) (3, 4) are the front, (2, 2) and (4, 4) dominated.
    observations = [done(2.0, 2.0), done(3.0, 4.0), done(1.0, 1.0), done(4.0, 4.0), done(2.0, 3.0)]
    objectives = ({"name": "cost"}, {"name": "quality", "direction": "maximize"})

    assert best(spec(*objectives), observations) == [1, 2, 4]


def test_best_of_three_objectives_keeps_equal_points_on_the_front() -> None:
    observations = [done(1.0, 2.0, 3.0), done(1.0, 2.0, 3.0), done(2.0, 2.0, 3.0), done(3.0, 1.0, 9.0)]

    assert best(spec({"name": "a"}, {"name": "b"}, {"name": "c"}), observations) == [0, 1, 3]
