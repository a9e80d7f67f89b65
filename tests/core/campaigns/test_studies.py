"""suggest for random and Bayesian kinds: optuna studies rebuilt from observations, on Branin and more."""

from __future__ import annotations

import math
from typing import Any

import pytest
from stratus.campaigns import Observation, OptimizerSpec, best, check_spec, suggest

from tests.core.campaigns.benchmarks import BRANIN_OPTIMUM, branin

BRANIN_SPACE = {"x": {"low": -5, "high": 10}, "y": {"low": 0, "high": 15}}


def spec(kind: str, seed: int = 1, budget: int = 40, **fields: Any) -> OptimizerSpec:
    defaults = {"search_space": BRANIN_SPACE, "objectives": [{"name": "branin"}]}
    return OptimizerSpec.model_validate({"kind": kind, "budget": budget, "seed": seed, **defaults, **fields})


def done(parameters: dict[str, Any], *values: float) -> Observation:
    return Observation(parameters=parameters, values=list(values), status="COMPLETED")


def branin_loop(optimizer: OptimizerSpec, batch: int = 4) -> float:
    """The best Branin value of a campaign asked in batches of ``batch``, as its state machine does."""
    observations: list[Observation] = []
    while batch_params := suggest(optimizer, observations, batch):
        observations += [done(p, branin(p["x"], p["y"])) for p in batch_params]
    assert len(observations) == optimizer.budget
    return min(o.values[0] for o in observations if o.values)


def test_suggest_gp_gets_within_two_percent_of_branin_optimum_and_beats_random() -> None:
    # One seed here (the GP is the slow one); bench/campaigns.py runs more through the local stack.
    found = branin_loop(spec("bayesian", seed=1, optimizer="gp"))

    assert found <= BRANIN_OPTIMUM * 1.02
    assert found < branin_loop(spec("random", seed=1))


def test_suggest_tpe_beats_random_on_branin_over_seeds() -> None:
    seeds = [0, 1, 2]

    tpe = [branin_loop(spec("bayesian", seed, optimizer="tpe")) for seed in seeds]
    random = [branin_loop(spec("random", seed)) for seed in seeds]

    assert sum(tpe) < sum(random)


@pytest.mark.parametrize(("kind", "optimizer"), [("random", "gp"), ("bayesian", "tpe"), ("bayesian", "gp")])
def test_suggest_is_deterministic_for_the_same_inputs(kind: str, optimizer: str) -> None:
    optimizer_spec = spec(kind, **({"optimizer": optimizer} if kind == "bayesian" else {}))
    history = [done({"x": x, "y": 2.0 * x + 5}, branin(x, 2.0 * x + 5)) for x in range(-4, 8)]

    first = suggest(optimizer_spec, history, 4)

    assert suggest(optimizer_spec, history, 4) == first
    assert suggest(optimizer_spec, history[:-1], 4) != first  # another round, another seed


@pytest.mark.parametrize("optimizer", ["tpe", "gp"])
def test_suggest_batch_has_no_duplicates_and_avoids_running_trials(optimizer: str) -> None:
    optimizer_spec = spec("bayesian", optimizer=optimizer)
    history = [done({"x": x, "y": 3.0}, branin(x, 3.0)) for x in range(-4, 8)]
    running = suggest(optimizer_spec, history, 2)
    history += [Observation(parameters=p, status="RUNNING") for p in running]

    batch = suggest(optimizer_spec, history, 6)

    keys = {(p["x"], p["y"]) for p in batch + running}
    assert len(keys) == 8


def test_suggest_batch_is_distinct_in_a_small_discrete_space() -> None:
    small = {"a": {"choices": ["p", "q"]}, "b": {"choices": [1, 2]}}
    optimizer_spec = spec("bayesian", search_space=small, optimizer="tpe")

    batch = suggest(optimizer_spec, [], 4)

    assert sorted((p["a"], p["b"]) for p in batch) == [("p", 1), ("p", 2), ("q", 1), ("q", 2)]


