"""statemachines/training.asl.json keeps a chain's history small: each round's loop adds a fixed, small
number of history events, so a chain of 1,000 rounds fits a Standard execution's 25,000-event limit.

The checks every ASL file passes (targets, substitutions, resources, error names) are in
test_execution.py, parametrized over statemachines/*.asl.json; they cover this file too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachines" / "training.asl.json"
# A Standard execution's history limit (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
HISTORY_LIMIT = 25_000
ROUNDS = 1_000
EVENTS_PER_ROUND = 15
TRANSITIONS_PER_ROUND = 4
# ExecutionStarted and the run's end (ExecutionSucceeded or ExecutionFailed).
EXECUTION_EVENTS = 2


def _definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(ASL.read_text())
    return definition


def _events(state: dict[str, Any]) -> int:
    """The history events one successful visit of ``state`` adds, as Step Functions emits them."""
    if state["Type"] == "Task":
        # …StateEntered, Scheduled, Started, (Submitted for a .sync job), Succeeded, …StateExited.
        return 6 if state["Resource"].endswith((".sync", ".sync:2")) else 5
    if state["Type"] in {"Choice", "Pass", "Wait", "Succeed", "Fail"}:
        return 2  # …StateEntered, …StateExited
    raise AssertionError(f"no event count for a {state['Type']} state")  # Map, Parallel: nested histories


def _successors(state: dict[str, Any]) -> list[str]:
    """The states ``state`` goes to when it succeeds (a Catch leaves the loop for good)."""
    choices = [choice["Next"] for choice in state.get("Choices", [])]
    targets = [state.get("Next"), state.get("Default"), *choices]
    return [target for target in targets if target is not None]


def _cycles(states: dict[str, dict[str, Any]]) -> Iterator[list[str]]:
    """Every simple cycle of the success transitions, each once, from its first state in definition order."""
    order = {name: index for index, name in enumerate(states)}
    for start in states:
        paths = [[start]]
        while paths:
            path = paths.pop()
            for target in _successors(states[path[-1]]):
                if target == start:
                    yield path
                elif target not in path and order[target] > order[start]:
                    paths.append([*path, target])


def _round(definition: dict[str, Any]) -> list[str]:
    """The states of the costliest loop: what one round of the chain visits."""
    states = definition["States"]
    return max(_cycles(states), key=lambda cycle: sum(_events(states[name]) for name in cycle))


def test_training_round_visits_choose_run_select_next() -> None:
    definition = _definition()

    states = _round(definition)

    assert sorted(states) in (
        sorted(["ChooseQueue", "RunRoundOnGpu", "SelectBest", "NextRound"]),
        sorted(["ChooseQueue", "RunRoundOnCpu", "SelectBest", "NextRound"]),
    )
    assert len(states) == TRANSITIONS_PER_ROUND


def test_training_round_adds_fifteen_history_events() -> None:
    definition = _definition()

    events = sum(_events(definition["States"][name]) for name in _round(definition))

    assert events == EVENTS_PER_ROUND


def test_training_chain_of_1000_rounds_fits_the_history_limit() -> None:
    definition = _definition()
    states = definition["States"]
    in_loop = {name for cycle in _cycles(states) for name in cycle}

    # Outside the loop each state runs at most once: an upper bound for the rest of the run.
    once = sum(_events(state) for name, state in states.items() if name not in in_loop)
    per_round = sum(_events(states[name]) for name in _round(definition))

    assert EXECUTION_EVENTS + once + ROUNDS * per_round < HISTORY_LIMIT
