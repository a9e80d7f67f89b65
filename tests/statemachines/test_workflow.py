"""statemachines/workflow.asl.json keeps the parent's history small: every step is a child run with a
history of its own, so a round adds a fixed number of events and a step a fixed number more, and a
1,000-step workflow fits a Standard execution's 25,000 events even as a chain (one step a round).

The checks every ASL file passes (targets, substitutions, resources, error names) are in
test_execution.py, parametrized over statemachines/*.asl.json; they cover this file too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.statemachines.test_training import EXECUTION_EVENTS, HISTORY_LIMIT, _cycles, _events

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachines" / "workflow.asl.json"
STEPS = 1_000
# A Map state: MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited; each iteration:
# MapIterationStarted and MapIterationSucceeded around its states' own events.
MAP_EVENTS = 4
ITERATION_EVENTS = 2
EVENTS_PER_ROUND = 11
EVENTS_PER_STEP = 8


def _definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(ASL.read_text())
    return definition


def _round_events(states: dict[str, dict[str, Any]]) -> int:
    """The events of the costliest loop, a Map counting only its own (its items are per step)."""
    costs = [
        sum(MAP_EVENTS if states[name]["Type"] == "Map" else _events(states[name]) for name in cycle)
        for cycle in _cycles(states)
    ]
    return max(costs)


def _step_events(states: dict[str, dict[str, Any]]) -> int:
    """The events one step adds in the Map when its job's run succeeds: its iteration and states."""
    processor = states["RunSteps"]["ItemProcessor"]
    step_states = processor["States"]
    name, visited = processor["StartAt"], ITERATION_EVENTS
    while name is not None:
        visited += _events(step_states[name])
        name = step_states[name].get("Next")
    return visited


def test_workflow_round_adds_eleven_history_events() -> None:
    states = _definition()["States"]

    assert _round_events(states) == EVENTS_PER_ROUND


def test_workflow_step_adds_eight_history_events() -> None:
    states = _definition()["States"]

    assert _step_events(states) == EVENTS_PER_STEP


def test_workflow_map_runs_each_step_as_a_child_run() -> None:
    run_step = _definition()["States"]["RunSteps"]["ItemProcessor"]["States"]["RunStep"]

    assert run_step["Resource"].endswith(":states:::states:startExecution.sync:2")
    assert run_step["Parameters"]["Name.$"] == "$.step.task_id"


def test_workflow_chain_of_1000_steps_fits_the_history_limit() -> None:
    states = _definition()["States"]
    in_loop = {name for cycle in _cycles(states) for name in cycle}
    once = sum(_events(state) for name, state in states.items() if name not in in_loop)

    # The worst shape: a chain, so every step needs a round of its own.
    worst = EXECUTION_EVENTS + once + STEPS * (_round_events(states) + _step_events(states))

    assert worst < HISTORY_LIMIT