@pytest.mark.parametrize("optimizer", ["tpe", "gp"])
def test_suggest_warm_start_changes_the_suggestions(optimizer: str) -> None:
    optimizer_spec = spec("bayesian", optimizer=optimizer)
    warm = [
        Observation(
            parameters={"x": x, "y": 2.0}, values=[branin(x, 2.0)], status="COMPLETED", warm_start=True
        )
        for x in range(-4, 10)
    ]

    cold = suggest(optimizer_spec, [], 4)

    assert suggest(optimizer_spec, warm, 4) != cold
    assert len(suggest(spec("bayesian", budget=4, optimizer=optimizer), warm, 8)) == 4  # not the budget's


@pytest.mark.parametrize("optimizer", ["tpe", "gp"])
def test_suggest_rebuilds_from_mixed_observations(optimizer: str) -> None:
    optimizer_spec = spec("bayesian", optimizer=optimizer)
    history = [done({"x": x, "y": 1.0}, branin(x, 1.0)) for x in range(-4, 9)]
    history += [
        Observation(parameters={"x": 0.5, "y": 0.5}, status="FAILED"),
        Observation(parameters={"x": 1.5, "y": 1.5}, status="PENDING"),
        # An earlier campaign's wider range, and a row without y: not this study's data, no crash.
        Observation(parameters={"x": 50.0, "y": 1.0}, values=[1.0], status="COMPLETED", warm_start=True),
        Observation(parameters={"x": 2.0}, values=[1.0], status="COMPLETED", warm_start=True),
        Observation(parameters={"x": 3.0, "y": 4.0}, values=[math.nan], status="COMPLETED", warm_start=True),
    ]

    batch = suggest(optimizer_spec, history, 3)

    assert len(batch) == 3
    assert all(-5 <= p["x"] <= 10 and 0 <= p["y"] <= 15 for p in batch)


def test_suggest_random_honours_integer_step_log_and_choice_parameters() -> None:
    space = {
        "n": {"low": 2, "high": 64, "log": True},
        "k": {"low": 0, "high": 10, "step": 2},
        "rate": {"low": 0.0, "high": 1.0, "step": 0.25},
        "mode": {"choices": ["fast", "slow", True]},
    }
    integer, number = {"type": "integer"}, {"type": "number"}
    schema = {"properties": {"n": integer, "k": integer, "rate": number, "mode": {}}}
    checked = check_spec(spec("random", budget=50, search_space=space), schema)
    optimizer_spec = OptimizerSpec.model_validate_json(checked.model_dump_json())  # as stored and read

    batch = suggest(optimizer_spec, [], 50)

    assert all(isinstance(p["n"], int) and 2 <= p["n"] <= 64 for p in batch)
    assert {p["k"] for p in batch} <= {0, 2, 4, 6, 8, 10}
    assert {p["rate"] for p in batch} <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert {p["mode"] for p in batch} == {"fast", "slow", True}


def test_suggest_maximises_a_maximize_objective() -> None:
    # The direction is the study's, whatever its sampler: one sampler shows it is passed on.
    optimizer_spec = spec(
        "bayesian",
        budget=16,
        search_space={"x": {"low": -5, "high": 5}},
        objectives=[{"name": "score", "direction": "maximize"}],
        optimizer="tpe",
        optimizer_options={"n_startup_trials": 6},
    )
    observations: list[Observation] = []
    while batch := suggest(optimizer_spec, observations, 4):
        observations += [done(p, -((p["x"] - 1) ** 2)) for p in batch]

    (winner,) = best(optimizer_spec, observations)

    assert abs(observations[winner].parameters["x"] - 1) < 0.5


@pytest.mark.parametrize("optimizer", ["tpe", "gp"])
def test_suggest_two_objectives_finds_a_pareto_front(optimizer: str) -> None:
    optimizer_spec = spec(
        "bayesian",
        budget=16,
        search_space={"x": {"low": -3, "high": 5}},
        objectives=[{"name": "f1"}, {"name": "f2"}],
        optimizer=optimizer,
        optimizer_options={"n_startup_trials": 8},
    )
    observations: list[Observation] = []
    while batch := suggest(optimizer_spec, observations, 4):
        observations += [done(p, p["x"] ** 2, (p["x"] - 2) ** 2) for p in batch]

    front = [observations[i].parameters["x"] for i in best(optimizer_spec, observations)]

    # The true front is x ∈ [0, 2]; the optimizer spends its model-based trials there.
    assert len(front) >= 5
    assert all(-0.5 <= x <= 2.5 for x in front)
